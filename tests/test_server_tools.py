"""Every tool, resource and prompt through the SDK's in-process ``Client``: valid and invalid
input, structured output against the published schema, missing data and artifacts, unexpected
errors, lazy loading."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
import synthetic_artifacts as synthetic
from conftest import DEP_2025, REAL_SHA256
from mcp import Client
from mcp.shared.exceptions import MCPError
from mcp.types import CallToolResult

from oasis_mcp import query
from oasis_mcp.data.dataset import load_dataset
from oasis_mcp.server import create_server

pytestmark = pytest.mark.anyio






@pytest.fixture(scope="module")
def art_dir(edition_2025_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return synthetic.write_synthetic_artifacts(tmp_path_factory.mktemp("art"),
                                               load_dataset(edition_2025_dir))


@pytest.fixture(scope="module")
def server(edition_2025_dir: Path, art_dir: Path) -> Any:
    return create_server(data_dir=edition_2025_dir, artifacts_dir=art_dir)


@asynccontextmanager
async def connect(server: Any, **kwargs: Any) -> AsyncIterator[Client]:
    async with Client(server, **kwargs) as client:
        yield client


async def call(server: Any, name: str, args: dict[str, Any]) -> CallToolResult:
    async with connect(server) as client:
        return await client.call_tool(name, args)


def ok(result: CallToolResult) -> dict[str, Any]:
    assert not result.is_error, result.content
    assert result.structured_content is not None
    text = result.content[0].text  # type: ignore[union-attr]
    assert json.loads(text) == result.structured_content  # same data, compact JSON
    return result.structured_content


def error(result: CallToolResult) -> str:
    assert result.is_error
    text = result.content[0].text  # type: ignore[union-attr]
    assert "Traceback" not in text
    return text


# -- valid calls ------------------------------------------------------------------------------


async def test_list_regions(server: Any) -> None:
    regions = ok(await call(server, "list_regions", {}))
    assert regions["count"] == 18 and regions["level"] == "region"
    deps = ok(await call(server, "list_regions", {"level": "department"}))
    assert deps["count"] == 101
    assert {"code": "2A", "name": "Corse-du-Sud"}.items() <= next(
        a for a in deps["areas"] if a["code"] == "2A").items()
    occ = ok(await call(server, "list_regions", {"region": "Occitania"}))
    assert occ["level"] == "department" and occ["count"] == 13
    assert all(a["region_code"] == "76" for a in occ["areas"])
    country = ok(await call(server, "list_regions", {"level": "country"}))
    assert [a["code"] for a in country["areas"]] == ["FR", "FM"]


async def test_list_indicators(server: Any) -> None:
    catalog = ok(await call(server, "list_indicators", {}))
    assert len(catalog["indicators"]) == 18
    burglary = next(i for i in catalog["indicators"] if i["slug"] == "burglary")
    assert burglary["denominator"] == "dwellings" and burglary["caveats"]
    assert catalog["first_year"] == 2016 and catalog["last_year"] == 2025


async def test_get_history_matches_the_query_layer(server: Any) -> None:
    result = ok(await call(server, "get_history", {
        "area": "Brittany", "indicator": "cambriolages", "start_year": 2020}))
    assert result["area"] == {"code": "53", "name": "Bretagne", "level": "region"}
    assert result["indicator"]["slug"] == "burglary"
    assert [p["year"] for p in result["points"]] == list(range(2020, 2026))
    idx = server.state.index()
    expected = query.get_history(idx, "Brittany", "cambriolages", start_year=2020)
    assert result == expected.model_dump(mode="json")
    dep = ok(await call(server, "get_history", {
        "area": "93", "indicator": "drug-trafficking", "level": "department"}))
    assert dep["area"]["name"] == "Seine-Saint-Denis" and not dep["upper_bound"]
    numeric = ok(await call(server, "get_history", {  # codes sent as JSON numbers
        "area": 33, "indicator": "homicide", "level": "department"}))
    assert numeric["area"]["name"] == "Gironde"
    fr = ok(await call(server, "get_history", {
        "area": "France", "indicator": "drug-trafficking", "level": "country"}))
    assert fr["upper_bound"] and fr["derived"]


async def test_region_history_is_the_sum_of_its_departments(server: Any) -> None:
    async with connect(server) as client:
        deps = ok(await client.call_tool("list_regions", {"region": "Occitanie"}))["areas"]
        for indicator in ("homicide", "sexual-violence"):
            region = ok(await client.call_tool("get_history", {"area": "76",
                                                               "indicator": indicator}))
            totals = [0] * len(region["points"])
            for dep in deps:
                history = ok(await client.call_tool("get_history", {
                    "area": dep["code"], "indicator": indicator, "level": "department"}))
                totals = [t + p["count"] for t, p in zip(totals, history["points"], strict=True)]
            assert totals == [p["count"] for p in region["points"]]


async def test_forecast(server: Any) -> None:
    result = ok(await call(server, "forecast", {
        "area": "Occitanie", "indicator": "homicide", "horizon": 1}))
    assert [p["year"] for p in result["forecasts"]] == [2026]
    assert result["model"]["name"] == "lightgbm" and result["model"]["backtested"]
    assert result["model"]["mase_by_horizon"] == {"1": 0.84}
    assert result["last_observed"][-1]["year"] == 2025
    assert result["warnings"] == [] and result["training_edition"] == result["data_edition"]
    longer = ok(await call(server, "forecast", {"area": "Occitanie", "indicator": "homicide"}))
    assert any("horizons up to 1" in w for w in longer["warnings"])
    default = ok(await call(server, "forecast", {"area": "2B", "indicator": "burglary",
                                                 "level": "department"}))
    assert default["forecasts"][-1]["year"] == 2030


async def test_compare_regions(server: Any) -> None:
    result = ok(await call(server, "compare_regions", {"indicator": "violences sexuelles"}))
    assert result["year"] == 2025 and not result["is_forecast"]
    assert len(result["ranking"]) == 18 and result["ranking"][0]["rank"] == 1
    assert result["national"]["code"] == "FR"
    some = ok(await call(server, "compare_regions", {
        "indicator": "burglary", "level": "department", "areas": ["Paris", 13, "Gironde"],
        "measure": "count", "year": 2018}))
    assert {r["code"] for r in some["ranking"]} == {"75", "13", "33"}
    assert some["out_of"] == 101 and some["measure"] == "count"
    future = ok(await call(server, "compare_regions", {"indicator": "burglary", "year": 2029}))
    assert future["is_forecast"] and future["warnings"]


async def test_a_department_number_read_as_a_region_code_is_flagged(server: Any) -> None:
    history = ok(await call(server, "get_history", {"area": "75", "indicator": "burglary"}))
    assert history["area"]["name"] == "Nouvelle-Aquitaine"  # the documented reading is kept
    assert history["warnings"] == [
        "'75' was read as the region code 75 (Nouvelle-Aquitaine); for the department 75 "
        "(Paris) use level='department'."]
    by_name = ok(await call(server, "get_history", {"area": "Nouvelle-Aquitaine",
                                                    "indicator": "burglary"}))
    assert by_name["warnings"] == []
    paris = ok(await call(server, "get_history", {"area": "75", "indicator": "burglary",
                                                  "level": "department"}))
    assert paris["area"]["name"] == "Paris" and paris["warnings"] == []
    compared = ok(await call(server, "compare_regions", {"indicator": "burglary",
                                                         "areas": ["93", "Bretagne"]}))
    assert [w for w in compared["warnings"] if "department 93 (Seine-Saint-Denis)" in w]
    assert not [w for w in compared["warnings"] if "Bretagne" in w]
    predicted = ok(await call(server, "forecast", {"area": 6, "indicator": "homicide",
                                                   "horizon": 1}))
    assert predicted["area"]["name"] == "Mayotte"
    assert "department 06 (Alpes-Maritimes)" in predicted["warnings"][0]
    again = ok(await call(server, "forecast", {"area": "Mayotte", "indicator": "homicide",
                                               "horizon": 1}))
    assert not [w for w in again["warnings"] if "Alpes-Maritimes" in w]  # not cached per area


async def test_model_metrics(server: Any) -> None:
    result = ok(await call(server, "model_metrics", {}))
    assert [b["level"] for b in result["levels"]] == ["country", "region", "department"]
    one = ok(await call(server, "model_metrics", {"level": "department"}))
    assert len(one["levels"]) == 1 and one["levels"][0]["champion"] == "lightgbm"


# -- invalid input ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "args", "expected"),
    [
        ("get_history", {"area": "Bretgne", "indicator": "burglary"}, "Bretagne"),
        ("get_history", {"area": "Bretagne", "indicator": "drugs"}, "Ambiguous"),
        ("get_history", {"area": "Bretagne", "indicator": "burglery"}, "burglary"),
        ("get_history", {"area": "Gironde", "indicator": "burglary"}, "level='department'"),
        ("get_history", {"area": "Lyon", "indicator": "burglary", "level": "department"},
         "Rhône"),
        ("get_history", {"area": "", "indicator": "burglary"}, "empty"),
        ("get_history", {"area": "53", "indicator": "burglary", "end_year": 2028},
         "2016–2025"),
        ("get_history", {"area": "53", "indicator": "burglary", "start_year": 2024,
                         "end_year": 2020}, "after end_year"),
        ("get_history", {"area": "53", "indicator": "burglary", "start_year": 1500},
         "greater than or equal to 2000"),
        ("get_history", {"area": "53", "indicator": "burglary", "level": "commune"},
         "level"),
        ("get_history", {"area": "53"}, "indicator"),
        ("get_history", {"area": "x" * 500, "indicator": "burglary"}, "at most 200"),
        ("forecast", {"area": "53", "indicator": "burglary", "horizon": 6},
         "between 1 and 5"),
        ("forecast", {"area": "53", "indicator": "burglary", "horizon": 0},
         "greater than or equal to 1"),
        ("forecast", {"area": "53", "indicator": "burglary", "horizon": 11},
         "less than or equal to 10"),
        ("compare_regions", {"indicator": "burglary", "year": 2031}, "less than or equal"),
        ("compare_regions", {"indicator": "burglary", "year": 2012}, "2016–2025"),
        ("compare_regions", {"indicator": "burglary", "areas": ["Atlantis"]}, "Unknown"),
        ("compare_regions", {"indicator": "burglary", "measure": "percent"}, "measure"),
        ("list_regions", {"level": "country", "region": "Occitanie"}, "level='department'"),
        ("list_regions", {"region": "Alsace"}, "Grand Est"),
        ("get_history", {"area": "Outre-mer", "indicator": "burglary", "level": "country"},
         "overseas France (outre-mer) as a whole is not an area"),
        ("get_history", {"area": "hors", "indicator": "burglary", "level": "country"},
         "Unknown country 'hors'"),
        ("model_metrics", {"level": "planet"}, "level"),
        ("no_such_tool", {}, "Unknown tool"),
    ],
)
async def test_bad_input_gives_a_clear_tool_error(
    server: Any, name: str, args: dict[str, Any], expected: str
) -> None:
    assert expected in error(await call(server, name, args))


@pytest.mark.parametrize(
    ("word", "suggested"),
    [("harcèlement", "sexual-violence"), ("abuse", "domestic-physical-violence"),
     ("traffic", "drug-trafficking"), ("volées", "vehicle-theft"), ("penalty", "drug-use-afd"),
     ("on-the-spot", "drug-use-afd"), ("attempts", "attempted-homicide"),
     ("invasions", "burglary")],
)
async def test_a_generic_word_of_a_common_name_is_no_indicator(
    server: Any, word: str, suggested: str
) -> None:
    message = error(await call(server, "get_history", {"area": "Bretagne", "indicator": word}))
    assert f"Unknown indicator '{word}'." in message
    assert f"[{suggested}]" in message  # the indicator with that common name, as a suggestion


@pytest.mark.parametrize(
    ("name", "args", "expected"),
    [
        ("get_history", {"area": "x" * 500, "indicator": "burglary"},
         "area is too long: at most 200 characters, got 500"),
        ("get_history", {"area": "53"}, "indicator is required"),
        ("forecast", {"area": "53", "indicator": "burglary", "horizon": 0},
         "horizon: Input should be greater than or equal to 1 (got 0)"),
        ("compare_regions", {"indicator": "burglary", "areas": ["53"] * 130},
         "areas is too long: at most 120 items, got 130"),
        ("forecast", {"area": "53", "indicator": "burglary", "horizon": 2030},
         "horizon 2030 looks like a year, but horizon counts years after the last observed year "
         "(2025): for 2030 use horizon=5"),
        ("forecast", {"area": "53", "indicator": "burglary", "horizon": "2028"},
         "for 2028 use horizon=3"),
        ("forecast", {"area": "53", "indicator": "burglary", "horizon": 2035},
         "forecasts cover 2026–2030, i.e. horizon 1 to 5"),
    ],
)
async def test_invalid_arguments_get_a_short_readable_error(
    server: Any, name: str, args: dict[str, Any], expected: str
) -> None:
    message = error(await call(server, name, args))
    assert expected in message
    assert "errors.pydantic.dev" not in message and "validation error for" not in message
    assert "\n" not in message


@pytest.mark.parametrize(
    ("name", "args", "expected"),
    [
        ("forecast", {"area": "53", "indicator": "burglary", "year": 2030},
         "Error executing tool forecast: unknown argument 'year' (did you mean 'horizon'?). "
         "forecast accepts: area, indicator, level, horizon. forecast has no year argument: "
         "horizon counts years after the last observed year (2025): for 2030 use horizon=5."),
        ("get_history", {"region": "53", "indicator": "burglary"},
         "unknown argument 'region' (did you mean 'area'?). get_history accepts: area, "
         "indicator, level, start_year, end_year."),
        ("compare_regions", {"indicator": "burglary", "yaer": 2020, "foo": 1},
         "unknown arguments 'yaer' (did you mean 'year'?), 'foo'. compare_regions accepts: "
         "indicator, year, level, areas, measure, within, min_population, limit."),
        ("list_indicators", {"verbose": True},
         "unknown argument 'verbose'. list_indicators takes no arguments."),
    ],
)
async def test_unknown_arguments_are_rejected_not_ignored(
    server: Any, name: str, args: dict[str, Any], expected: str
) -> None:
    message = error(await call(server, name, args))
    assert expected in message and "\n" not in message


# -- missing or broken data and artifacts --------------------------------------------------------


async def test_missing_artifacts_keep_history_working(
    edition_2025_dir: Path, tmp_path: Path
) -> None:
    server = create_server(data_dir=edition_2025_dir, artifacts_dir=tmp_path / "no-artifacts")
    async with connect(server) as client:
        for name, args in [("forecast", {"area": "53", "indicator": "burglary"}),
                           ("model_metrics", {}),
                           ("compare_regions", {"indicator": "burglary", "year": 2027})]:
            message = error(await client.call_tool(name, args))
            assert "No trained forecasts found in" in message and "oasis-train" in message
        ok(await client.call_tool("get_history", {"area": "53", "indicator": "burglary"}))
        ok(await client.call_tool("compare_regions", {"indicator": "burglary"}))
        card = (await client.read_resource("oasis://methodology")).contents[0]
        assert "oasis-train" in card.text  # type: ignore[union-attr]


def copy_artifacts(src: Path, dst: Path, edition: str | None = None) -> Path:
    dst.mkdir(parents=True)
    for name in ("forecasts.csv.gz", "metrics.json", "MODEL_CARD.md"):
        (dst / name).write_bytes((src / name).read_bytes())
    if edition:
        metrics = json.loads((dst / "metrics.json").read_text(encoding="utf-8"))
        metrics["edition"] = edition
        (dst / "metrics.json").write_text(json.dumps(metrics), encoding="utf-8")
    return dst


async def test_artifacts_found_once_written(
    edition_2025_dir: Path, art_dir: Path, tmp_path: Path
) -> None:
    """Training can finish while the server runs: missing artifacts are looked for again when
    the files change."""
    art = tmp_path / "later"
    server = create_server(data_dir=edition_2025_dir, artifacts_dir=art)
    async with connect(server) as client:
        args = {"area": "53", "indicator": "burglary"}
        error(await client.call_tool("forecast", args))
        copy_artifacts(art_dir, art)
        ok(await client.call_tool("forecast", args))


async def test_corrupt_artifacts(edition_2025_dir: Path, art_dir: Path, tmp_path: Path) -> None:
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "forecasts.csv.gz").write_bytes(b"\x1f\x8b garbage")
    (broken / "metrics.json").write_bytes((art_dir / "metrics.json").read_bytes())
    server = create_server(data_dir=edition_2025_dir, artifacts_dir=broken)
    async with connect(server) as client:
        message = error(await client.call_tool("forecast", {"area": "53", "indicator": "homicide"}))
        assert "unusable" in message and "oasis-train" in message
        ok(await client.call_tool("get_history", {"area": "53", "indicator": "homicide"}))


async def test_edition_mismatch_is_a_warning(
    edition_2025_dir: Path, art_dir: Path, tmp_path: Path
) -> None:
    art = copy_artifacts(art_dir, tmp_path / "old", "2024-geographie2024-produit-le2025-01-26")
    server = create_server(data_dir=edition_2025_dir, artifacts_dir=art)
    result = ok(await call(server, "forecast", {"area": "53", "indicator": "homicide"}))
    assert any("2024-geographie2024" in w for w in result["warnings"])
    metrics = ok(await call(server, "model_metrics", {}))
    assert metrics["warnings"] and metrics["training_edition"] != metrics["data_edition"]


async def test_missing_data_says_how_to_get_it(tmp_path: Path, art_dir: Path) -> None:
    server = create_server(data_dir=tmp_path / "empty", artifacts_dir=art_dir)
    async with connect(server) as client:
        for name, args in [("get_history", {"area": "53", "indicator": "burglary"}),
                           ("list_regions", {}), ("list_indicators", {}),
                           ("compare_regions", {"indicator": "burglary"})]:
            assert "oasis-mcp data update" in error(await client.call_tool(name, args))
        metrics = ok(await client.call_tool("model_metrics", {}))  # artifacts alone suffice
        assert metrics["data_edition"] == "unknown"
        with pytest.raises(MCPError, match="oasis-mcp data update"):
            await client.read_resource("oasis://dataset")
        assert (await client.list_tools()).tools  # still up


async def test_unexpected_errors_are_contained(
    server: Any, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def boom(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("secret internal detail")

    monkeypatch.setattr(query, "get_history", boom)
    async with connect(server) as client:
        message = error(await client.call_tool("get_history", {"area": "53",
                                                               "indicator": "burglary"}))
        assert "internal error" in message and "still running" in message
        assert "secret internal detail" not in message
        monkeypatch.undo()
        ok(await client.call_tool("get_history", {"area": "53", "indicator": "burglary"}))
    assert any("secret internal detail" in (r.exc_text or "") or r.exc_info for r in caplog.records)


# -- lazy loading and protocol modes ----------------------------------------------------------


async def test_nothing_is_loaded_before_the_first_tool_call(
    edition_2025_dir: Path, art_dir: Path
) -> None:
    server = create_server(data_dir=edition_2025_dir, artifacts_dir=art_dir)
    async with connect(server) as client:
        await client.list_tools()
        await client.list_resources()
        await client.list_prompts()
        assert server.state._index is None and server.state._artifacts is None
        await client.call_tool("list_indicators", {})
        assert server.state._index is not None and server.state._artifacts is None


async def test_legacy_handshake(server: Any) -> None:
    async with connect(server, mode="legacy") as client:
        ok(await client.call_tool("get_history", {"area": "Corse", "indicator": "homicide"}))
        assert client.instructions and "get_history" in client.instructions


# -- resources and prompts ----------------------------------------------------------------------


async def test_resources(server: Any) -> None:
    async with connect(server) as client:
        uris = {str(r.uri) for r in (await client.list_resources()).resources}
        assert uris == {"oasis://dataset", "oasis://indicators", "oasis://methodology"}
        dataset = json.loads(
            (await client.read_resource("oasis://dataset")).contents[0].text)  # type: ignore[union-attr]
        assert dataset["files"] == [
            {"name": DEP_2025, "level": "department", "sha256": REAL_SHA256[DEP_2025]}]
        assert "Licence Ouverte" in dataset["licence"] and dataset["caveats"]
        indicators = json.loads(
            (await client.read_resource("oasis://indicators")).contents[0].text)  # type: ignore[union-attr]
        assert len(indicators["indicators"]) == 18
        assert all(i["aliases"] for i in indicators["indicators"])
        card = (await client.read_resource("oasis://methodology")).contents[0]
        assert "Synthetic model card" in card.text  # type: ignore[union-attr]
        with pytest.raises(MCPError):
            await client.read_resource("oasis://nothing")


async def test_backtest_resource(server: Any, edition_2025_dir: Path, tmp_path: Path) -> None:
    async with connect(server) as client:
        templates = (await client.list_resource_templates()).resource_templates
        assert [t.uri_template for t in templates] == ["oasis://backtest/{level}"]
        region = json.loads(
            (await client.read_resource("oasis://backtest/region")).contents[0].text)  # type: ignore[union-attr]
        assert region["champion"] == "lightgbm" and region["rows_total"] == 18 * 18 * 2
        row = region["rows"][0]
        assert {"area", "indicator", "year", "horizon", "y_true", "y_pred"} <= set(row)
        dep = json.loads(
            (await client.read_resource("oasis://backtest/department")).contents[0].text)  # type: ignore[union-attr]
        assert dep["rows_total"] == 101 * 18 * 2 and dep["rows_shown"] <= 5000
        with pytest.raises(MCPError, match="oasis://backtest/region"):
            await client.read_resource("oasis://backtest/commune")
    bare = create_server(data_dir=edition_2025_dir, artifacts_dir=tmp_path / "none")
    async with connect(bare) as client:
        with pytest.raises(MCPError, match="oasis-train"):
            await client.read_resource("oasis://backtest/region")


async def test_prompts(server: Any) -> None:
    async with connect(server) as client:
        prompts = {p.name: p for p in (await client.list_prompts()).prompts}
        assert {"regional_briefing", "compare_indicator"} <= set(prompts)
        assert all(a.description for p in prompts.values() for a in p.arguments or [])
        briefing = await client.get_prompt("regional_briefing", {"area": "Occitanie"})
        text = briefing.messages[0].content.text  # type: ignore[union-attr]
        assert "Occitanie" in text
        for tool in ("get_history", "compare_regions", "forecast", "model_metrics"):
            assert tool in text
        compare = await client.get_prompt("compare_indicator", {"indicator": "burglary",
                                                                "level": "department"})
        text = compare.messages[0].content.text  # type: ignore[union-attr]
        assert "compare_regions" in text and "department" in text
        with pytest.raises(MCPError):
            await client.get_prompt("regional_briefing", {})


async def test_real_artifacts_when_trained(edition_2025_dir: Path) -> None:
    """Against the artifacts written by ``oasis-train`` (``artifacts/`` or
    ``$OASIS_ARTIFACTS_DIR``), when they exist."""
    from oasis_mcp import config

    art = config.artifacts_dir()
    if not (art / "forecasts.csv.gz").is_file():
        pytest.skip(f"no trained artifacts in {art}")
    metrics = json.loads((art / "metrics.json").read_text(encoding="utf-8"))
    server = create_server(data_dir=edition_2025_dir, artifacts_dir=art)
    async with connect(server) as client:
        board = ok(await client.call_tool("model_metrics", {}))
        for level in board["levels"]:
            assert level["champion"] == metrics["levels"][level["level"]]["champion"]
        for level, area in (("country", "FR"), ("region", "Bretagne"), ("department", "2A")):
            for indicator in ("burglary", "homicide", "drug-use-afd"):
                fc = ok(await client.call_tool("forecast", {
                    "area": area, "indicator": indicator, "level": level}))
                assert fc["forecasts"][-1]["year"] == 2030
                for point in fc["forecasts"]:
                    for iv in (point["count"], point["rate_per_100k"]):
                        assert iv["lo_95"] <= iv["lo_80"] <= iv["value"] <= iv["hi_80"]
                        assert iv["hi_80"] <= iv["hi_95"]
        ranking = ok(await client.call_tool("compare_regions", {"indicator": "burglary",
                                                                "year": 2030}))
        assert ranking["is_forecast"] and ranking["out_of"] == 18
        card = (await client.read_resource("oasis://methodology")).contents[0]
        assert "Model card" in card.text or "model card" in card.text  # type: ignore[union-attr]
