"""MLflow logging: one run per level and candidate.

The store defaults to a local SQLite file ``mlflow.db`` in the working directory (ignored by git);
``MLFLOW_TRACKING_URI`` overrides it. Open it with ``mlflow ui --backend-store-uri sqlite:///mlflow.db``.
"""

from __future__ import annotations

import logging
import os
from typing import Any

EXPERIMENT = "oasis-forecasts"
log = logging.getLogger(__name__)


def log_runs(metrics: dict[str, Any], results: dict[str, Any]) -> int:
    try:
        import mlflow
    except ImportError:  # pragma: no cover - train extra not installed
        log.warning("mlflow is not installed: runs not tracked")
        return 0
    logging.getLogger("mlflow").setLevel(logging.ERROR)
    mlflow.set_tracking_uri(os.environ.get("MLFLOW_TRACKING_URI", "sqlite:///mlflow.db"))
    mlflow.set_experiment(EXPERIMENT)
    shas = {f["name"]: f["sha256"] for f in metrics["files"]}
    n = 0
    for level, block in metrics["levels"].items():
        for name, m in block["candidates"].items():
            with mlflow.start_run(run_name=f"{level}/{name}"):
                mlflow.set_tags({"level": level, "candidate": name,
                                 "champion": str(name == block["champion"]),
                                 "edition": metrics["edition"],
                                 "git_commit": metrics["git_commit"],
                                 "quick": str(metrics["quick"])})
                params = {f"model.{k}": str(v)[:250] for k, v in (m.get("params") or {}).items()}
                params |= {f"data.sha256.{k}": v for k, v in shas.items()}
                params |= {"protocol.cutoffs": str(metrics["protocol"]["cutoffs"]),
                           "protocol.horizons": str(metrics["protocol"]["horizons"]),
                           "seed": str(metrics["seeds"]["global"])}
                mlflow.log_params(params)
                flat = {k: v for k, v in m.items() if isinstance(v, int | float) and v is not None}
                for h, hm in (m.get("by_horizon") or {}).items():
                    flat |= {f"h{h}_{k}": v for k, v in hm.items() if isinstance(v, int | float)}
                mlflow.log_metrics({k: float(v) for k, v in flat.items()})
            n += 1
    return n
