"""Install the built wheel as a user would, with no checkout, and ask it for real forecasts.

Run by ``.ci/run`` (not collected by pytest: it builds and installs, which takes tens of seconds)::

    python tests/wheel_smoke.py [--wheel DIST.whl] [--uvx] [--pipx] [--keep]

1. builds the sdist, then the wheel from that sdist (``python -m build``, as a release would),
   unless ``--wheel`` gives one; checks what the wheel holds (our three packages only, the
   artifacts the server reads, no model files, no tests);
2. creates a fresh virtual environment in a temporary directory outside the checkout and
   ``pip install``s the wheel there (the pip cache is reused);
3. from another temporary directory, with a desktop client's minimal environment (no
   ``PYTHONPATH``, no ``OASIS_ARTIFACTS_DIR``; only ``OASIS_DATA_DIR`` for the SSMSI files), starts
   that venv's ``oasis-mcp serve`` over stdio with the official SDK client, calls ``forecast`` and
   ``model_metrics``, and compares the answers with the checkout's ``artifacts/``;
4. checks that the venv's ``oasis-train`` (no ``[train]`` extra) says how to install it, exit 2;
5. with ``--uvx`` / ``--pipx``, does step 3 again through ``uvx --from WHEEL oasis-mcp`` and a
   ``pipx install WHEEL`` into temporary PIPX_HOME/PIPX_BIN_DIR.

Exit 0 when everything holds; prints what it measured (sizes, durations).
"""

from __future__ import annotations

import argparse
import asyncio
import gzip
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
ARTIFACTS = REPO / "artifacts"
OWN_PACKAGES = {"oasis_mcp", "oasis_training", "oasis_app"}
AREA, AREA_CODE, INDICATOR = "Bretagne", "53", "burglary"


class SmokeError(Exception):
    """A check failed: the message says which."""


def check(condition: bool, message: str) -> None:
    if not condition:
        raise SmokeError(message)


def data_dir() -> Path:
    env = os.environ.get("OASIS_DATA_DIR")
    return Path(env) if env else REPO.parent / "shared" / "data"


def run(cmd: Sequence[str], **kwargs: Any) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(list(cmd), capture_output=True, text=True, **kwargs)
    if result.returncode != 0:
        raise SmokeError(f"{' '.join(cmd)} failed ({result.returncode}):\n{result.stderr[-3000:]}")
    return result


# -- 1. build and inspect -------------------------------------------------------------------


def build(out: Path) -> tuple[Path, Path]:
    """sdist, then the wheel built from it (``python -m build``); their paths."""
    out.mkdir(parents=True, exist_ok=True)
    run([sys.executable, "-m", "build", "--outdir", str(out), str(REPO)], cwd=out)
    wheels, sdists = sorted(out.glob("*.whl")), sorted(out.glob("*.tar.gz"))
    check(len(wheels) == 1 and len(sdists) == 1, f"expected one wheel and one sdist in {out}")
    return wheels[0], sdists[0]


def wheel_problems(wheel: Path) -> list[str]:
    """What is wrong with the wheel's contents (empty when it is as it should be)."""
    problems: list[str] = []
    with zipfile.ZipFile(wheel) as zf:
        names = zf.namelist()
        top_level_file = next(n for n in names if n.endswith(".dist-info/top_level.txt"))
        declared = set(zf.read(top_level_file).decode().split())
        bundled = {n.rsplit("/", 1)[1]: zf.read(n) for n in names
                   if n.startswith("oasis_mcp/_artifacts/") and not n.endswith("/")}
    roots = {n.split("/", 1)[0] for n in names if not n.split("/", 1)[0].endswith(".dist-info")}
    if declared != OWN_PACKAGES:
        problems.append(f"top_level.txt declares {sorted(declared)}")
    if roots != OWN_PACKAGES:
        problems.append(f"top-level entries {sorted(roots)}")
    expected = {p.name: p.read_bytes() for p in ARTIFACTS.iterdir() if p.is_file()}
    if set(bundled) != set(expected):
        problems.append(f"bundled artifacts {sorted(bundled)} != artifacts/ {sorted(expected)}")
    problems += [f"{name} differs from artifacts/{name}" for name in bundled
                 if name in expected and bundled[name] != expected[name]]
    problems += [f"unexpected file {n}" for n in names
                 if (n.startswith("oasis_mcp/_artifacts/") and "/models/" in n)
                 or n.startswith("tests/") or "/tests/" in n or n.endswith((".pyc", "mlflow.db"))]
    return problems


# -- 2. install -----------------------------------------------------------------------------


