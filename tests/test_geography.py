"""Geography reference: tables, codes, name resolution and its errors."""

from __future__ import annotations

import csv
import time
import unicodedata
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from oasis_mcp.data.geography import (
    LEVELS,
    METROPOLITAN_DEPARTMENT_CODES,
    Area,
    area_aliases,
    areas,
    departments_of,
    get_area,
    is_metropolitan,
    region_of,
    resolution_notes,
    resolve_area,
    resolve_level,
)
from oasis_mcp.errors import AmbiguousNameError, LookupFailed, UnknownNameError
from oasis_mcp.text import fold

REGION_CODES = ["01", "02", "03", "04", "06", "11", "24", "27", "28", "32", "44", "52", "53", "75",
                "76", "84", "93", "94"]


# -- Tables ------------------------------------------------------------------------------------


def test_levels() -> None:
    assert LEVELS == ("department", "region", "country")


def test_region_table() -> None:
    regions = areas("region")
    assert [r.code for r in regions] == REGION_CODES
    assert all(r.level == "region" and r.region_code is None for r in regions)
    names = {r.code: r.name for r in regions}
    assert names["06"] == "Mayotte"
    assert names["04"] == "La Réunion"
    assert names["11"] == "Île-de-France"
    assert names["93"] == "Provence-Alpes-Côte d'Azur"
    assert names["24"] == "Centre-Val de Loire"


def test_department_table() -> None:
    departments = areas("department")
    codes = [d.code for d in departments]
    assert len(codes) == len(set(codes)) == 101
    expected = {f"{n:02d}" for n in range(1, 96) if n != 20} | {"2A", "2B"}
    expected |= {"971", "972", "973", "974", "976"}
    assert set(codes) == expected
    assert codes.index("2A") == codes.index("19") + 1  # COG order
    assert all(d.level == "department" and d.region_code in REGION_CODES for d in departments)
    assert get_area("06", "department").name == "Alpes-Maritimes"
    assert get_area("2A", "department").name == "Corse-du-Sud"
    assert get_area("974", "department").name == "La Réunion"


def test_names_are_nfc_and_unique_per_level() -> None:
    for level in LEVELS:
        names = [a.name for a in areas(level)]
        assert len(set(map(fold, names))) == len(names)
        assert all(unicodedata.is_normalized("NFC", n) for n in names)


def test_country_level() -> None:
    assert [(a.code, a.name) for a in areas("country")] == [
        ("FR", "France"), ("FM", "France métropolitaine")]
    assert len(departments_of("FR")) == 101
    assert len(departments_of("FM")) == 96 == len(METROPOLITAN_DEPARTMENT_CODES)


def test_areas_returns_a_copy() -> None:
    areas("region").clear()
    assert len(areas("region")) == 18


def test_region_department_mapping() -> None:
    assert [d.code for d in departments_of("53")] == ["22", "29", "35", "56"]
    assert [d.code for d in departments_of("94")] == ["2A", "2B"]
    assert [d.code for d in departments_of("11")] == ["75", "77", "78", "91", "92", "93", "94",
                                                      "95"]
    assert [d.code for d in departments_of("06")] == ["976"]
    assert sum(len(departments_of(c)) for c in REGION_CODES) == 101
    assert region_of("59").name == "Hauts-de-France"
    assert region_of("2a").code == "94"
    assert region_of("976").name == "Mayotte"
    assert region_of("13").code == "93"


def test_metropolitan() -> None:
    assert is_metropolitan("75")
    assert is_metropolitan("2A")
    assert not is_metropolitan("971")
    assert not is_metropolitan("06", "region")
    assert is_metropolitan("06")  # Alpes-Maritimes
    assert is_metropolitan("FM", "country")
    assert not is_metropolitan("FR", "country")


