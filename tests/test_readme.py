"""The README and docs/clients.md tell the truth (issue 14).

* every accuracy figure the README quotes is read again from ``artifacts/metrics.json`` (a retrain
  that changes them makes this test fail until the README is updated), and no unchecked figure
  creeps into that section;
* the README's Python example and the docs' stdio example run, against the real data;
* every ``oasis-mcp``/``oasis-train`` command written in the README or the docs parses with the
  real command-line parsers, and the options the README lists for ``oasis-train`` are its options;
* every environment variable the code reads is in the README's table and in ``--help``;
* ``.ci/run`` runs the Quickstart's test command verbatim.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from oasis_mcp import cli

REPO = Path(__file__).resolve().parent.parent
README = (REPO / "README.md").read_text(encoding="utf-8")
CLIENTS = (REPO / "docs" / "clients.md").read_text(encoding="utf-8")
METRICS: dict[str, Any] = json.loads((REPO / "artifacts" / "metrics.json").read_text("utf-8"))


def section(text: str, start: str, end: str) -> str:
    a = text.index(start)
    return text[a : text.index(end, a)]


def code_blocks(text: str, language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", text, flags=re.S)


def percent(value: float) -> int:
    return round(100 * value)


# -- figures ---------------------------------------------------------------------------------


ACCURACY = section(README, "How good is it?", "## The Space")


def champion_block(level: str) -> dict[str, Any]:
    block = METRICS["levels"][level]
    candidates = block["candidates"]
    if isinstance(candidates, dict):
        return dict(candidates[block["champion"]])
    return next(dict(c) for c in candidates if c["name"] == block["champion"])


def table_rows() -> dict[str, list[str]]:
    rows: dict[str, list[str]] = {}
    for line in ACCURACY.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 5 and cells[0] in METRICS["levels"]:
            rows[cells[0]] = cells
    return rows


def test_the_accuracy_table_is_metrics_json() -> None:
    rows = table_rows()
    assert set(rows) == set(METRICS["levels"]), "one README row per backtested level"
    for level, (_, champion, ratio, cov80, cov95) in rows.items():
        block = METRICS["levels"][level]
        stats = champion_block(level)
        assert champion == f"`{block['champion']}`", level
        assert ratio == f"{block['champion_ratio_to_naive']:.2f} ×", level
        assert cov80 == f"{percent(stats['coverage_80'])} %", level
        assert cov95 == f"{percent(stats['coverage_95'])} %", level


def test_the_protocol_and_edition_figures_are_metrics_json() -> None:
    protocol = METRICS["protocol"]
    cutoffs, horizons = protocol["cutoffs"], protocol["horizons"]
    expected = (f"On the {METRICS['last_year']} edition (rolling origin, cutoffs "
                f"{min(cutoffs)}–{max(cutoffs)}, horizons {min(horizons)}–{max(horizons)})")
    assert expected in " ".join(ACCURACY.split())
    years = METRICS["last_year"] - METRICS["first_year"] + 1
    intro = " ".join(README.split())
    assert (f"Every series has {years} annual points "
            f"({METRICS['first_year']}–{METRICS['last_year']})") in intro


WORST = "Usage de stupéfiants"
"""The indicator the README names as the one whose intervals held worst."""


WORST_LEVELS = ("region", "department")
"""The levels the README names the worst indicator for (those of the coverage targets; the
country level has 2 series, 40 forecasts per indicator)."""


def test_the_worst_indicator_is_named_with_its_coverage() -> None:
    afd = WORST
    coverages = []
    for level in WORST_LEVELS:
        by_indicator = METRICS["levels"][level]["champion_by_indicator"]
        worst = min(by_indicator, key=lambda k: by_indicator[k]["coverage_80"])
        assert worst == afd, f"the README calls {afd} the worst; at {level} it is {worst}"
        coverages.append(percent(by_indicator[afd]["coverage_80"]))
    text = " ".join(ACCURACY.split())
    assert f"({afd}) is the worst" in text
    assert f"the 80 % interval held {min(coverages)}–{max(coverages)} % of outcomes" in text


def test_no_unchecked_figure_in_the_accuracy_section() -> None:
    """Every number of the section is one of the figures checked above (or a year, a level's
    horizon or the interval levels themselves)."""
    checked: set[str] = {"80", "95", "0", "2020"}
    protocol = METRICS["protocol"]
    checked |= {str(x) for x in (*protocol["cutoffs"], *protocol["horizons"], METRICS["last_year"])}
    checked |= {str(min(protocol["cutoffs"])), str(max(protocol["cutoffs"]))}
    for row in table_rows().values():
        checked |= set(re.findall(r"\d+(?:\.\d+)?", " ".join(row[2:])))
    checked |= {str(percent(METRICS["levels"][lv]["champion_by_indicator"][WORST]["coverage_80"]))
                for lv in WORST_LEVELS}
    prose = re.sub(r"`[^`]*`|\(https?:[^)]*\)|\[[^\]]*\]\([^)]*\)", " ", ACCURACY)
    found = set(re.findall(r"(?<![\w.])\d+(?:\.\d+)?", prose))
    assert found <= checked | {"1", "2"}, f"unchecked figures: {sorted(found - checked)}"


# -- examples run ----------------------------------------------------------------------------


def data_env() -> dict[str, str]:
    data = os.environ.get("OASIS_DATA_DIR") or str(REPO.parent / "shared" / "data")
    if not any(Path(data).glob("donnee-*.csv")):
        pytest.skip(f"no SSMSI files in {data}; set OASIS_DATA_DIR")
    env = dict(os.environ, OASIS_DATA_DIR=data, PYTHONPATH=str(REPO))
    env.pop("OASIS_ARTIFACTS_DIR", None)
    return env


@pytest.mark.timeout(120)
def test_the_readme_python_example_runs(tmp_path: Path) -> None:
    (example,) = [b for b in code_blocks(README, "python") if "create_server" in b]
    script = tmp_path / "example.py"
    script.write_text(example, encoding="utf-8")
    out = subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                         cwd=tmp_path, env=data_env(), timeout=110)
    assert out.returncode == 0, out.stderr[-2000:]
    assert "'code': '53'" in out.stdout and "'year': 2030" in out.stdout
    assert "Cambriolages de logement" in out.stdout


@pytest.mark.timeout(120)
def test_the_docs_stdio_example_runs(tmp_path: Path) -> None:
    """docs/clients.md's SDK example, with the server command pointed at this checkout."""
    (example,) = [b for b in code_blocks(CLIENTS, "python") if "StdioServerParameters(" in b]
    env = data_env()
    example = example.replace('command="oasis-mcp",', f"command={sys.executable!r},")
    example = example.replace('args=["serve"],', 'args=["-m", "oasis_mcp", "serve"],')
    example = example.replace('"/absolute/path/to/ssmsi-data"',
                              f"{env['OASIS_DATA_DIR']!r}, 'PYTHONPATH': {str(REPO)!r}")
    script = tmp_path / "example.py"
    script.write_text(example, encoding="utf-8")
    out = subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                         cwd=tmp_path, env=env, timeout=110)
    assert out.returncode == 0, out.stderr[-2000:]
    assert "'forecast'" in out.stdout and "'model_metrics'" in out.stdout
    assert "'code': '53'" in out.stdout


