"""The commune level: communal file parsing (both layouts) and validation, withheld values,
consistency with the real departmental file, commune names, and every tool at level commune
(in process and over stdio). The communal files are synthetic (tests/commune_synthetic.py),
generated from the real departmental file and the real commune referential."""

from __future__ import annotations

import asyncio
import gzip
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from mcp import Client

from oasis_mcp.data import commune_file, commune_names, commune_store
from oasis_mcp.data.commune_file import ABSENT, WITHHELD, parse_commune_file, read_commune_file
from oasis_mcp.data.commune_names import load_referential, resolve_commune
from oasis_mcp.data.communes import CommuneDataMissing, commune_level
from oasis_mcp.errors import AmbiguousNameError, DataFileError, LookupFailed, UnknownNameError
from tests.commune_synthetic import DEP_2024, DEP_2025, SHARED, Generated, make_commune_file

pytestmark = pytest.mark.skipif(not (SHARED / DEP_2025).is_file() or not (
    SHARED / "cog" / "communes.json").is_file(), reason="needs the real files in shared/data")

DEPS = ("75", "69", "13", "93", "974", "2A", "2B", "26", "11", "30", "01", "976")


@pytest.fixture(scope="module", autouse=True)
def cache_env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    cache = tmp_path_factory.mktemp("cache")
    old = os.environ.get("OASIS_CACHE_DIR")
    os.environ["OASIS_CACHE_DIR"] = str(cache)
    yield cache
    if old is None:
        os.environ.pop("OASIS_CACHE_DIR", None)
    else:
        os.environ["OASIS_CACHE_DIR"] = old


def _data_dir(root: Path, dep: str = DEP_2025, with_names: bool = True) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / dep).symlink_to(SHARED / dep)
    if with_names:
        (root / "cog").symlink_to(SHARED / "cog")
    return root


@pytest.fixture(scope="module")
def current(tmp_path_factory: pytest.TempPathFactory, cache_env: Path) -> Generated:
    root = _data_dir(tmp_path_factory.mktemp("current"))
    return make_commune_file(root, DEPS, max_communes_per_department=30, seed=1)


@pytest.fixture(scope="module")
def legacy(tmp_path_factory: pytest.TempPathFactory, cache_env: Path) -> Generated:
    root = _data_dir(tmp_path_factory.mktemp("legacy"), DEP_2024)
    return make_commune_file(
        root, DEPS, layout="legacy", max_communes_per_department=30, seed=2, compress=False,
        name="donnee-comm-data.gouv-2024-geographie2024-produit-le2025-01-26.csv")


# --- parsing -----------------------------------------------------------------------------------


@pytest.mark.parametrize("which", ["current", "legacy"])
def test_both_layouts_parse_and_keep_withheld_apart(which: str, request: Any) -> None:
    gen: Generated = request.getfixturevalue(which)
    table = parse_commune_file(gen.path)
    assert table.layout == which
    assert table.geography_year == (2025 if which == "current" else 2024)
    assert table.first_year > 2000 and table.last_year == int(gen.frame["year"].max())
    frame = gen.frame
    assert len(table.codes) == frame["code"].nunique() > 300
    # every generated row is where it should be, withheld ones as WITHHELD (never 0)
    for row in frame.sample(400, random_state=0).itertuples():
        r = table.position[row.code]
        i = table.indicator_position[row.indicator]
        k = int(np.searchsorted(table.years, row.year))
        if row.published:
            assert table.count[r, i, k] == row.count
        else:
            assert table.count[r, i, k] == WITHHELD
            assert np.isnan(table.rate_per_1000[r, i, k])
            assert table.complement_count[r, i, k] == pytest.approx(row.complement, rel=1e-5)
    assert (table.count == WITHHELD).sum() == (~frame["published"]).sum() > 0
    assert (table.count == ABSENT).sum() == 0
    # published zeros stay zeros, distinct from withheld
    assert ((table.count == 0).sum() == ((frame["count"] == 0) & frame["published"]).sum())


TABLE_ARRAYS = ("codes", "years", "count", "rate_per_1000", "complement_count",
                "complement_rate", "population", "population_vintage", "dwellings")


def assert_same_table(a: Any, b: Any) -> None:
    assert (a.name, a.sha256, a.layout, a.geography_year, a.nomenclature, a.indicators,
            a.units) == (b.name, b.sha256, b.layout, b.geography_year, b.nomenclature,
                         b.indicators, b.units)
    for key in TABLE_ARRAYS:
        np.testing.assert_array_equal(getattr(a, key), getattr(b, key), err_msg=key)