def test_mapping_matches_the_2025_file(real_data_dir: Path) -> None:
    files = sorted(real_data_dir.glob("donnee-dep-data.gouv-2025-*.csv"))
    if not files:
        pytest.skip(f"no 2025 departmental file in {real_data_dir}")
    pairs: set[tuple[str, str]] = set()
    with files[0].open(encoding="utf-8-sig", newline="") as handle:
        for row in csv.DictReader(handle, delimiter=";"):
            pairs.add((row["Code_departement"], row["Code_region"]))
    assert pairs == {(d.code, d.region_code) for d in areas("department")}


def test_region_codes_match_the_regional_file(real_data_dir: Path) -> None:
    files = sorted(real_data_dir.glob("donnee-reg-data.gouv-*.csv"))
    if not files:
        pytest.skip(f"no regional file in {real_data_dir}")
    with files[0].open(encoding="utf-8-sig", newline="") as handle:
        codes = {row["Code_region"] for row in csv.DictReader(handle, delimiter=";")}
    assert codes == set(REGION_CODES)


# -- Codes ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "level", "name"),
    [
        ("06", "region", "Mayotte"),
        ("06", "department", "Alpes-Maritimes"),
        ("6", "region", "Mayotte"),
        ("1", "department", "Ain"),
        ("01", "department", "Ain"),
        ("2a", "department", "Corse-du-Sud"),
        (" 2B ", "department", "Haute-Corse"),
        ("976", "department", "Mayotte"),
        ("fr", "country", "France"),
        ("FM", "country", "France métropolitaine"),
    ],
)
def test_get_area(code: str, level: str, name: str) -> None:
    assert get_area(code, level).name == name  # type: ignore[arg-type]


def test_get_area_wrong_level_and_unknown() -> None:
    with pytest.raises(UnknownNameError, match="is a department"):
        get_area("971", "region")
    with pytest.raises(UnknownNameError) as info:
        get_area("Bretagne", "region")
    assert info.value.suggestions == ["Bretagne (53)"]
    with pytest.raises(UnknownNameError):
        get_area("99", "department")
    with pytest.raises(UnknownNameError):
        departments_of("XX")
    with pytest.raises(UnknownNameError):
        region_of("20")


