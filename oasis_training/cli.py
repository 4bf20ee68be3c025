"""``oasis-train``: backtest the candidates, pick champions, write the artifacts.

By default the run goes into a new folder ``training-runs/<UTC time>/`` of the working directory
(git-ignored), never into the shipped ``artifacts/``: publishing there takes ``--publish``, and a
``--quick`` run is never published.
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

from oasis_training.pipeline import TrainConfig, run

EPILOG = """environment variables:
  OASIS_DATA_DIR       folder of SSMSI files when --data-dir is not given
  MLFLOW_TRACKING_URI  MLflow tracking store (default sqlite:///mlflow.db, in the working
                       directory; --no-mlflow turns tracking off)

exit codes: 0 done, 2 bad usage or no data."""

#: The shipped artifacts of a checkout (the server's default source of forecasts).
SHIPPED_ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"
RUNS_DIR = Path("training-runs")
EXIT_USAGE = 2


def _progress() -> object:
    start = time.perf_counter()

    def show(message: str) -> None:
        print(f"[{time.perf_counter() - start:6.1f}s] {message}", file=sys.stderr, flush=True)

    return show


def _is_shipped(path: Path) -> bool:
    try:
        return path.resolve() == SHIPPED_ARTIFACTS.resolve()
    except OSError:
        return False


def default_out() -> Path:
    """A new folder under ``training-runs/`` named by the UTC time (suffixed if it exists)."""
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    out = RUNS_DIR / stamp
    n = 1
    while out.exists():
        n += 1
        out = RUNS_DIR / f"{stamp}-{n}"
    return out


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="oasis-train", description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=EPILOG)
    parser.add_argument("--data-dir", default=None,
                        help="folder of SSMSI files (default: OASIS_DATA_DIR or the user cache)")
    parser.add_argument("--edition", default=None, help="edition id (default: newest)")
    parser.add_argument("--levels", default="country,region,department",
                        help="comma-separated levels among country, region, department "
                             "(forecasts are reconciled only when all three are trained)")
    parser.add_argument("--out", default=None, type=Path,
                        help="output folder (default: a new training-runs/<UTC time>/)")
    parser.add_argument("--publish", action="store_true",
                        help=f"write into the shipped artifacts folder ({SHIPPED_ARTIFACTS}) "
                             "that the server reads; refused with --quick or --limit-areas")
    parser.add_argument("--quick", action="store_true",
                        help="small, fast configuration (tests); never published")
    parser.add_argument("--limit-areas", type=int, default=None,
                        help="keep only the first N areas of each level (slices for tests)")
    parser.add_argument("--skip", default="",
                        help="comma-separated candidates to leave out (e.g. ets_damped,prophet "
                             "on a loaded machine); recorded in metrics.json")
    parser.add_argument("--jobs", type=int, default=2, help="parallel workers (default 2)")
    parser.add_argument("--no-mlflow", action="store_true", help="do not log to MLflow")
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    levels = tuple(x.strip() for x in args.levels.split(",") if x.strip())
    bad = [x for x in levels if x not in ("country", "region", "department")]
    if bad:
        parser.error(f"unknown level(s): {', '.join(bad)}")
    if args.publish:
        if args.quick or args.limit_areas is not None:
            parser.error("--publish writes the shipped model: a --quick or --limit-areas run is "
                         "never published")
        if args.out is not None and not _is_shipped(args.out):
            parser.error("--publish writes into the shipped artifacts folder; drop --out")
        out = SHIPPED_ARTIFACTS
    elif args.out is not None:
        if _is_shipped(args.out):
            parser.error(f"{args.out} is the shipped artifacts folder: add --publish (and no "
                         "--quick) to overwrite it on purpose, or choose another --out")
        out = args.out
    else:
        out = default_out()
    cfg = TrainConfig(data_dir=args.data_dir, edition=args.edition, levels=levels, out=out,
                      quick=args.quick, n_jobs=args.jobs, mlflow=not args.no_mlflow,
                      series_limit=args.limit_areas,
                      skip=tuple(x.strip() for x in args.skip.split(",") if x.strip()),
                      command=["oasis-train", *(sys.argv[1:] if argv is None else argv)])
    from oasis_mcp.errors import DataFileError, DataNotFoundError

    try:
        run(cfg, progress=_progress())  # type: ignore[arg-type]
    except (DataNotFoundError, DataFileError) as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        print(f"oasis-train: no usable data: {first}", file=sys.stderr)
        return EXIT_USAGE
    print(f"artifacts written to {out}" + ("" if args.publish else
          " (not published: the server reads artifacts/; use --publish to replace them)"))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
