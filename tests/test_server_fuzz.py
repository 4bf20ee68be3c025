"""Property-based fuzzing of every tool's arguments (Hypothesis): whatever the arguments, a call
returns either a result that conforms to the tool's output schema or a tool error with a message
and no traceback, and the server keeps answering.

``OASIS_FUZZ_EXAMPLES=500`` runs a longer, randomised campaign."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
import synthetic_artifacts as synthetic
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from mcp import Client

from oasis_mcp.data.dataset import load_dataset
from oasis_mcp.server import create_server

pytestmark = pytest.mark.anyio




@pytest.fixture(scope="module")
def server(edition_2025_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Any:
    art = synthetic.write_synthetic_artifacts(tmp_path_factory.mktemp("art"),
                                                      load_dataset(edition_2025_dir))
    return create_server(data_dir=edition_2025_dir, artifacts_dir=art)


AREAS = ["Bretagne", "53", "Brittany", "Gironde", "2A", "2a", "971", "France", "FR", "FM",
         "Île-de-France", "paca", "Corse", "Lyon", "Alsace", "région Bretagne", "le 93", "06"]
INDICATORS = ["burglary", "homicide", "drugs", "Violences sexuelles", "cambriolages",
              "drug-use-afd", "vols", "car theft", "Escroqueries"]
LEVELS = ["region", "department", "country"]
json_scalars = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text()
any_json = st.recursive(json_scalars, lambda c: st.lists(c, max_size=4)
                        | st.dictionaries(st.text(max_size=5), c, max_size=3), max_leaves=8)
names = st.sampled_from(AREAS + INDICATORS) | st.text(max_size=40) | st.text(
    alphabet=st.characters(codec="utf-8"), min_size=150, max_size=260)
years = st.integers(min_value=1990, max_value=2040) | st.none()


def value(good: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """Mostly plausible values, sometimes anything JSON can carry."""
    return st.one_of(good, good, good, any_json)


ARGS: dict[str, dict[str, st.SearchStrategy[Any]]] = {
    "list_regions": {"level": value(st.sampled_from(LEVELS)), "region": value(names | st.none())},
    "list_indicators": {},
    "get_history": {"area": value(names), "indicator": value(names),
                    "level": value(st.sampled_from(LEVELS)), "start_year": value(years),
                    "end_year": value(years)},
    "forecast": {"area": value(names), "indicator": value(names),
                 "level": value(st.sampled_from(LEVELS)),
                 "horizon": value(st.integers(min_value=-2, max_value=12))},
    "compare_regions": {"indicator": value(names), "year": value(years),
                        "level": value(st.sampled_from(LEVELS)),
                        "areas": value(st.lists(names, max_size=5) | st.none()),
                        "measure": value(st.sampled_from(["rate_per_100k", "count",
                                                          "rate_per_1000", "median"]))},
    "model_metrics": {"level": value(st.sampled_from([*LEVELS, None]))},
}


def arguments(tool: str) -> st.SearchStrategy[dict[str, Any]]:
    """Any subset of the tool's parameters (required ones may be missing), plus stray keys."""
    fields = ARGS[tool]
    chosen = st.fixed_dictionaries({}, optional=fields)
    extra = st.dictionaries(st.sampled_from(["foo", "areaa", "years"]), any_json, max_size=1)
    return st.builds(lambda a, b: {**b, **a}, chosen, extra)


def check(result: Any) -> None:
    assert result.content, result
    text = result.content[0].text
    assert "Traceback" not in text
    if result.is_error:
        assert text.startswith("Error executing tool")
        assert "internal error" not in text, text  # every failure here is an expected one
    else:
        assert result.structured_content is not None  # the client validated it against
        assert json.loads(text) == result.structured_content  # the output schema


FUZZ = settings(max_examples=int(os.environ.get("OASIS_FUZZ_EXAMPLES", "40")), deadline=None,
                derandomize=not os.environ.get("OASIS_FUZZ_EXAMPLES"),
                suppress_health_check=[HealthCheck.function_scoped_fixture,
                                       HealthCheck.too_slow])


def _fuzz_test(tool: str) -> Any:
    @FUZZ
    @given(args=arguments(tool))
    async def test(server: Any, args: dict[str, Any]) -> None:
        async with Client(server) as client:
            check(await client.call_tool(tool, args))

    test.__name__ = test.__qualname__ = f"test_fuzz_{tool}"
    return test


# One test per tool (Hypothesis draws the arguments before the async test runs).
test_fuzz_list_regions = _fuzz_test("list_regions")
test_fuzz_list_indicators = _fuzz_test("list_indicators")
test_fuzz_get_history = _fuzz_test("get_history")
test_fuzz_forecast = _fuzz_test("forecast")
test_fuzz_compare_regions = _fuzz_test("compare_regions")
test_fuzz_model_metrics = _fuzz_test("model_metrics")
assert {f"test_fuzz_{t}" for t in ARGS} <= set(globals())


async def test_server_still_answers_after_fuzzing(server: Any) -> None:
    async with Client(server) as client:
        assert len((await client.list_tools()).tools) == 7
        result = await client.call_tool("get_history", {"area": "53", "indicator": "homicide"})
        assert not result.is_error