# -- Name resolution -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "level", "code", "expected_level"),
    [
        ("Bretagne", None, "53", "region"),
        ("bretagne", None, "53", "region"),
        ("BRETAGNE", "region", "53", "region"),
        ("53", "region", "53", "region"),
        ("Brittany", None, "53", "region"),
        ("Île-de-France", None, "11", "region"),
        ("ile de france", None, "11", "region"),
        ("Ile-de-France", "region", "11", "region"),
        ("IDF", None, "11", "region"),
        ("PACA", None, "93", "region"),
        ("Provence Alpes Cote d'Azur", None, "93", "region"),
        ("Provence-Alpes-Côte d’Azur", None, "93", "region"),  # typographic apostrophe
        ("Région Sud", None, "93", "region"),
        ("Provence", None, "93", "region"),  # prefix
        ("Corse", None, "94", "region"),
        ("Corsica", None, "94", "region"),
        ("Hauts de France", None, "32", "region"),
        ("Normandy", None, "28", "region"),
        ("Burgundy", None, "27", "region"),
        ("Bourgogne", None, "27", "region"),
        ("Aquitaine", None, "75", "region"),  # a word of Nouvelle-Aquitaine
        ("Auvergne", None, "84", "region"),  # prefix of Auvergne-Rhône-Alpes
        ("Centre", None, "24", "region"),
        ("Pays de Loire", None, "52", "region"),
        ("Occitania", None, "76", "region"),
        ("Guyane", "region", "03", "region"),
        ("French Guiana", "region", "03", "region"),
        ("Martinique", "region", "02", "region"),
        ("Reunion", "region", "04", "region"),
        ("La Reunion", "region", "04", "region"),
        ("Mayotte", "region", "06", "region"),
        ("06", "region", "06", "region"),
        ("2A", None, "2A", "department"),
        ("2a", None, "2A", "department"),
        ("976", None, "976", "department"),
        ("Mayotte", "department", "976", "department"),
        ("Bouches-du-Rhône", None, "13", "department"),
        ("Bouches du Rhone", None, "13", "department"),
        ("Nord", None, "59", "department"),
        ("Rhône", None, "69", "department"),
        ("rhone", "department", "69", "department"),
        ("Paris", None, "75", "department"),
        ("Corse-du-Sud", None, "2A", "department"),
        ("South Corsica", None, "2A", "department"),
        ("haute corse", None, "2B", "department"),
        ("Seine-Saint-Denis", None, "93", "department"),
        ("Seine St Denis", None, "93", "department"),
        ("Val d'Oise", None, "95", "department"),
        ("Cote d'Or", None, "21", "department"),
        ("Loire", None, "42", "department"),  # exact beats Pays de la Loire, Haute-Loire...
        ("Savoie", None, "73", "department"),
        ("Vienne", None, "86", "department"),
        ("Belfort", None, "90", "department"),
        ("Finistère", None, "29", "department"),
        ("finistere", None, "29", "department"),
        ("1", None, "01", "department"),
        ("06", None, "06", "department"),  # a bare code is a department number
        ("75", None, "75", "department"),
        ("75", "region", "75", "region"),
        ("France", None, "FR", "country"),
        ("france", "country", "FR", "country"),
        ("FR", None, "FR", "country"),
        ("metropole", None, "FM", "country"),
        ("Métropole", None, "FM", "country"),
        ("metropolitan France", None, "FM", "country"),
        ("France métropolitaine", None, "FM", "country"),
        ("hexagone", None, "FM", "country"),
        ("région Bretagne", None, "53", "region"),
        ("la région Île-de-France", None, "11", "region"),
        ("département du Nord", None, "59", "department"),
        ("departement de la Loire", None, "42", "department"),
        ("département 13", None, "13", "department"),
        ("region 06", None, "06", "region"),
        ("Bretagne (53)", None, "53", "region"),  # suggestions resolve back
        ("Mayotte (06)", None, "06", "region"),
        ("Alpes-Maritimes (06)", None, "06", "department"),
    ],
)
def test_resolve_area(query: str, level: str | None, code: str, expected_level: str) -> None:
    area = resolve_area(query, level)  # type: ignore[arg-type]
    assert (area.code, area.level) == (code, expected_level)


@pytest.mark.parametrize(
    ("name", "region", "department"),
    [
        ("Guadeloupe", "01", "971"),
        ("Martinique", "02", "972"),
        ("Guyane", "03", "973"),
        ("French Guiana", "03", "973"),
        ("La Réunion", "04", "974"),
        ("Reunion", "04", "974"),
        ("Mayotte", "06", "976"),
    ],
)
def test_overseas_single_department_regions(name: str, region: str, department: str) -> None:
    """With level=None, an overseas region and its only department (same territory) resolve to
    the department, like bare codes; ask level='region' for the region."""
    assert resolve_area(name).code == department
    assert resolve_area(name).level == "department"
    assert resolve_area(name, "region").code == region
    assert resolve_area(name, "department").code == department


def test_paris_at_region_level_says_it_is_a_department() -> None:
    with pytest.raises(UnknownNameError) as info:
        resolve_area("Paris", "region")
    message = str(info.value)
    assert message.startswith("Paris is a department (75) in Île-de-France (11)")
    assert "use level='department'" in message
    assert info.value.suggestions == ["Île-de-France (11)"]
    assert info.value.kind == "region"


def test_region_at_department_level_lists_its_departments() -> None:
    with pytest.raises(UnknownNameError) as info:
        resolve_area("Corse", "department")
    assert "Corse is a region (94)" in str(info.value)
    assert "use level='region'" in str(info.value)
    assert info.value.suggestions == ["Corse-du-Sud (2A)", "Haute-Corse (2B)"]


