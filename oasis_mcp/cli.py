"""Command line: ``oasis-mcp serve`` (the default) and ``oasis-mcp data info|update``.

Heavy modules are imported inside the commands that need them, so that ``oasis-mcp serve`` starts
fast for desktop clients. Logs go to stderr; on stdio, stdout carries protocol messages only.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Sequence

from oasis_mcp import __version__
from oasis_mcp.errors import OasisError


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="oasis-mcp",
        description="MCP server for French recorded-crime statistics (SSMSI, data.gouv.fr).",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logs on stderr")
    sub = parser.add_subparsers(dest="command")

    serve = sub.add_parser("serve", help="run the MCP server (stdio by default)")
    serve.add_argument("--transport", choices=["stdio", "http"], default="stdio")
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
    _add_http_limit_flags(serve)

    data = sub.add_parser("data", help="inspect or update the SSMSI data files")
    data_sub = data.add_subparsers(dest="data_command", required=True)
    info = data_sub.add_parser("info", help="edition, files, areas, indicators and years")
    info.add_argument("--json", action="store_true", help="machine-readable output")
    info.add_argument("--data-dir", default=None, help="directory of SSMSI CSV files")
    info.add_argument("--edition", default=None, help="an edition id or data year (default newest)")
    update = data_sub.add_parser(
        "update", help="download the newest edition from data.gouv.fr, validate it, install it"
    )
    update.add_argument("--data-dir", default=None, help="where to install (default: the cache)")
    update.add_argument("--api-url", default=None, help="data.gouv.fr API dataset URL (tests)")
    update.add_argument("--timeout", type=float, default=60.0, help="HTTP timeout in seconds")
    update.add_argument("--json", action="store_true", help="machine-readable output")
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
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        stream=sys.stderr,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    try:
        if args.command == "data":
            if args.data_command == "info":
                return _data_info(args)
            return _data_update(args)
        return _serve(args)
    except OasisError as exc:
        print(f"oasis-mcp: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # e.g. `oasis-mcp data info | head`
        sys.stderr.close()
        return 0


def _serve(args: argparse.Namespace) -> int:
    from oasis_mcp.serve import run

    return run(
        transport=getattr(args, "transport", "stdio"),
        host=getattr(args, "host", "127.0.0.1"),
        port=getattr(args, "port", 8000),
        allowed_hosts=getattr(args, "allowed_host", None),
        allowed_origins=getattr(args, "allowed_origin", None),
        data_dir=getattr(args, "data_dir", None),
        stateless=getattr(args, "stateless", None),
        max_sessions=getattr(args, "max_sessions", None),
        max_sessions_per_client=getattr(args, "max_sessions_per_client", None),
        session_idle_timeout=getattr(args, "session_idle_timeout", None),
        rate_limit=getattr(args, "rate_limit", None),
        rate_burst=getattr(args, "rate_burst", None),
        trusted_proxies=getattr(args, "trusted_proxy", None),
    )


def _data_info(args: argparse.Namespace) -> int:
    from oasis_mcp.data.dataset import load_dataset

    dataset = load_dataset(args.data_dir, edition=args.edition)
    info = dataset.info()
    if args.json:
        print(json.dumps(info, ensure_ascii=False, indent=2))
        return 0
    print(f"Edition   {info['edition']}  ({dataset.edition.label})")
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
    print("Indicators:")
    for ind in dataset.indicator_info:
        print(f"  {ind.slug:<32}{ind.label_fr} ({ind.unit})")
    return 0


def _data_update(args: argparse.Namespace) -> int:
    from oasis_mcp.data.download import update

    result = update(data_dir=args.data_dir, api_url=args.api_url, timeout=args.timeout)
    if args.json:
        print(json.dumps(result.to_dict(), ensure_ascii=False, indent=2))
    else:
        print(result.summary())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