# -- commands parse --------------------------------------------------------------------------


def written_commands(text: str, program: str) -> list[str]:
    """``program ...`` as written in inline code and in shell/json blocks of ``text``."""
    found = re.findall(rf"`((?:[A-Z_]+=\S+ )*{program}(?: [^`]*)?)`", text)
    for block in code_blocks(text, "(?:bash|sh)"):
        for line in block.replace("\\\n", " ").splitlines():
            for part in re.split(r"&&|\|", line.split("#")[0]):
                if re.search(rf"(?:^|\s){program}(?:\s|$)", part):
                    found.append(part.strip().rstrip("&").strip())
    return found


def argv_of(command: str, program: str) -> list[list[str]]:
    """The argument lists a written command stands for (a synopsis ``[--json]`` gives one list
    with and one without each optional part; ``...`` and placeholders are kept as values)."""
    words = shlex.split(re.sub(r"\[[^\]]*\]", " ", command.replace("\\\n", " ")))
    base = words[words.index(program) + 1 :] if program in words else words
    lists = [base]
    for optional in re.findall(r"\[([^\]]+)\]", command):
        option = optional.split("|")[0].split()
        lists.append(base + [o.rstrip(".") for o in option])
    return [[SAMPLE_VALUES.get(w, w) for w in argv if w not in ("...", "…")] for argv in lists]


