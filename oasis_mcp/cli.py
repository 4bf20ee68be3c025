"""Command line: ``oasis-mcp serve`` (the default) and ``oasis-mcp data info|update``.

Heavy modules are imported inside the commands that need them, so that ``oasis-mcp serve`` starts
fast for desktop clients. Logs go to stderr; on stdio, stdout carries protocol messages only.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import textwrap
import time
from collections.abc import Sequence

from oasis_mcp import __version__
from oasis_mcp.errors import OasisError

# The environment variables each command reads (their names live in the modules that read them;
# repeated here as text so that --help imports nothing heavy; tests/test_readme.py checks this
# table and the README's against the source). Name -> what it does.
ENV_DATA = {
    "OASIS_DATA_DIR": "directory of the SSMSI CSV files to read (default: the user cache)",
    "OASIS_CACHE_DIR": "user cache, where `data update` installs the files "
                       "(default ~/.cache/oasis-mcp; data in its data/ folder)",
}
ENV_SERVE = {
    "OASIS_ARTIFACTS_DIR": "training artifacts to serve (default: those shipped in the package, "
                           "or the checkout's artifacts/)",
    "OASIS_REFRESH_EVERY": "HTTP only: run `data update` this often (e.g. 24h) and switch to the "
                           "new edition without a restart (default off; --refresh-every)",
}
ENV_HTTP = {
    "OASIS_MCP_TOKEN": "HTTP only: require `Authorization: Bearer <token>` on /mcp",
    "OASIS_MCP_ALLOWED_HOSTS": "HTTP only: extra Host header values accepted (comma-separated)",
    "OASIS_MCP_ALLOWED_ORIGINS": "HTTP only: extra Origin values accepted (comma-separated)",
    "OASIS_MCP_STATELESS": "HTTP only: 1 serves every request without a session (--stateless)",
    "OASIS_MCP_MAX_SESSIONS": "HTTP only: open sessions per process (default 1000)",
    "OASIS_MCP_MAX_SESSIONS_PER_CLIENT": "HTTP only: open sessions per client address "
                                         "(default 32)",
    "OASIS_MCP_SESSION_IDLE_TIMEOUT": "HTTP only: seconds after which an idle session is closed "
                                      "(default 600)",
    "OASIS_MCP_RATE_LIMIT": "HTTP only: requests per second per client address, beyond which "
                            "429 (default 50, 0 = off)",
    "OASIS_MCP_RATE_BURST": "HTTP only: requests a client may send at once above the rate "
                            "(default 100)",
    "OASIS_MCP_TRUSTED_PROXIES": "HTTP only: comma-separated proxies whose X-Forwarded-For gives "
                                 "the client address (default 127.0.0.1)",
}
ENV_UPDATE = {
    "OASIS_DATAGOUV_API": "data.gouv.fr API URL of the dataset (tests, mirrors)",
    "OASIS_DATAGOUV_FALLBACK_URLS": "URLs of the files to use when the API fails "
                                    "(separated by spaces or commas; default: the 2025 edition)",
    "OASIS_COMMUNE_REFERENTIAL_URL": "a mirror of the commune referential's npm tarball "
                                     "(default: @etalab/decoupage-administratif 6.0.0 on "
                                     "registry.npmjs.org)",
    "OASIS_UPDATE_ALLOW_HOSTS": "more hosts to download from (mirrors; space- or comma-separated; "
                                "--allow-host)",
    "OASIS_UPDATE_DEADLINE": "the whole update must end within this time, e.g. 90s, 5m "
                             "(default 5m; --deadline)",
    "OASIS_UPDATE_MIN_RATE": "fail a download slower than this over 30 s, e.g. 10k, 1M bytes/s, "
                             "0 to disable (default 10k; --min-rate)",
}
ENVIRONMENT = {**ENV_DATA, **ENV_SERVE, **ENV_HTTP, **ENV_UPDATE}
"""Every environment variable of ``oasis-mcp``, with what it does."""


def env_epilog(variables: dict[str, str], extra: str = "") -> str:
    """An epilog listing environment variables (wrapped at 79 columns), for ``--help``."""
    width = max(len(name) for name in variables) + 4
    lines = ["environment variables:"]
    for name, text in variables.items():
        lines += textwrap.wrap(text, 79, initial_indent=f"  {name}".ljust(width),
                               subsequent_indent=" " * width, break_on_hyphens=False)
    return "\n".join(lines) + (f"\n\n{extra}" if extra else "")


class HelpFormatter(argparse.HelpFormatter):
    """Wraps one-paragraph texts (descriptions) as usual; prints texts that hold line breaks
    (epilogs: variables, examples, exit codes) as written."""

    def _fill_text(self, text: str, width: int, indent: str) -> str:
        if "\n" in text.strip():
            return "".join(indent + line for line in text.splitlines(keepends=True))
        return super()._fill_text(text, width, indent)


SERVE_EPILOG = env_epilog(
    {**ENV_DATA, **ENV_SERVE, **ENV_HTTP},
    "examples:\n"
    "  oasis-mcp serve                                   # stdio, for desktop clients\n"
    "  oasis-mcp serve --transport http --port 8000      # http://127.0.0.1:8000/mcp\n"
    "  OASIS_DATA_DIR=/path/to/csv oasis-mcp serve       # files already on disk",
)


def _describe_update(update: argparse.ArgumentParser) -> None:
    """Description and environment variables of ``data update`` (after any epilog it has)."""
    update.description = update.description or (
        "Ask the data.gouv.fr API for the newest edition, download its departmental and regional "
        "files, validate them, and only then install them (the previous files stay in place when "
        "anything fails)."
    )
    variables = env_epilog({**ENV_DATA, **ENV_UPDATE})
    update.epilog = f"{update.epilog.rstrip()}\n\n{variables}" if update.epilog else variables
    update.formatter_class = HelpFormatter


_UPDATE_EPILOG = """\
Exit codes: 0 installed or already up to date; 65 the source offers an invalid, incomplete or
implausible edition (--force installs it anyway); 69 the source is unreachable or answers an
HTTP error; 73 the data directory cannot be written (the message names the path and the fix);
75 too slow, past the deadline, or another update holds the lock (try again later); 77 a URL or
redirect outside the allowed hosts; 130 interrupted (Ctrl-C). In every failure the last good
edition is kept and served.