def make_venv(root: Path, wheel: Path) -> Path:
    venv = root / "venv"
    run([sys.executable, "-m", "venv", str(venv)])
    python = venv / ("Scripts" if os.name == "nt" else "bin") / "python"
    # No PYTHONPATH: a checkout on it (with the oasis_mcp.egg-info the sdist build leaves there)
    # would make pip believe oasis-mcp is installed already, and skip it.
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    run([str(python), "-m", "pip", "install", "-q", "--no-compile", "--disable-pip-version-check",
         str(wheel)], cwd=root, env=env)
    return python


def minimal_env(**extra: str) -> dict[str, str]:
    """What a desktop client passes: PATH, HOME, the data directory and the machine's network
    settings (certificates, proxies, pip/uv options, which the installers need), nothing from the
    checkout (no PYTHONPATH, no OASIS_ARTIFACTS_DIR)."""
    network = ("SSL_CERT_FILE", "SSL_CERT_DIR", "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE",
               "HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY", "http_proxy", "https_proxy", "no_proxy")
    env = {k: v for k, v in os.environ.items()
           if k in ("PATH", "HOME", "LANG", "SYSTEMROOT", *network)
           or k.startswith(("PIP_", "UV_"))}
    env["OASIS_DATA_DIR"] = str(data_dir())
    env.update(extra)
    return env


# -- 3. call the tools over stdio -----------------------------------------------------------


async def call_tools(command: Sequence[str], cwd: Path, env: dict[str, str]) -> dict[str, Any]:
    from mcp import Client
    from mcp.client.stdio import StdioServerParameters

    params = StdioServerParameters(command=command[0], args=[*command[1:]], env=env, cwd=cwd)
    async with Client(params) as client:
        forecast = await client.call_tool(
            "forecast", {"area": AREA, "indicator": INDICATOR, "horizon": 5})
        metrics = await client.call_tool("model_metrics", {})
    for name, result in (("forecast", forecast), ("model_metrics", metrics)):
        text = " ".join(getattr(c, "text", "") for c in result.content)
        check(not result.is_error, f"{name} failed: {text[:500]}")
        check(result.structured_content is not None, f"{name} returned no structured content")
    assert forecast.structured_content is not None and metrics.structured_content is not None
    return {"forecast": forecast.structured_content, "model_metrics": metrics.structured_content}


def compare_with_artifacts(answers: dict[str, Any]) -> str:
    """Check the answers against the checkout's artifacts; a one-line summary."""
    metrics = json.loads((ARTIFACTS / "metrics.json").read_text(encoding="utf-8"))
    served = {lv["level"]: lv for lv in answers["model_metrics"]["levels"]}
    for level, block in metrics["levels"].items():
        check(level in served, f"model_metrics lacks the level {level}")
        check(served[level]["champion"] == block["champion"],
              f"{level} champion {served[level]['champion']} != artifacts' {block['champion']}")
    fc = answers["forecast"]
    check(fc["area"]["code"] == AREA_CODE, f"forecast answered for {fc['area']}")
    check(fc["model"]["name"] == metrics["levels"]["region"]["champion"],
          f"forecast model {fc['model']['name']}")
    points = {p["year"]: p for p in fc["forecasts"]}
    check(max(points) == 2030 and len(points) == 5, f"forecast years {sorted(points)}")
    with gzip.open(ARTIFACTS / "forecasts.csv.gz", "rt", encoding="utf-8-sig") as fh:
        header = fh.readline().rstrip("\n").split(",")
        rows = [dict(zip(header, line.rstrip("\n").split(","), strict=False)) for line in fh]
    label = fc["indicator"]["label_fr"]
    row = next((r for r in rows if r["level"] == "region" and r["area"] == AREA_CODE
                and r["indicator"] == label and r["year"] == "2030"), None)
    check(row is not None, f"artifacts/forecasts.csv.gz has no 2030 row for {label}")
    assert row is not None
    got = points[2030]["count"]
    for key, column in (("value", "count"), ("lo_80", "lo_80"), ("hi_95", "hi_95")):
        check(abs(got[key] - float(row[column])) <= 0.51,
              f"2030 {key} {got[key]} != artifacts' {row[column]}")
    p = points[2030]["count"]
    check(p["lo_95"] <= p["lo_80"] <= p["value"] <= p["hi_80"] <= p["hi_95"], f"intervals {p}")
    return (f"forecast {AREA} {INDICATOR} 2030: {p['value']:.0f} "
            f"(80 % {p['lo_80']:.0f}–{p['hi_80']:.0f}, 95 % {p['lo_95']:.0f}–{p['hi_95']:.0f}), "
            f"model {fc['model']['name']}; model_metrics champions "
            + ", ".join(f"{lv}={served[lv]['champion']}" for lv in metrics["levels"]))