@pytest.mark.parametrize(
    ("query", "level", "fragment"),
    [
        ("13", "region", "Bouches-du-Rhône is a department (13)"),
        ("971", "region", "Guadeloupe is a department (971)"),
        ("France", "region", "France is the whole country (FR)"),
        ("FR", "department", "use level='country'"),
        ("Bretagne", "country", "Bretagne is a region (53)"),
        ("Nord", "region", "Nord is a department (59) in Hauts-de-France (32)"),
        ("Rhône", "region", "Rhône is a department (69)"),  # not Auvergne-Rhône-Alpes
        ("région Paris", None, "Paris is a department (75)"),
    ],
)
def test_wrong_level(query: str, level: str | None, fragment: str) -> None:
    with pytest.raises(UnknownNameError, match="not a") as info:
        resolve_area(query, level)  # type: ignore[arg-type]
    assert fragment in str(info.value)


def test_unknown_area_suggests() -> None:
    with pytest.raises(UnknownNameError) as info:
        resolve_area("Atlantis")
    assert info.value.suggestions
    assert set(info.value.suggestions) <= {"Loire-Atlantique (44)", "Pyrénées-Atlantiques (64)"}
    assert str(info.value).startswith("Unknown area 'Atlantis'. Did you mean:")


def test_unknown_region_message() -> None:
    with pytest.raises(UnknownNameError) as info:
        resolve_area("Bretgne", "region")
    assert info.value.suggestions[0] == "Bretagne (53)"
    message = str(info.value)
    assert message.startswith("Unknown region 'Bretgne'. Did you mean: Bretagne (53)")
    assert message.endswith("Use a code or a name; list_regions lists them.")


def test_misspelt_department() -> None:
    with pytest.raises(UnknownNameError) as info:
        resolve_area("Bouches du Rone")
    assert info.value.suggestions[0] == "Bouches-du-Rhône (13)"


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("alpes", {"04", "05", "06", "84", "93"}),
        ("Seine", {"76", "77", "92", "93"}),
        ("haute", {"04", "05", "2B", "31", "43", "52", "65", "70", "74", "87"}),
        ("20", {"2A", "2B"}),  # Corsica's code before 1976
    ],
)
def test_ambiguous_areas(query: str, expected: set[str]) -> None:
    with pytest.raises(AmbiguousNameError) as info:
        resolve_area(query)
    codes = {s.rsplit("(", 1)[1].rstrip(")") for s in info.value.suggestions}
    assert codes == expected
    for suggestion in info.value.suggestions:  # each suggestion resolves on its own
        resolve_area(suggestion)


def test_cross_level_ambiguity_names_levels() -> None:
    with pytest.raises(AmbiguousNameError) as info:
        resolve_area("alpes")
    assert "(region 84)" in str(info.value)
    assert "(department 06)" in str(info.value)


@pytest.mark.parametrize(
    ("query", "region", "departments"),
    [
        ("Alsace", "44", ["67", "68"]),
        ("Lorraine", "44", ["54", "55", "57", "88"]),
        ("Nord-Pas-de-Calais", "32", ["59", "62"]),
        ("Picardie", "32", ["02", "60", "80"]),
        ("Midi-Pyrénées", "76", ["09", "12", "31", "32", "46", "65", "81", "82"]),
        ("Haute-Normandie", "28", ["27", "76"]),
        ("Poitou-Charentes", "75", ["16", "17", "79", "86"]),
        ("Languedoc", "76", ["11", "30", "34", "48", "66"]),
        ("Champagne", "44", ["08", "10", "51", "52"]),
        ("Limousin", "75", ["19", "23", "87"]),
        ("Basse-Normandie", "28", ["14", "50", "61"]),
    ],
)
def test_former_regions_are_explained(query: str, region: str, departments: list[str]) -> None:
    with pytest.raises(UnknownNameError, match="former region") as info:
        resolve_area(query)
    codes = [s.rsplit("(", 1)[1].rstrip(")") for s in info.value.suggestions]
    assert codes == [region, *departments]
    assert {d.region_code for d in map(lambda c: get_area(c, "department"), departments)} == {
        region}