Installed files get the mode the umask gives (0644 under umask 022), so that one account can
update a shared directory and another serve it.
"""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="oasis-mcp",
        description="MCP server for French recorded-crime statistics (SSMSI, data.gouv.fr): "
        "history, forecasts to 2030 with intervals, comparisons. Without a command, runs "
        "`serve` (MCP over stdio, what desktop clients expect).",
        epilog=env_epilog(ENVIRONMENT, "`oasis-mcp COMMAND --help` describes each command."),
        formatter_class=HelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logs on stderr")
    sub = parser.add_subparsers(dest="command", title="commands", metavar="COMMAND")

    serve = sub.add_parser(
        "serve", help="run the MCP server (stdio by default)", epilog=SERVE_EPILOG,
        description="Run the MCP server: over stdio (the default; stdout carries MCP messages "
        "only, logs go to stderr), or over streamable HTTP at http://HOST:PORT/mcp with "
        "GET /health.", formatter_class=HelpFormatter,
    )
    serve.add_argument("--transport", choices=["stdio", "http"], default="stdio",
                       help="stdio (default) or streamable HTTP")
    serve.add_argument("--host", default="127.0.0.1", help="HTTP bind address (default 127.0.0.1)")
    serve.add_argument("--port", type=int, default=8000, help="HTTP port (default 8000)")
    serve.add_argument(
        "--allowed-host", action="append", default=None, metavar="HOST",
        help="extra Host header value accepted over HTTP (repeatable; DNS-rebinding protection)",
    )
    serve.add_argument(
        "--allowed-origin", action="append", default=None, metavar="ORIGIN",
        help="extra Origin accepted over HTTP (repeatable)",
    )
    serve.add_argument("--data-dir", default=None, help="directory of SSMSI CSV files")
    serve.add_argument(
        "--refresh-every", default=None, metavar="DURATION",
        help="HTTP only: run `data update` this often (e.g. 24h, 30m, 1d) and switch to the new "
        "edition without a restart; the last good edition stays when an update fails "
        "(env OASIS_REFRESH_EVERY; default off). A newly installed edition is picked up "
        "without it too: see docs/data-updates.md",
    )
    _add_http_limit_flags(serve)

    data = sub.add_parser(
        "data", help="inspect or update the SSMSI data files",
        description="Inspect (`info`) or download and install (`update`) the SSMSI data files.",
        epilog=env_epilog(ENV_DATA), formatter_class=HelpFormatter,
    )
    data_sub = data.add_subparsers(dest="data_command", title="subcommands", metavar="SUBCOMMAND")
    info = data_sub.add_parser(
        "info", help="edition, files, areas, indicators and years", epilog=env_epilog(ENV_DATA),
        description="Show the data edition in use (the newest by default), its files with their "
        "sha256, and per level the number of areas, indicators and years.",
        formatter_class=HelpFormatter,
    )
    info.add_argument("--json", action="store_true", help="machine-readable output")
    info.add_argument("--data-dir", default=None, help="directory of SSMSI CSV files")
    info.add_argument("--edition", default=None, help="an edition id or data year (default newest)")
    update = data_sub.add_parser(
        "update", help="download the newest edition from data.gouv.fr, validate it, install it",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=_UPDATE_EPILOG,
    )
    update.add_argument("--data-dir", default=None, help="where to install (default: the cache)")
    update.add_argument("--api-url", default=None, help="data.gouv.fr API dataset URL (tests)")
    update.add_argument("--timeout", type=float, default=60.0,
                        help="HTTP connect and per-read timeout in seconds (default 60)")
    update.add_argument(
        "--deadline", default=None, metavar="DURATION",
        help="the whole update must end within this time, e.g. 90s, 5m (default 5m; "
             "$OASIS_UPDATE_DEADLINE)")
    update.add_argument(
        "--min-rate", default=None, metavar="RATE",
        help="fail a download slower than this over 30 s, e.g. 10k, 1M bytes/s, 0 to disable "
             "(default 10k; $OASIS_UPDATE_MIN_RATE)")
    update.add_argument(
        "--allow-host", action="append", default=None, metavar="HOST[:PORT]",
        help="also download from this host (a mirror; plain HTTP allowed), repeatable "
             "($OASIS_UPDATE_ALLOW_HOSTS); by default only data.gouv.fr's hosts, over HTTPS")
    update.add_argument(
        "--force", action="store_true",
        help="install an edition that fails the completeness/plausibility checks (after "
             "printing what failed)")
    update.add_argument(
        "--keep", type=int, default=1, metavar="N",
        help="older editions to keep beside the new one (default 1; 0 removes them)")
    update.add_argument(
        "--no-communes", action="store_true",
        help="install the departmental and regional files only: not the communal file (about "
        "40 MB) nor the commune referential (cog/communes.json, from the npm registry)")
    update.add_argument("--json", action="store_true", help="machine-readable output")
    _describe_update(update)
    return parser


def _add_http_limit_flags(serve: argparse.ArgumentParser) -> None:
    """HTTP scale-out and fair-use settings (each also read from an environment variable)."""
    group = serve.add_argument_group(
        "HTTP sessions and limits (see docs/deploy.md)"
    )
    group.add_argument(
        "--stateless", action="store_const", const=True, default=None,
        help="serve every request without a session, so that any replica behind a "
        "round-robin proxy can answer it (env OASIS_MCP_STATELESS=1)",
    )
    group.add_argument(
        "--max-sessions", type=int, default=None, metavar="N",
        help="open sessions per process; beyond, new sessions get 503 (default 1000, env "
        "OASIS_MCP_MAX_SESSIONS)",
    )
    group.add_argument(
        "--max-sessions-per-client", type=int, default=None, metavar="N",
        help="open sessions per client address; its oldest idle one is closed to make room "
        "(default 32, env OASIS_MCP_MAX_SESSIONS_PER_CLIENT)",
    )
    group.add_argument(
        "--session-idle-timeout", type=float, default=None, metavar="SECONDS",
        help="close a session idle this long (default 600, env OASIS_MCP_SESSION_IDLE_TIMEOUT)",
    )
    group.add_argument(
        "--rate-limit", type=float, default=None, metavar="PER_SECOND",
        help="requests per second per client address, beyond which 429 (default 50, 0 = off, "
        "env OASIS_MCP_RATE_LIMIT)",
    )
    group.add_argument(
        "--rate-burst", type=int, default=None, metavar="N",
        help="requests a client may send at once above the rate (default 100, env "
        "OASIS_MCP_RATE_BURST)",
    )
    group.add_argument(
        "--trusted-proxy", default=None, metavar="ADDRESSES",
        help="comma-separated proxy addresses whose X-Forwarded-For gives the client address "
        "(default 127.0.0.1, env OASIS_MCP_TRUSTED_PROXIES; '*' trusts any)",
    )


def main(argv: Sequence[str] | None = None) -> int:
    started = time.monotonic()  # `data update --deadline` counts from here, imports included
    args = build_parser().parse_args(argv)
    args.started = started
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        stream=sys.stderr,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    try:
        if args.command == "data":
            if args.data_command is None:  # `oasis-mcp data` alone: say what it can do
                _subparser(build_parser(), "data").print_help()
                return 2
            if args.data_command == "info":
                return _data_info(args)
            return _data_update(args)
        return _serve(args)
    except OasisError as exc:
        print(f"oasis-mcp: {exc}", file=sys.stderr)
        return int(getattr(exc, "exit_code", 1))
    except KeyboardInterrupt:
        if args.command == "data" and args.data_command == "update":
            print("oasis-mcp: interrupted; the update was abandoned, its temp files removed, "
                  "and the last good edition is kept.", file=sys.stderr)
        else:
            print("oasis-mcp: interrupted.", file=sys.stderr)
        return 130
    except BrokenPipeError:  # e.g. `oasis-mcp data info | head`
        sys.stderr.close()
        return 0


def _subparser(parser: argparse.ArgumentParser, name: str) -> argparse.ArgumentParser:
    """The sub-parser of command ``name``."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return action.choices[name]  # type: ignore[no-any-return]
    raise KeyError(name)


