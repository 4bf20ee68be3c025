"""Command line: ``oasis-mcp serve`` (the default) and ``oasis-mcp data info|update``.

Heavy modules are imported inside the commands that need them, so that ``oasis-mcp serve`` starts
fast for desktop clients. Logs go to stderr; on stdio, stdout carries protocol messages only.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from collections.abc import Sequence

from oasis_mcp import __version__
from oasis_mcp.errors import OasisError

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

    data = sub.add_parser("data", help="inspect or update the SSMSI data files")
    data_sub = data.add_subparsers(dest="data_command", required=True)
    info = data_sub.add_parser("info", help="edition, files, areas, indicators and years")
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
    update.add_argument("--json", action="store_true", help="machine-readable output")
    return parser


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


def _serve(args: argparse.Namespace) -> int:
    from oasis_mcp.serve import run

    return run(
        transport=getattr(args, "transport", "stdio"),
        host=getattr(args, "host", "127.0.0.1"),
        port=getattr(args, "port", 8000),
        allowed_hosts=getattr(args, "allowed_host", None),
        allowed_origins=getattr(args, "allowed_origin", None),
        data_dir=getattr(args, "data_dir", None),
    )


def _data_info(args: argparse.Namespace) -> int:
    from oasis_mcp.data.dataset import available_editions, load_dataset
    from oasis_mcp.data.update_state import update_status

    status = update_status(args.data_dir)
    if status:
        print(f"oasis-mcp: {status}", file=sys.stderr)
    dataset = load_dataset(args.data_dir, edition=args.edition)
    info = dataset.info()
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
    print("Indicators:")
    for ind in dataset.indicator_info:
        print(f"  {ind.slug:<32}{ind.label_fr} ({ind.unit})")
    return 0


def _data_update(args: argparse.Namespace) -> int:
    from oasis_mcp.data.download import update

    result = update(data_dir=args.data_dir, api_url=args.api_url, timeout=args.timeout,
                    deadline=args.deadline, min_rate=args.min_rate, allow_hosts=args.allow_host,
                    force=args.force, keep_previous=args.keep, started=args.started)
    if args.json:
        print(json.dumps(result.to_dict(), ensure_ascii=False, indent=2))
    else:
        print(result.summary())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
