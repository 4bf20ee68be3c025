"""``oasis-train``: backtest the candidates, pick champions, write the artifacts."""

from __future__ import annotations

import argparse
import logging
import sys
import time
from pathlib import Path

from oasis_training.pipeline import TrainConfig, run

EPILOG = """environment variables:
  OASIS_DATA_DIR       folder of SSMSI files when --data-dir is not given
  MLFLOW_TRACKING_URI  MLflow tracking store (default sqlite:///mlflow.db, in the working
                       directory; --no-mlflow turns tracking off)"""


def _progress() -> object:
    start = time.perf_counter()

    def show(message: str) -> None:
        print(f"[{time.perf_counter() - start:6.1f}s] {message}", file=sys.stderr, flush=True)

    return show


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="oasis-train", description=__doc__, epilog=EPILOG,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-dir", default=None,
                        help="folder of SSMSI files (default: OASIS_DATA_DIR or the user cache)")
    parser.add_argument("--edition", default=None, help="edition id (default: newest)")
    parser.add_argument("--levels", default="country,region,department",
                        help="comma-separated levels among country, region, department")
    parser.add_argument("--out", default="artifacts", type=Path, help="output folder")
    parser.add_argument("--quick", action="store_true", help="small, fast configuration (tests)")
    parser.add_argument("--limit-areas", type=int, default=None,
                        help="keep only the first N areas of each level (slices for tests)")
    parser.add_argument("--jobs", type=int, default=2, help="parallel workers")
    parser.add_argument("--no-mlflow", action="store_true", help="do not log to MLflow")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    levels = tuple(x.strip() for x in args.levels.split(",") if x.strip())
    bad = [x for x in levels if x not in ("country", "region", "department")]
    if bad:
        parser.error(f"unknown level(s): {', '.join(bad)}")
    cfg = TrainConfig(data_dir=args.data_dir, edition=args.edition, levels=levels, out=args.out,
                      quick=args.quick, n_jobs=args.jobs, mlflow=not args.no_mlflow,
                      series_limit=args.limit_areas)
    run(cfg, progress=_progress())  # type: ignore[arg-type]
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
