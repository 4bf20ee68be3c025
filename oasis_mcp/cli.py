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
    serve.add_argument(
        "--refresh-every", default=None, metavar="DURATION",
        help="HTTP only: run `data update` this often (e.g. 24h, 30m, 1d) and switch to the new "
        "edition without a restart; the last good edition stays when an update fails "
        "(env OASIS_REFRESH_EVERY; default off). A newly installed edition is picked up "
        "without it too: see docs/data-updates.md",
    )

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
        refresh_every=getattr(args, "refresh_every", None),
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