SAMPLE_VALUES = {"N": "3", "SECONDS": "60", "PER_SECOND": "10"}
"""Numeric placeholders of the synopses and a value of their type, so that a written
``[--max-sessions N]`` is checked with a number (other placeholders are kept as values)."""


def parses(parser: argparse.ArgumentParser, argv: list[str]) -> str | None:
    """None when ``argv`` parses, else argparse's message."""
    err = io.StringIO()
    try:
        with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
            parser.parse_args(argv)
    except SystemExit as exc:
        if exc.code not in (0, None):
            return err.getvalue().strip() or f"exit {exc.code}"
    return None


@pytest.mark.parametrize("where", ["README.md", "docs/clients.md"])
def test_every_written_oasis_mcp_command_parses(where: str) -> None:
    text = (REPO / where).read_text(encoding="utf-8")
    commands = written_commands(text, "oasis-mcp")
    assert len(commands) >= 5
    failures = {}
    for command in commands:
        for argv in argv_of(command, "oasis-mcp"):
            problem = parses(cli.build_parser(), argv)
            if problem:
                failures[command] = problem
    assert not failures, failures


def train_parser_options() -> set[str]:
    out = subprocess.run([sys.executable, "-m", "oasis_training.cli", "--help"],
                         capture_output=True, text=True, env=dict(os.environ, PYTHONPATH=str(REPO)),
                         timeout=120)
    if out.returncode != 0:
        pytest.skip(f"oasis-train --help does not run here (no [train] extra?): "
                    f"{out.stderr[-300:]}")
    return set(re.findall(r"(?<![\w-])(--[a-z][a-z-]+)", out.stdout)) - {"--help"}


def test_the_readme_lists_every_oasis_train_option() -> None:
    training = section(README, "## Training and forecasts", "Runs are tracked")
    listed = set(re.findall(r"`(--[a-z][a-z-]+)", section(training, "Options:", "\n\n")))
    assert listed == train_parser_options()


# -- environment variables -------------------------------------------------------------------


AWAITING_MERGE = {
    "OASIS_REFRESH_EVERY",  # branch fresh (serve --refresh-every)
    "OASIS_MCP_STATELESS", "OASIS_MCP_MAX_SESSIONS", "OASIS_MCP_MAX_SESSIONS_PER_CLIENT",
    "OASIS_MCP_SESSION_IDLE_TIMEOUT", "OASIS_MCP_RATE_LIMIT", "OASIS_MCP_RATE_BURST",
    "OASIS_MCP_TRUSTED_PROXIES",  # branch http (serve limits)
    "OASIS_UPDATE_ALLOW_HOSTS", "OASIS_UPDATE_DEADLINE", "OASIS_UPDATE_MIN_RATE",  # branch update
}
"""Variables documented ahead of the merge of the branches that read them (issue 14 was worked on
beside them); once those are merged this set is redundant and can go."""


def variables_in_source(*packages: str) -> set[str]:
    """``OASIS_*`` names the code reads (as string literals in the packages' modules)."""
    names: set[str] = set()
    for package in packages:
        for path in (REPO / package).rglob("*.py"):
            names |= set(re.findall(r"[\"'](OASIS_[A-Z0-9_]+)[\"']", path.read_text("utf-8")))
    return names - {"OASIS_UPDATE_SNAPSHOTS"}


def readme_variables() -> set[str]:
    table = section(README, "### Environment variables", "\n\n`oasis-mcp --help`")
    return set(re.findall(r"`([A-Z][A-Z0-9_]+)`", table))


def test_every_variable_the_code_reads_is_in_the_readme_table() -> None:
    missing = variables_in_source("oasis_mcp", "oasis_app", "oasis_training") - readme_variables()
    assert not missing, f"not in the README's environment table: {sorted(missing)}"
    assert "MLFLOW_TRACKING_URI" in readme_variables()


def test_the_readme_table_documents_only_variables_that_exist() -> None:
    names = {n for n in readme_variables() if n.startswith("OASIS_")}
    stale = names - variables_in_source("oasis_mcp", "oasis_app", "oasis_training") - AWAITING_MERGE
    assert not stale, f"documented but read nowhere: {sorted(stale)}"


