"""Packaging (issue 14): what the wheel and the sdist hold, where an installed server finds its
artifacts, the ``oasis-train`` guard without the ``[train]`` extra, ``oasis-mcp data`` alone.

The build tests check the sdist and wheel of ``$OASIS_DIST_DIR`` (``.ci/run`` builds them first),
else build them (``python -m build``: the sdist, then the wheel from it, 15–50 s); they skip when
building is impossible here (no ``build`` module, no index for setuptools), except when
``OASIS_REQUIRE_WHEEL_BUILD=1`` (set by ``.ci/run``), where that is a failure. The full install
check (fresh venv, stdio calls from another directory) is ``tests/wheel_smoke.py``.
"""

from __future__ import annotations

import contextlib
import io
import os
import re
import shutil
import subprocess
import sys
import tarfile
import zipfile
from importlib import metadata
from pathlib import Path

import pytest

from oasis_mcp import cli, config
from oasis_training import entry

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(Path(__file__).resolve().parent))
import wheel_smoke  # noqa: E402  (tests/wheel_smoke.py: the same checks as .ci/run)

MAX_WHEEL_MB = 8.0
"""The wheel stays small: code and the served artifacts (about 6 MB today), no data, no models."""


# -- building ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def dists(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    prebuilt = Path(os.environ.get("OASIS_DIST_DIR") or "/nonexistent")
    wheels, sdists = sorted(prebuilt.glob("*.whl")), sorted(prebuilt.glob("*.tar.gz"))
    if len(wheels) == 1 and len(sdists) == 1:  # built by .ci/run from this checkout
        return wheels[0], sdists[0]
    out = tmp_path_factory.mktemp("dist")
    required = os.environ.get("OASIS_REQUIRE_WHEEL_BUILD") == "1"
    try:
        import build  # noqa: F401
    except ImportError:
        if required:
            raise
        pytest.skip("the `build` package is not installed (pip install build)")
    result = subprocess.run([sys.executable, "-m", "build", "--outdir", str(out), str(REPO)],
                            capture_output=True, text=True, timeout=600, cwd=out)
    if result.returncode != 0:
        if required:
            pytest.fail(f"python -m build failed:\n{result.stderr[-3000:]}")
        pytest.skip(f"cannot build here: {result.stderr.strip().splitlines()[-1:]}")
    (wheel,), (sdist,) = out.glob("*.whl"), out.glob("*.tar.gz")
    return wheel, sdist


@pytest.mark.timeout(660)
def test_the_wheel_holds_our_packages_and_the_served_artifacts(dists: tuple[Path, Path]) -> None:
    wheel, _ = dists
    assert wheel_smoke.wheel_problems(wheel) == []
    with zipfile.ZipFile(wheel) as zf:
        names = zf.namelist()
        entry_points = zf.read(next(n for n in names if n.endswith("entry_points.txt"))).decode()
    assert "oasis-mcp = oasis_mcp.cli:main" in entry_points
    assert "oasis-train = oasis_training.entry:main" in entry_points
    bundled = {n.rsplit("/", 1)[1] for n in names if n.startswith("oasis_mcp/_artifacts/")}
    from oasis_mcp import artifacts

    assert {artifacts.FORECASTS_FILE, artifacts.METRICS_FILE, artifacts.MODEL_CARD_FILE,
            artifacts.BACKTEST_FILE} <= bundled
    # no champion model files (oasis_training/models/ is code, and ships)
    assert not any(n.startswith("oasis_mcp/_artifacts/models")
                   or n.endswith((".txt.gz", ".json.gz")) for n in names)
    assert not any(n.startswith(("tests/", "benchmarks/", "app.py")) for n in names)


def test_the_wheel_is_small_and_the_readme_says_how_small(dists: tuple[Path, Path]) -> None:
    wheel, sdist = dists
    size_mb = wheel.stat().st_size / 1e6
    assert size_mb < MAX_WHEEL_MB, f"wheel is {size_mb:.1f} MB"
    readme = " ".join((REPO / "README.md").read_text(encoding="utf-8").split())
    quoted = re.search(r"no model files: about (\d+) MB", readme)
    assert quoted is not None and int(quoted.group(1)) == round(size_mb), size_mb
    assert sdist.stat().st_size / 1e6 < MAX_WHEEL_MB + 2


def test_the_sdist_can_build_the_wheel_and_holds_no_models(dists: tuple[Path, Path]) -> None:
    _, sdist = dists
    with tarfile.open(sdist) as tf:
        names = {n.split("/", 1)[1] for n in tf.getnames() if "/" in n}
    expected = {f"artifacts/{p.name}" for p in (REPO / "artifacts").iterdir() if p.is_file()}
    assert expected <= names
    assert {"setup.py", "pyproject.toml", "MANIFEST.in", "README.md", "LICENSE"} <= names
    assert not any(n.startswith("artifacts/models") for n in names)
    assert not any(n.endswith((".pyc", "mlflow.db")) or "donnee-" in n for n in names)


