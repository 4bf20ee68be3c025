"""Snapshot of ``tools/list`` (names, titles, descriptions, input and output schemas,
annotations): any change to the public tool surface shows up as a diff of
``tests/snapshots/tools_list.json``. Regenerate it on purpose with
``OASIS_UPDATE_SNAPSHOTS=1 pytest tests/test_tools_snapshot.py``.

Listing tools loads nothing, so this test needs neither data nor artifacts.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp import Client

from oasis_mcp.server import create_server

SNAPSHOT = Path(__file__).parent / "snapshots" / "tools_list.json"
TOOLS = ["list_regions", "list_indicators", "get_history", "forecast", "compare_regions",
         "find_area", "model_metrics"]


def list_tools_wire(mode: str = "auto") -> list[dict[str, Any]]:
    async def main() -> list[dict[str, Any]]:
        server = create_server(data_dir="/nonexistent", artifacts_dir="/nonexistent")
        async with Client(server, mode=mode) as client:  # type: ignore[arg-type]
            tools = (await client.list_tools()).tools
        return [t.model_dump(by_alias=True, mode="json", exclude_none=True) for t in tools]

    return anyio.run(main)


def test_tools_list_matches_the_snapshot() -> None:
    current = list_tools_wire()
    if os.environ.get("OASIS_UPDATE_SNAPSHOTS"):
        SNAPSHOT.parent.mkdir(exist_ok=True)
        SNAPSHOT.write_text(json.dumps(current, indent=2, ensure_ascii=False) + "\n",
                            encoding="utf-8")
    if not SNAPSHOT.is_file():
        pytest.fail(f"no snapshot at {SNAPSHOT}; run with OASIS_UPDATE_SNAPSHOTS=1")
    expected = json.loads(SNAPSHOT.read_text(encoding="utf-8"))
    assert current == expected, (
        "tools/list changed; if intended, regenerate with OASIS_UPDATE_SNAPSHOTS=1"
    )


def test_legacy_clients_see_the_same_tools() -> None:
    assert list_tools_wire("legacy") == list_tools_wire()


def test_tool_surface_conventions() -> None:
    tools = {t["name"]: t for t in list_tools_wire()}
    assert list(tools) == TOOLS
    for name, tool in tools.items():
        assert tool["title"] and len(tool["description"]) > 150, name
        assert tool["annotations"] == {
            "readOnlyHint": True, "destructiveHint": False, "idempotentHint": True,
            "openWorldHint": False,
        }, name
        for param, schema in tool["inputSchema"].get("properties", {}).items():
            assert schema.get("description"), (name, param)
        output = tool["outputSchema"]
        assert output["type"] == "object" and output["properties"], name
        text = json.dumps(output)
        assert "$ref" not in text and "$defs" not in text, name  # inline: cheap to validate
    assert tools["forecast"]["inputSchema"]["properties"]["horizon"]["maximum"] == 10
    assert tools["compare_regions"]["inputSchema"]["properties"]["year"]["anyOf"][0][
        "maximum"] == 2030
    measure = tools["compare_regions"]["inputSchema"]["properties"]["measure"]
    assert measure["enum"] == ["rate_per_100k", "count", "rate_per_1000"]