@pytest.mark.parametrize(
    ("query", "level"),
    [("Outre-mer", "country"), ("France d'outre-mer", "country"), ("Outre-mer", "region"),
     ("DOM", None), ("DROM", "region"), ("DROM", None), ("overseas", "country"),
     ("Overseas France", None), ("régions d'outre-mer", "department"), ("DOM-TOM", "country")],
)
def test_overseas_france_is_explained_not_resolved(query: str, level: str | None) -> None:
    with pytest.raises(UnknownNameError, match="not an area of this dataset") as info:
        resolve_area(query, level)  # type: ignore[arg-type]
    message = str(info.value)
    for name, region, department in [("Guadeloupe", "01", "971"), ("Martinique", "02", "972"),
                                     ("Guyane", "03", "973"), ("La Réunion", "04", "974"),
                                     ("Mayotte", "06", "976")]:
        assert f"{name} (region {region}, department {department})" in message
    assert "'FR' is the whole of France" in message and "'FM' metropolitan France" in message
    for suggestion in info.value.suggestions:  # each suggestion resolves at the asked level
        resolve_area(suggestion, level)  # type: ignore[arg-type]


@pytest.mark.parametrize("level", ["country", "region", None])
def test_a_connecting_word_of_an_alias_names_no_area(level: str | None) -> None:
    with pytest.raises(UnknownNameError, match="Unknown"):
        resolve_area("hors", level)  # type: ignore[arg-type]
    if level != "region":
        assert resolve_area("France hors outre-mer", level).code == "FM"  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("query", "region", "departments"),
    [
        ("Auvergne", "84", ["03", "15", "43", "63"]),
        ("Rhône-Alpes", "84", ["01", "07", "26", "38", "42", "69", "73", "74"]),
        ("Aquitaine", "75", ["24", "33", "40", "47", "64"]),
        ("Franche-Comté", "27", ["25", "39", "70", "90"]),
        ("région Auvergne", "84", ["03", "15", "43", "63"]),
    ],
)
def test_former_regions_within_a_current_name_resolve_with_a_note(
    query: str, region: str, departments: list[str]
) -> None:
    area = resolve_area(query, "region")
    assert area.code == region
    [note] = resolution_notes(query, area)
    assert f"read as the region {area.label}" in note and "former region" in note
    assert all(f"({code})" in note for code in departments)
    assert resolution_notes(area.name, area) == []


@pytest.mark.parametrize(
    ("code", "region", "department"),
    [("75", "Nouvelle-Aquitaine", "Paris"), ("6", "Mayotte", "Alpes-Maritimes"),
     ("93", "Provence-Alpes-Côte d'Azur", "Seine-Saint-Denis")],
)
def test_a_department_number_read_as_a_region_code_gets_a_note(
    code: str, region: str, department: str
) -> None:
    area = resolve_area(code, "region")
    assert area.name == region
    [note] = resolution_notes(code, area)
    assert f"({region})" in note and f"({department}) use level='department'" in note
    assert resolution_notes(code, resolve_area(code, "department")) == []


def test_cities_are_explained_not_resolved() -> None:
    with pytest.raises(UnknownNameError, match="is a city") as info:
        resolve_area("Marseille")
    assert info.value.suggestions == ["Bouches-du-Rhône (13)"]
    with pytest.raises(UnknownNameError, match="is a city") as info:
        resolve_area("Lyon", "region")
    assert info.value.suggestions == ["Auvergne-Rhône-Alpes (84)"]


@pytest.mark.parametrize("query", ["", "   ", "!!!", "x" * 500, "region", "département"])
def test_bad_input(query: str) -> None:
    with pytest.raises(UnknownNameError):
        resolve_area(query)


def test_int_query_is_accepted() -> None:
    assert resolve_area(75).code == "75"  # type: ignore[arg-type]
    with pytest.raises(UnknownNameError):
        resolve_area(None)  # type: ignore[arg-type]