# -- where the artifacts are read --------------------------------------------------------------


def installed_copy(tmp_path: Path, with_artifacts: bool) -> Path:
    """oasis_mcp copied into a site-packages-like folder (no pyproject.toml beside it)."""
    site = tmp_path / "site"
    shutil.copytree(REPO / "oasis_mcp", site / "oasis_mcp",
                    ignore=shutil.ignore_patterns("__pycache__"))
    if with_artifacts:
        bundled = site / "oasis_mcp" / config.BUNDLED_ARTIFACTS
        bundled.mkdir()
        for path in (REPO / "artifacts").iterdir():
            if path.is_file():
                shutil.copy(path, bundled / path.name)
    return site


def where_artifacts(site: Path, cwd: Path, **env: str) -> list[str]:
    code = ("from oasis_mcp import config; print(config.artifacts_dir()); "
            "print(config.artifacts_dir_source())")
    clean = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "OASIS_ARTIFACTS_DIR")}
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            cwd=cwd, env={**clean, "PYTHONPATH": str(site), **env}, timeout=60)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip().splitlines()


def test_an_installed_package_reads_its_shipped_artifacts_from_any_directory(
    tmp_path: Path,
) -> None:
    site = installed_copy(tmp_path, with_artifacts=True)
    elsewhere = tmp_path / "elsewhere"
    (elsewhere / "artifacts").mkdir(parents=True)  # a stray ./artifacts is not read any more
    path, source = where_artifacts(site, elsewhere)
    assert Path(path) == site / "oasis_mcp" / config.BUNDLED_ARTIFACTS
    assert source == "the artifacts shipped in the package"


def test_oasis_artifacts_dir_overrides_the_shipped_artifacts(tmp_path: Path) -> None:
    site = installed_copy(tmp_path, with_artifacts=True)
    path, source = where_artifacts(site, tmp_path, OASIS_ARTIFACTS_DIR=str(tmp_path / "mine"))
    assert (Path(path), source) == (tmp_path / "mine", "$OASIS_ARTIFACTS_DIR")


def test_without_shipped_artifacts_the_error_names_the_package(tmp_path: Path) -> None:
    site = installed_copy(tmp_path, with_artifacts=False)
    path, source = where_artifacts(site, tmp_path)
    assert Path(path) == site / "oasis_mcp" / config.BUNDLED_ARTIFACTS
    assert "ships none" in source


def test_a_checkout_reads_its_own_artifacts(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OASIS_ARTIFACTS_DIR", raising=False)
    assert config.artifacts_dir() == REPO / "artifacts"
    assert config.artifacts_dir_source() == "the source checkout's artifacts/"
    assert config.bundled_artifacts_dir() is None  # a checkout has no oasis_mcp/_artifacts


# -- oasis-train without the [train] extra -----------------------------------------------------


def test_oasis_train_without_the_extra_says_how_to_install_it(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    real_version = metadata.version

    def version(name: str) -> str:
        if name in ("lightgbm", "prophet"):
            raise metadata.PackageNotFoundError(name)
        return real_version(name)

    monkeypatch.setattr(entry.metadata, "version", version)
    monkeypatch.setattr(entry.metadata, "requires", lambda _: [
        'numpy>=1.26', 'lightgbm>=4.5; extra == "train"', "prophet>=1.1.6; extra == 'train'",
        'gradio>=5; extra == "app"'])
    assert entry.main(["--quick"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert "missing lightgbm, prophet" in err and "pip install 'oasis-mcp[train]'" in err


def test_the_train_requirements_come_from_the_installed_metadata() -> None:
    try:
        requires = metadata.requires("oasis-mcp") or []
    except metadata.PackageNotFoundError:
        pytest.skip("oasis-mcp is not installed here (bare checkout)")
    train = [r for r in requires if "train" in r.partition(";")[2]]
    assert train, requires
    missing = entry.missing_train_requirements()
    assert set(missing) <= {re.match(r"[\w.-]+", r).group(0) for r in train}  # type: ignore[union-attr]


# -- oasis-mcp data alone ----------------------------------------------------------------------


def test_oasis_mcp_data_alone_lists_its_subcommands() -> None:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = cli.main(["data"])
    assert code == 2
    assert "required" not in out.getvalue() + err.getvalue()
    text = out.getvalue()
    assert "info" in text and "update" in text and "usage: oasis-mcp data" in text
    for name in ("info", "update"):
        assert cli._subparser(cli._subparser(cli.build_parser(), "data"), name).description