def test_cache_round_trip(current: Generated, cache_env: Path) -> None:
    first = read_commune_file(current.path)
    entries = [p for p in (cache_env / "communes").iterdir() if not p.name.startswith(".")]
    assert len(entries) == 1 and first.store_dir == entries[0]
    # plain arrays and JSON: every array loads with pickle refused; nothing is staged any more
    assert (entries[0] / "meta.json").is_file()
    # readable by another account, as the umask allows (the staging directory was 0700)
    umask = os.umask(0o022)
    os.umask(umask)
    assert entries[0].stat().st_mode & 0o777 == 0o777 & ~umask
    assert all(p.stat().st_mode & 0o777 == 0o666 & ~umask for p in entries[0].iterdir())
    for key in TABLE_ARRAYS:
        np.load(entries[0] / f"{key}.npy", allow_pickle=False)
    assert not list((cache_env / "communes").glob(".staging-*"))
    again = read_commune_file(current.path)
    assert isinstance(again.count, np.memmap) and not again.count.flags.writeable
    assert_same_table(again, first)
    assert_same_table(again, parse_commune_file(current.path))  # in memory, no cache


def test_tiny_chunks_and_blocks_build_the_same_table(current: Generated, legacy: Generated,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """The first pass reads the file in chunks and the second reads the spilled rows back in
    blocks: with chunks and blocks much smaller than the file (odd sizes, so that they never
    line up), the table is the same."""
    whole = {g.path.name: parse_commune_file(g.path) for g in (current, legacy)}
    monkeypatch.setattr(commune_file, "CHUNK_ROWS", 997)
    monkeypatch.setattr(commune_store, "BLOCK_ROWS", 1_531)
    for gen in (current, legacy):
        assert_same_table(parse_commune_file(gen.path), whole[gen.path.name])


def test_a_duplicate_in_a_later_block_names_both_lines(current: Generated, tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    lines = gzip.decompress(current.path.read_bytes()).decode().split("\n")
    bad = tmp_path / current.path.name.removesuffix(".gz")
    bad.write_text("\n".join([*lines[:-1], lines[5], ""]))
    monkeypatch.setattr(commune_store, "BLOCK_ROWS", 1_000)
    staging = commune_store.new_staging_dir()
    assert staging is not None
    with pytest.raises(DataFileError, match=rf"duplicate rows .*\(lines 6, {len(lines)}\)"):
        parse_commune_file(bad, store_dir=staging)
    assert list(staging.iterdir()) == []  # a failed parse leaves its directory empty
    commune_store.discard(staging)


def test_a_changed_file_replaces_its_cache_entry(current: Generated, tmp_path: Path,
                                                 cache_env: Path) -> None:
    copy = tmp_path / current.path.name
    copy.write_bytes(current.path.read_bytes())
    first = read_commune_file(copy)
    assert first.store_dir is not None and first.store_dir.is_dir()
    os.utime(copy, ns=(copy.stat().st_atime_ns, copy.stat().st_mtime_ns + 10**9))
    second = read_commune_file(copy)
    assert second.store_dir != first.store_dir and second.store_dir is not None
    assert not first.store_dir.exists() and second.store_dir.is_dir()
    np.testing.assert_array_equal(first.count, second.count)  # the old mapping still reads
    copy.unlink()
    other = tmp_path / "other" / current.path.name
    other.parent.mkdir()
    other.write_bytes(current.path.read_bytes())
    read_commune_file(other)  # committing an entry prunes those whose source is gone
    assert not second.store_dir.exists()


def test_an_unwritable_cache_holds_the_table_in_memory(
        current: Generated, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    blocked = tmp_path / "not-a-directory"
    blocked.write_text("")
    monkeypatch.setenv("OASIS_CACHE_DIR", str(blocked))
    table = read_commune_file(current.path)
    assert table.store_dir is None and not isinstance(table.count, np.memmap)
    assert_same_table(table, parse_commune_file(current.path))


def _rewrite(src: Path, dst: Path, edit: Any) -> Path:
    text = gzip.decompress(src.read_bytes()).decode()
    lines = text.split("\n")
    lines = edit(lines)
    dst.write_text("\n".join(lines))
    return dst


@pytest.mark.parametrize("edit,expected", [
    (lambda ls: [ls[0].replace('"est_diffuse";', '"diffusion";'), *ls[1:]],
     "missing column(s) est_diffuse"),
    (lambda ls: [ls[0].replace("CODGEO_2025", "CODE"), *ls[1:]], "CODGEO_<geography year>"),
    (lambda ls: [ls[0], ls[1].replace('"diff"', '"maybe"').replace('"ndiff"', '"maybe"'),
                 *ls[2:]], "line 2: est_diffuse must be 'diff' or 'ndiff'"),
    (lambda ls: [ls[0], ls[1].replace("Cambriolages de logement", "Cambriolage"), *ls[2:]],
     "line 2: unknown indicator 'Cambriolage'"),
    (lambda ls: [*ls[:-1], ls[1], ""], "duplicate rows for commune"),
    (lambda ls: [ls[0], ls[1].replace(ls[1].split(";")[0], '"ABCDE"', 1), *ls[2:]],
     "'ABCDE' is not a commune code"),
])
def test_invalid_files_fail_loudly(current: Generated, tmp_path: Path, edit: Any,
                                   expected: str) -> None:
    bad = _rewrite(current.path, tmp_path / "donnee-comm-bad.csv", edit)
    with pytest.raises(DataFileError) as exc:
        parse_commune_file(bad)
    assert expected in str(exc.value)
    assert "donnee-comm-bad.csv" in str(exc.value)


def test_published_row_without_count_is_an_error(current: Generated, tmp_path: Path) -> None:
    def edit(ls: list[str]) -> list[str]:
        i = next(j for j, line in enumerate(ls) if '"diff"' in line)
        fields = ls[i].split(";")
        fields[4] = '"NA"'
        ls[i] = ";".join(fields)
        return ls

    bad = _rewrite(current.path, tmp_path / "donnee-comm-na.csv", edit)
    with pytest.raises(DataFileError, match=r"published .* has no count"):
        parse_commune_file(bad)


# --- consistency with the real departmental file -------------------------------------------


def test_synthetic_communes_sum_back_to_the_departmental_file(current: Generated) -> None:
    """Published counts plus complements of withheld communes (arrondissements left out) give
    the real departmental count for every department, indicator and year."""
    from oasis_mcp.data.parsing import read_ssmsi_file

    dep = read_ssmsi_file(SHARED / DEP_2025).frame.set_index(["area", "indicator", "year"])
    table = parse_commune_file(current.path)
    communes = commune_level(current.path.parent)
    rows = ~communes.arrondissement_mask
    deps = communes.departments
    checked = 0
    for d in DEPS:
        sel = np.flatnonzero(rows & (deps == d))
        for i, label in enumerate(table.indicators):
            for k, year in enumerate(table.years.tolist()):
                c = table.count[sel, i, k]
                comp = table.complement_count[sel, i, k]
                total = c[c >= 0].sum() + np.nansum(comp[c == WITHHELD].astype(float))
                assert total == pytest.approx(dep.loc[(d, label, year), "count"], abs=0.05)
                checked += 1
    assert checked == len(DEPS) * len(table.indicators) * len(table.years)
    # arrondissements sum to their commune where all are published
    paris = table.position["75056"]
    arr = np.flatnonzero(np.char.startswith(table.codes, "751"))
    i = table.indicator_position["Vols sans violence contre des personnes"]
    assert table.count[arr, i].min() >= 0
    np.testing.assert_array_equal(table.count[arr, i].sum(axis=0), table.count[paris, i])


def test_coverage_of_department_by_published_communes(current: Generated) -> None:
    from oasis_mcp.data.dataset import load_dataset
    from oasis_mcp.query import index_for
    from oasis_mcp.query_communes import department_coverage

    idx = index_for(load_dataset(current.path.parent))
    level = commune_level(current.path.parent)
    cov = department_coverage(idx, level, "2B", "Cambriolages de logement", 2025)
    truth = current.frame
    sel = truth[(truth["code"].str.startswith("2B")) & (truth["year"] == 2025)
                & (truth["indicator"] == "Cambriolages de logement") & truth["published"]]
    assert cov["published"] == int(sel["count"].sum())
    assert cov["department"] == idx.series[("department", "2B",
                                            "Cambriolages de logement")].by_year[2025].count
    assert cov["coverage_pct"] == round(cov["published"] / cov["department"] * 100, 1)
    assert cov["withheld_communes"] > 0 and cov["coverage_pct"] < 100


# --- names -------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def names() -> commune_names.CommuneNames:
    found = load_referential(SHARED)
    assert found is not None
    return found


@pytest.mark.parametrize("query,code", [
    ("Saint-Denis (93)", "93066"), ("Saint-Denis 974", "97411"), ("St-Denis (La Réunion)", "97411"),
    ("Valence, Drôme", "26362"), ("Valence (26)", "26362"), ("valence 26000", "26362"),
    ("26000", "26362"), ("33063", "33063"), ("Bordeaux", "33063"), ("2A004", "2A004"),
    ("2a004", "2A004"), ("Ajaccio", "2A004"), ("Bastia", "2B033"), ("Paris 15e", "75115"),
    ("paris 1er arrondissement", "75101"), ("Lyon 3", "69383"), ("Marseille 8e", "13208"),
    ("75015", "75115"), ("Paris", "75056"), ("Mamoudzou", "97611"), ("Saint-Denis, Aude", "11339"),
])
def test_resolution(names: commune_names.CommuneNames, query: str, code: str) -> None:
    assert resolve_commune(query, names).commune.code == code


def test_homonyms_get_candidates_with_departments(names: commune_names.CommuneNames) -> None:
    with pytest.raises(AmbiguousNameError) as exc:
        resolve_commune("Saint-Denis", names)
    message = str(exc.value)
    for dep in ("Seine-Saint-Denis, 93", "La Réunion, 974", "Aude, 11", "Gard, 30"):
        assert dep in message
    for suggestion in exc.value.suggestions:  # each candidate resolves back
        assert resolve_commune(suggestion, names).commune.name == "Saint-Denis"
    with pytest.raises(AmbiguousNameError):
        resolve_commune("Valence", names)


def test_bad_hints_and_unknown_names(names: commune_names.CommuneNames) -> None:
    with pytest.raises(UnknownNameError, match="No commune named Valence in Gironde"):
        resolve_commune("Valence (Gironde)", names)
    with pytest.raises(UnknownNameError, match="Did you mean") as exc:
        resolve_commune("Bordaux", names)
    assert "Bordeaux (33)" in exc.value.suggestions
    with pytest.raises(UnknownNameError, match="arrondissements 1 to 20"):
        resolve_commune("Paris 25e", names)


def test_merged_commune_uses_the_file_geography(names: commune_names.CommuneNames) -> None:
    in_file = resolve_commune("01340", names, {"01340", "01015"})
    assert in_file.commune.code == "01340" and "former commune" in in_file.notes[0]
    merged = resolve_commune("01340", names, {"01015"})
    assert merged.commune.code == "01015" and "merged into" in merged.notes[0]
    with pytest.raises(UnknownNameError, match="formed from 01340"):
        resolve_commune("01015", names, {"01340"})


def test_codes_work_without_the_referential() -> None:
    found = resolve_commune("33063", None, {"33063"})
    assert found.commune.code == "33063" and "unavailable" in found.notes[0]
    with pytest.raises(UnknownNameError, match=r"communes\.json"):
        resolve_commune("Bordeaux", None, {"33063"})


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.text(max_size=80))
def test_any_text_resolves_or_fails_cleanly(text: str) -> None:
    names = load_referential(SHARED)
    try:
        found = resolve_commune(text, names)
    except LookupFailed as exc:
        assert str(exc)
    else:
        assert found.commune.code


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.integers(min_value=0, max_value=10**6), st.sampled_from(["label", "code", "upper"]))
def test_referential_communes_resolve_back(pick: int, form: str) -> None:
    names = load_referential(SHARED)
    assert names is not None
    current = sorted(c for c, x in names.by_code.items() if x.kind != "former")
    commune = names.by_code[current[pick % len(current)]]
    query = {"label": commune.label, "code": commune.code,
             "upper": commune.label.upper()}[form]
    try:
        assert resolve_commune(query, names).commune.code == commune.code
    except AmbiguousNameError as exc:  # homonyms within one department: the code is offered
        assert form != "code" and commune.code in exc.value.suggestions


def test_communes_of_overseas_collectivities_resolve_by_their_label() -> None:
    """The referential also lists communes of collectivities that are no SSMSI department
    (975, 977, 978, 98x): 'Saint-Barthélemy (977)' is read with the referential's code (found by
    the hypothesis test above)."""
    names = load_referential(SHARED)
    assert names is not None
    others = [x for c, x in names.by_code.items()
              if x.kind != "former" and x.department in {"975", "977", "978"}]
    assert others
    for commune in others:
        assert resolve_commune(commune.label, names).commune.code == commune.code


# --- tools -------------------------------------------------------------------------------------


def _call(data_dir: Path, calls: list[tuple[str, dict[str, Any]]]) -> list[Any]:
    from oasis_mcp.server import create_server

    async def run() -> list[Any]:
        async with Client(create_server(data_dir=data_dir)) as client:
            return [await client.call_tool(name, args) for name, args in calls]

    return asyncio.run(run())


def _json(result: Any) -> dict[str, Any]:
    assert not result.is_error, result.content[0].text
    data: dict[str, Any] = result.structured_content
    return data


def test_tools_at_commune_level(current: Generated) -> None:
    d = current.path.parent
    hist, ambiguous, ranking, listing, found, fc, bad_year, homicide = _call(d, [
        ("get_history", {"area": "Saint-Denis (93)", "indicator": "burglary", "level": "commune"}),
        ("get_history", {"area": "Saint-Denis", "indicator": "burglary", "level": "commune"}),
        ("compare_regions", {"indicator": "burglary", "level": "commune", "within": "2B",
                             "limit": 5}),
        ("list_regions", {"level": "commune", "department": "13", "limit": 20}),
        ("find_area", {"query": "Saint-Denis"}),
        ("forecast", {"area": "97411", "indicator": "vols sans violence", "level": "commune"}),
        ("compare_regions", {"indicator": "burglary", "level": "commune", "year": 2028}),
        ("get_history", {"area": "Bastia", "indicator": "homicides", "level": "commune"}),
    ])
    h = _json(hist)
    assert h["area"] == {"code": "93066", "name": "Saint-Denis", "level": "commune"}
    assert h["geography_year"] == 2025 and any("geography 2025" in w for w in h["warnings"])
    assert ambiguous.is_error and "Seine-Saint-Denis, 93" in ambiguous.content[0].text
    r = _json(ranking)
    assert r["level"] == "commune" and r["within"]["code"] == "2B"
    assert r["min_population"] == 5000
    assert all(x["population"] >= 5000 for x in r["ranking"])
    assert r["count_ranking"] and r["count_ranking"][0]["value"] >= r["count_ranking"][-1]["value"]
    assert 0 < r["coverage_pct"] <= 100 and r["not_ranked"]["withheld"] >= 0
    lst = _json(listing)
    codes = [a["code"] for a in lst["areas"]]
    assert "13055" in codes and lst["total"] >= len(codes)
    assert any(a["parent_code"] == "13055" for a in lst["areas"]) or lst["next_offset"]
    f = _json(found)
    assert {m["department_code"] for m in f["matches"] if m["name"] == "Saint-Denis (93)"} == {"93"}
    assert len([m for m in f["matches"] if m["name"].startswith("Saint-Denis (")]) == 4
    if fc.is_error:  # the rule is computed from the series: either way it explains itself
        assert "department" in fc.content[0].text and "backtest" in fc.content[0].text
    else:
        body = _json(fc)
        assert body["model"]["ratio_to_naive"] < 1 and body["forecasts"]
    assert bad_year.is_error and "department" in bad_year.content[0].text
    assert homicide.is_error and "not published at commune level" in homicide.content[0].text


def test_withheld_years_are_never_zero(current: Generated) -> None:
    frame = current.frame
    mixed = frame.groupby(["code", "indicator"])["published"].agg(["sum", "count"])
    mixed = mixed[(mixed["sum"] > 0) & (mixed["sum"] < mixed["count"])]
    code, label = mixed.index[0]
    (result,) = _call(current.path.parent, [
        ("get_history", {"area": code, "indicator": label, "level": "commune"})])
    h = _json(result)
    truth = frame[(frame["code"] == code) & (frame["indicator"] == label)]
    withheld_years = sorted(truth.loc[~truth["published"], "year"].tolist())
    assert [w["year"] for w in h["withheld"]] == withheld_years
    assert {p["year"] for p in h["points"]}.isdisjoint(withheld_years)
    assert any(f"{len(withheld_years)} of " in w and "not 0" in w for w in h["warnings"])
    for p in h["points"]:
        assert p["count"] == int(truth.loc[truth["year"] == p["year"], "count"].iloc[0])


def test_without_commune_file_the_rest_works(tmp_path: Path, cache_env: Path) -> None:
    d = _data_dir(tmp_path / "nocomm")
    dep, commune, found = _call(d, [
        ("get_history", {"area": "33", "indicator": "burglary", "level": "department"}),
        ("get_history", {"area": "33063", "indicator": "burglary", "level": "commune"}),
        ("find_area", {"query": "Gironde"}),
    ])
    assert not dep.is_error
    assert commune.is_error and "oasis-mcp data update" in commune.content[0].text
    assert _json(found)["matches"][0]["code"] == "33"
    with pytest.raises(CommuneDataMissing):
        commune_level(d)


def test_without_referential_codes_still_work(tmp_path: Path, cache_env: Path) -> None:
    d = _data_dir(tmp_path / "nonames", with_names=False)
    make_commune_file(d, ("33",), max_communes_per_department=10)
    ok, by_name = _call(d, [
        ("get_history", {"area": "33063", "indicator": "burglary", "level": "commune"}),
        ("get_history", {"area": "Bordeaux", "indicator": "burglary", "level": "commune"}),
    ])
    assert _json(ok)["area"]["code"] == "33063"
    assert by_name.is_error and "communes.json" in by_name.content[0].text


def test_department_queries_do_not_load_the_commune_level(current: Generated) -> None:
    code = (
        "import asyncio, sys\n"
        "from mcp import Client\n"
        "from oasis_mcp.server import create_server\n"
        "async def main():\n"
        f"    async with Client(create_server(data_dir={str(current.path.parent)!r})) as c:\n"
        "        r = await c.call_tool('get_history', {'area': '33', 'indicator': 'burglary',"
        " 'level': 'department'})\n"
        "        assert not r.is_error\n"
        "    print('oasis_mcp.data.communes' in sys.modules,"
        " 'oasis_mcp.data.commune_file' in sys.modules)\n"
        "asyncio.run(main())\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=120, env={**os.environ})
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["False", "False"]


def test_every_tool_at_commune_level_over_stdio(current: Generated) -> None:
    from mcp.client.stdio import StdioServerParameters, stdio_client

    env = {k: v for k, v in os.environ.items() if k.startswith("OASIS_") or k == "PYTHONPATH"}
    env["OASIS_DATA_DIR"] = str(current.path.parent)
    params = StdioServerParameters(command=sys.executable, args=["-m", "oasis_mcp.cli", "serve"],
                                   env=env)
    calls: list[tuple[str, dict[str, Any]]] = [
        ("list_regions", {"level": "commune", "department": "2A", "limit": 5}),
        ("get_history", {"area": "Ajaccio", "indicator": "burglary", "level": "commune"}),
        ("compare_regions", {"indicator": "vols sans violence", "level": "commune",
                             "within": "Corse", "min_population": 1000}),
        ("forecast", {"area": "2A004", "indicator": "burglary", "level": "commune"}),
        ("find_area", {"query": "Bastia"}),
        ("list_indicators", {}),
    ]

    async def run() -> list[Any]:
        async with Client(stdio_client(params)) as client:
            return [await client.call_tool(n, a) for n, a in calls]

    results = asyncio.run(asyncio.wait_for(run(), 90))
    listing, hist, ranking, fc, found, _ = results
    assert [a["code"] for a in _json(listing)["areas"]][:2] == ["2A001", "2A004"]
    assert _json(hist)["area"]["code"] == "2A004"
    assert {x["code"][:2] for x in _json(ranking)["ranking"]} <= {"2A", "2B"}
    assert not fc.is_error or "department" in fc.content[0].text
    assert _json(found)["matches"][0]["code"] == "2B033"
    json.dumps([r.structured_content for r in results])


def test_commune_resource_is_picked_from_the_dataset_listing() -> None:
    from oasis_mcp.data.commune_file import commune_resource

    base = "https://static.data.gouv.fr/resources/x/2026/"
    payload = {"resources": [
        {"url": base + "donnee-dep-data.gouv-2025-geographie2025-produit-le2026-01-22.csv",
         "format": "csv"},
        {"url": base + "donnee-comm-data.gouv-parquet-2025-geographie2026-produit-le2026-06-25"
         ".parquet", "format": "parquet"},
        {"url": base + "donnee-comm-data.gouv-2024-geographie2025-produit-le2025-06-04.csv.gz",
         "format": "csv.gz"},
        {"url": base + "donnee-comm-data.gouv-2025-geographie2025-produit-le2026-01-22.csv.gz",
         "format": "csv.gz", "filesize": 41_000_000},
    ]}
    found = commune_resource(payload)
    assert found is not None and found.data_year == 2025 and found.filesize == 41_000_000
    assert found.name.endswith("produit-le2026-01-22.csv.gz")
    assert commune_resource({"resources": payload["resources"][:2]}) is None
    assert commune_resource("nonsense") is None
