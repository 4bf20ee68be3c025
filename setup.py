"""Build step of the wheel: ship the artifacts the server reads inside the package.

Training writes its outputs to ``artifacts/`` at the top of the repository (committed, reviewed in
diffs); the server reads them. An installed wheel has no repository, so the build copies the
top-level files of ``artifacts/`` (metrics, forecasts, backtest, model card) into the package as
``oasis_mcp/_artifacts/``, which ``oasis_mcp.config`` reads through ``importlib.resources``. The
champion's model files (``artifacts/models/``) stay out: the server serves the forecasts computed
at training time and never loads a model. Editable installs copy nothing and keep reading
``artifacts/`` in place. Everything else is declared in ``pyproject.toml``.
"""

from __future__ import annotations

from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

ARTIFACTS = Path(__file__).resolve().parent / "artifacts"
BUNDLED = Path("oasis_mcp") / "_artifacts"  # oasis_mcp.config.BUNDLED_ARTIFACTS
REQUIRED = ("forecasts.csv.gz", "metrics.json")  # without these the forecasts tools have no model


class BuildPyWithArtifacts(build_py):
    """``build_py`` that also copies ``artifacts/*`` (files only) into the built package."""

    def run(self) -> None:
        super().run()
        if getattr(self, "editable_mode", False):
            return
        files = sorted(p for p in ARTIFACTS.glob("*") if p.is_file()) if ARTIFACTS.is_dir() else []
        missing = [name for name in REQUIRED if not (ARTIFACTS / name).is_file()]
        if missing:
            raise SystemExit(
                f"setup.py: {ARTIFACTS} lacks {', '.join(missing)}; a wheel without them would "
                "serve no forecasts. Train and publish the artifacts first (oasis-train)."
            )
        target = Path(self.build_lib) / BUNDLED
        self.mkpath(str(target))
        for path in files:
            self.copy_file(str(path), str(target / path.name), preserve_mode=False)


setup(cmdclass={"build_py": BuildPyWithArtifacts})