def test_level_names() -> None:
    assert resolve_level("departement") == "department"
    assert resolve_level("Régions") == "region"
    assert resolve_level("country") == "country"
    assert len(areas("départements")) == 101  # type: ignore[arg-type]
    with pytest.raises(UnknownNameError, match="Use 'department', 'region' or 'country'"):
        resolve_area("Nord", "county")  # type: ignore[arg-type]


# -- Aliases for free text -----------------------------------------------------------------------


def test_area_aliases() -> None:
    regions = area_aliases("region")
    assert regions["idf"] == "11"
    assert regions["paca"] == "93"
    assert regions["brittany"] == "53"
    assert regions["bretagne"] == "53"
    assert "53" not in regions
    assert area_aliases("region", include_codes=True)["53"] == "53"
    departments = area_aliases("department")
    assert departments["nord"] == "59"
    assert departments["paris"] == "75"
    assert departments["seine saint denis"] == "93"
    assert area_aliases("department", include_codes=True)["2a"] == "2A"
    assert area_aliases("country")["metropole"] == "FM"
    for level in LEVELS:
        for alias, code in area_aliases(level, include_codes=True).items():
            assert alias == fold(alias)
            assert resolve_area(alias, level).code == code


# -- Properties ----------------------------------------------------------------------------------

ALL_AREAS = [a for level in LEVELS for a in areas(level)]


@st.composite
def mutated_names(draw: st.DrawFn) -> str:
    area = draw(st.sampled_from(ALL_AREAS))
    name = draw(st.sampled_from([area.name, area.code, area.name_en or area.name]))
    if not name:
        return name
    i = draw(st.integers(0, len(name) - 1))
    op = draw(st.sampled_from(["drop", "dup", "swap", "insert", "upper", "prefix", "suffix"]))
    char = draw(st.characters())
    return {
        "drop": name[:i] + name[i + 1:],
        "dup": name[:i] + name[i] + name[i:],
        "swap": name[:i] + name[i + 1:i + 2] + name[i:i + 1] + name[i + 2:],
        "insert": name[:i] + char + name[i:],
        "upper": name.upper(),
        "prefix": name[: i + 1],
        "suffix": name[i:],
    }[op]


QUERIES = st.text(max_size=250) | mutated_names()
LEVEL_OR_NONE = st.sampled_from([None, *LEVELS])


@settings(max_examples=500, deadline=None)
@given(QUERIES, LEVEL_OR_NONE)
def test_any_text_gives_an_area_or_lookup_failed(query: str, level: str | None) -> None:
    try:
        area = resolve_area(query, level)  # type: ignore[arg-type]
    except LookupFailed as exc:
        assert str(exc)
        for suggestion in exc.suggestions:
            assert isinstance(suggestion, str)
    else:
        assert isinstance(area, Area)
        assert level is None or area.level == level


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(ALL_AREAS), st.sampled_from(["name", "fold", "upper", "code", "label"]))
def test_every_area_resolves_to_itself_at_its_level(area: Area, how: str) -> None:
    query = {"name": area.name, "fold": fold(area.name), "upper": area.name.upper(),
             "code": area.code, "label": area.label}[how]
    assert resolve_area(query, area.level) == area
    assert resolve_area(area.label) == area  # labels are unique across levels


def test_names_resolve_to_themselves_with_level_none() -> None:
    for area in ALL_AREAS:
        found = resolve_area(area.name)
        if found != area:  # only the overseas region/department pairs differ
            assert area.level == "region" and found.region_code == area.code
        if area.name_en:
            assert resolve_area(area.name_en, area.level) == area


def test_lookups_are_fast() -> None:
    queries = ["Bretagne", "Bouches du Rhone", "2a", "IDF", "Nord", "metropole", "Aquitaine"]
    start = time.perf_counter()
    for _ in range(200):
        for query in queries:
            resolve_area(query)
    assert (time.perf_counter() - start) / (200 * len(queries)) < 1e-3