def stdio_round(label: str, command: Sequence[str], cwd: Path, env: dict[str, str]) -> None:
    start = time.perf_counter()
    answers = asyncio.run(call_tools(command, cwd, env))
    summary = compare_with_artifacts(answers)
    print(f"[{label}] {summary} ({time.perf_counter() - start:.1f} s)")


# -- main -----------------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--wheel", type=Path, default=None, help="a built wheel (default: build)")
    parser.add_argument("--uvx", action="store_true", help="also run through `uvx --from WHEEL`")
    parser.add_argument("--pipx", action="store_true", help="also run through `pipx install`")
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory")
    args = parser.parse_args(argv)
    check(any(data_dir().glob("donnee-*.csv")),
          f"no SSMSI files in {data_dir()}: set OASIS_DATA_DIR")
    root = Path(tempfile.mkdtemp(prefix="oasis-wheel-"))
    t0 = time.perf_counter()
    try:
        if args.wheel is None:
            wheel, sdist = build(root / "dist")
            print(f"[build] {wheel.name} {wheel.stat().st_size / 1e6:.2f} MB, "
                  f"{sdist.name} {sdist.stat().st_size / 1e6:.2f} MB "
                  f"({time.perf_counter() - t0:.1f} s)")
        else:
            wheel = args.wheel.resolve()
            print(f"[build] {wheel.name} {wheel.stat().st_size / 1e6:.2f} MB (given)")
        problems = wheel_problems(wheel)
        check(not problems, "wheel contents: " + "; ".join(problems))
        print(f"[wheel] top-level packages {sorted(OWN_PACKAGES)}; artifacts bundled = "
              "artifacts/ (no models/, no tests)")

        t1 = time.perf_counter()
        python = make_venv(root, wheel)
        print(f"[venv] installed in {python.parent.parent} ({time.perf_counter() - t1:.1f} s)")
        elsewhere = root / "elsewhere"
        elsewhere.mkdir()
        bindir = python.parent
        where = run([str(python), "-c", "from oasis_mcp import config; "
                     "print(config.artifacts_dir(), '|', config.artifacts_dir_source())"],
                    cwd=elsewhere, env=minimal_env()).stdout.strip()
        check(str(root) in where and "shipped in the package" in where, f"artifacts from {where}")
        print(f"[venv] artifacts read from {where}")
        stdio_round("venv", [str(bindir / "oasis-mcp"), "serve"], elsewhere, minimal_env())

        train = subprocess.run([str(bindir / "oasis-train"), "--quick"], capture_output=True,
                               text=True, cwd=elsewhere, env=minimal_env(), timeout=60)
        lines = train.stderr.strip().splitlines()
        check(train.returncode == 2 and len(lines) == 1 and "oasis-mcp[train]" in lines[0],
              f"oasis-train without [train]: exit {train.returncode}, stderr {train.stderr!r}")
        print(f"[venv] oasis-train without the extra: exit 2, {lines[0]!r}")

        if args.uvx:
            uvx = shutil.which("uvx")
            check(uvx is not None, "--uvx: uvx is not on PATH (pip install uv)")
            assert uvx is not None
            env = minimal_env()
            command = [uvx, "--from", str(wheel), "oasis-mcp"]
            # The first run resolves and downloads the dependencies (uv's cache), which can take
            # longer than a client waits for the server's first answer: warm it as a user would.
            t2 = time.perf_counter()
            version = run([*command, "--version"], cwd=elsewhere, env=env, timeout=600).stdout
            print(f"[uvx] {version.strip()} ({time.perf_counter() - t2:.1f} s, first run)")
            stdio_round("uvx", [*command, "serve"], elsewhere, env)
        if args.pipx:
            pipx = shutil.which("pipx")
            check(pipx is not None, "--pipx: pipx is not on PATH (pip install pipx)")
            assert pipx is not None
            env = minimal_env(PIPX_HOME=str(root / "pipx"), PIPX_BIN_DIR=str(root / "pipx-bin"))
            run([pipx, "install", str(wheel)], cwd=elsewhere, env=env)
            stdio_round("pipx", [str(root / "pipx-bin" / "oasis-mcp"), "serve"], elsewhere, env)
    except SmokeError as exc:
        print(f"wheel smoke test FAILED: {exc}", file=sys.stderr)
        return 1
    finally:
        if args.keep:
            print(f"kept {root}")
        else:
            shutil.rmtree(root, ignore_errors=True)
    print(f"wheel smoke test passed in {time.perf_counter() - t0:.1f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