def test_every_runtime_variable_is_in_oasis_mcp_help() -> None:
    in_source = variables_in_source("oasis_mcp")
    assert in_source <= set(cli.ENVIRONMENT), sorted(in_source - set(cli.ENVIRONMENT))
    assert set(cli.ENVIRONMENT) <= in_source | AWAITING_MERGE
    text = " ".join(cli.build_parser().format_help().split())
    for name, what in cli.ENVIRONMENT.items():
        assert f"{name} {' '.join(what.split())}" in text


def test_serve_help_names_the_serve_variables() -> None:
    parser = cli.build_parser()
    serve = cli._subparser(parser, "serve").format_help()
    for name in ("OASIS_DATA_DIR", "OASIS_CACHE_DIR", "OASIS_ARTIFACTS_DIR", "OASIS_MCP_TOKEN",
                 "OASIS_MCP_ALLOWED_HOSTS", "OASIS_MCP_ALLOWED_ORIGINS"):
        assert name in serve
    for action in cli._subparser(parser, "serve")._actions:
        assert action.help, f"serve option {action.option_strings} has no help"


def test_the_help_names_match_the_modules_that_read_them() -> None:
    from oasis_mcp import config, http_app
    from oasis_mcp.data import datagouv

    names = {config.DATA_DIR_ENV, config.CACHE_DIR_ENV, config.ARTIFACTS_DIR_ENV,
             http_app.TOKEN_ENV, http_app.ALLOWED_HOSTS_ENV, http_app.ALLOWED_ORIGINS_ENV,
             datagouv.API_URL_ENV, datagouv.FALLBACK_URLS_ENV}
    assert names <= set(cli.ENVIRONMENT)


# -- CI --------------------------------------------------------------------------------------


def test_ci_runs_the_quickstart_test_command_verbatim() -> None:
    quickstart = section(README, "## Quickstart", "### Install without a checkout")
    blocks = code_blocks(quickstart, "bash")
    test_command = next(line for b in blocks for line in b.splitlines()
                        if "pytest" in line and not line.startswith("#"))
    ci = (REPO / ".ci" / "run").read_text(encoding="utf-8")
    assert test_command in ci.splitlines()
    assert "python tests/wheel_smoke.py" in ci


@pytest.mark.parametrize("where", ["README.md", "docs/clients.md"])
def test_every_client_configuration_is_json_and_starts_a_real_command(where: str) -> None:
    text = (REPO / where).read_text(encoding="utf-8")
    blocks = code_blocks(text, "json")
    assert blocks
    started = 0
    for block in blocks:
        config = json.loads(block)
        servers = config.get("mcpServers") or config.get("servers") or {}
        for name, server in servers.items():
            command, args = server.get("command"), list(server.get("args", []))
            if command == "uvx":
                assert args[0] == "--from" and args[2] == "oasis-mcp", name
                args = args[3:]
            elif command != "oasis-mcp":
                continue  # npx mcp-remote, or an HTTP server given by URL
            assert parses(cli.build_parser(), args) is None, (name, args)
            assert set(server.get("env", {})) <= set(cli.ENVIRONMENT), name
            started += 1
    assert started >= 1


@pytest.mark.timeout(120)
def test_data_info_as_written_gives_the_readme_data_table(edition_2025_dir: Path) -> None:
    """`oasis-mcp data info --json --data-dir DIR` (a README command) run for real; its answer is
    what the README's Data table says of the 2025 edition."""
    out = subprocess.run([sys.executable, "-m", "oasis_mcp", "data", "info", "--json",
                          "--data-dir", str(edition_2025_dir)], capture_output=True, text=True,
                         env=data_env(), timeout=110)
    assert out.returncode == 0, out.stderr[-2000:]
    levels = json.loads(out.stdout)["levels"]
    table = " ".join(section(README, "## Data", "The data files are never").split())
    dep, reg = levels["department"], levels["region"]
    assert (f"`department` ({dep['areas']}), `region` ({reg['areas']}), `country` (`FR` = all "
            f"{dep['areas']} departments") in table
    assert (f"2025 edition: {dep['indicators']} indicators, "
            f"{dep['first_year']}–{dep['last_year']}") in table