def _serve(args: argparse.Namespace) -> int:
    from oasis_mcp.serve import run

    return run(
        transport=getattr(args, "transport", "stdio"),
        host=getattr(args, "host", "127.0.0.1"),
        port=getattr(args, "port", 8000),
        allowed_hosts=getattr(args, "allowed_host", None),
        allowed_origins=getattr(args, "allowed_origin", None),
        data_dir=getattr(args, "data_dir", None),
        refresh_every=getattr(args, "refresh_every", None),
        stateless=getattr(args, "stateless", None),
        max_sessions=getattr(args, "max_sessions", None),
        max_sessions_per_client=getattr(args, "max_sessions_per_client", None),
        session_idle_timeout=getattr(args, "session_idle_timeout", None),
        rate_limit=getattr(args, "rate_limit", None),
        rate_burst=getattr(args, "rate_burst", None),
        trusted_proxies=getattr(args, "trusted_proxy", None),
    )


def _data_info(args: argparse.Namespace) -> int:
    from oasis_mcp.data.communes import add_commune_level
    from oasis_mcp.data.dataset import available_editions, load_dataset
    from oasis_mcp.data.update_state import update_status

    status = update_status(args.data_dir)
    if status:
        print(f"oasis-mcp: {status}", file=sys.stderr)
    dataset = load_dataset(args.data_dir, edition=args.edition)
    info = add_commune_level(dataset.info(), args.data_dir, dataset.last_year)
    editions = available_editions(args.data_dir)
    info["editions"] = [{"edition": ed.id, "label": ed.label,
                         "regions": "official" if ed.region_file else "aggregated"}
                        for ed in editions]
    info["update_status"] = status
    if args.json:
        print(json.dumps(info, ensure_ascii=False, indent=2))
        return 0
    print(f"Edition   {info['edition']}  ({dataset.edition.label})")
    for ed in editions:
        mark = "shown" if ed.id == dataset.edition.id else "also installed (--edition " \
            f"{ed.id})"
        print(f"Available {ed.id}  [{mark}]")
    regions = ("official regional file" if info["regions"] == "official"
               else "aggregated from departments (derived)")
    print(f"Regions   {regions}")
    for f in dataset.edition.files:
        print(f"File      {f.name}  sha256 {f.sha256[:16]}…  ({f.path})")
    levels: dict[str, dict[str, int]] = info["levels"]  # type: ignore[assignment]
    for level, summary in levels.items():
        print(
            f"{level:<10}{summary['areas']:>4} areas, {summary['indicators']} indicators, "
            f"{summary['first_year']}–{summary['last_year']}"
        )
    commune: dict[str, object] = info.get("commune") or {}  # type: ignore[assignment]
    if not commune.get("available"):
        print(f"commune   not available: {commune.get('error') or commune.get('how_to_get')}")
    else:
        print(f"commune   file {commune['file']} (geography {commune['geography_year']}): "
              f"{commune['cells_withheld']} cells withheld by the SSMSI (small counts), "
              f"{commune['arrondissements']} municipal arrondissements beside their communes")
    print("Indicators:")
    for ind in dataset.indicator_info:
        print(f"  {ind.slug:<32}{ind.label_fr} ({ind.unit})")
    return 0


def _data_update(args: argparse.Namespace) -> int:
    from oasis_mcp.data.download import update

    result = update(data_dir=args.data_dir, api_url=args.api_url, timeout=args.timeout,
                    deadline=args.deadline, min_rate=args.min_rate, allow_hosts=args.allow_host,
                    force=args.force, keep_previous=args.keep, started=args.started,
                    communes=not args.no_communes)
    if args.json:
        print(json.dumps(result.to_dict(), ensure_ascii=False, indent=2))
    else:
        print(result.summary())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
