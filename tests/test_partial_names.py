"""A part of a name read as the whole ("Bret" as Bretagne) is said in the answer (issue 14)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from mcp import Client

from oasis_mcp.data import geography
from oasis_mcp.data.lookup import stem
from oasis_mcp.errors import OasisError
from oasis_mcp.server import create_server
from oasis_mcp.text import fold

AREAS = [a for level in ("region", "department") for a in geography.areas(level)]  # type: ignore[arg-type]


def stemmed(text: str) -> str:
    return " ".join(stem(w) for w in fold(text).split())


def notes_for(query: str, level: str | None) -> tuple[geography.Area, list[str]] | None:
    try:
        area = geography.resolve_area(query, level)  # type: ignore[arg-type]
    except OasisError:
        return None
    return area, geography.resolution_notes(query, area)


@pytest.mark.parametrize(("query", "level", "code"), [
    ("Bret", "region", "53"), ("Bret", None, "53"), ("bretag", None, "53"),
    ("Finis", None, "29"), ("Provence", "region", "93"), ("région Bret", None, "53"),
])
def test_a_prefix_is_said(query: str, level: str | None, code: str) -> None:
    found = notes_for(query, level)
    assert found is not None
    area, notes = found
    assert area.code == code
    assert len(notes) == 1
    assert f"'{query}' was read as {area.label}" in notes[0]
    assert "starts with" in notes[0] and "full name" in notes[0]


def test_some_words_of_a_name_are_said() -> None:
    found = notes_for("Azur", "region")
    assert found is not None and found[0].code == "93"
    assert found[1] == ["'Azur' was read as Provence-Alpes-Côte d'Azur (93), the only region whose "
                        "name contains it; give the full name or the code to be sure."]


@pytest.mark.parametrize("query", ["Bretagne", "bretagne", "Brittany", "53", "IDF", "PACA",
                                   "Finistère", "finistere", "29", "Nord", "Corse-du-Sud", "2A"])
def test_full_names_aliases_and_codes_say_nothing(query: str) -> None:
    found = notes_for(query, None)
    assert found is not None
    assert found[1] == [] or "region code" in found[1][0]


def test_the_former_region_note_is_not_doubled() -> None:
    found = notes_for("Auvergne", "region")
    assert found is not None
    assert len(found[1]) == 1 and "former region Auvergne" in found[1][0]


@settings(max_examples=150, deadline=None)
@given(st.sampled_from(AREAS), st.data())
def test_every_prefix_that_resolves_says_so_and_a_full_name_does_not(
    area: geography.Area, data: st.DataObject
) -> None:
    name = area.name
    whole = notes_for(name, area.level)
    assert whole is not None and whole[0] == area
    assert not any("starts with" in n or "contains" in n for n in whole[1]), whole[1]
    cut = data.draw(st.integers(min_value=3, max_value=max(3, len(name) - 1)))
    prefix = name[:cut]
    found = notes_for(prefix, area.level)
    if found is None or found[0] != area:
        return  # ambiguous, or another area's name: not what this property is about
    if fold(prefix) in geography.area_aliases(area.level, include_codes=True) or stemmed(
        prefix
    ) == stemmed(name):
        return  # an alias, or the name itself up to a plural ("Lande")
    notes = found[1]
    assert notes, f"{prefix!r} read as {area.label} with no note"
    assert any(area.label in n for n in notes)


@pytest.mark.anyio
async def test_the_history_answer_carries_the_note(edition_2025_dir: object) -> None:
    server = create_server(data_dir=edition_2025_dir)  # type: ignore[arg-type]
    async with Client(server) as client:
        result = await client.call_tool(
            "get_history", {"area": "Bret", "indicator": "burglary", "level": "region"})
    assert not result.is_error
    content = result.structured_content
    assert content is not None and content["area"]["code"] == "53"
    assert any("'Bret' was read as Bretagne (53)" in w for w in content["warnings"])
