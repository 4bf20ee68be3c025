"""The generic name matcher: tiers, ambiguity, suggestions, robustness."""

from __future__ import annotations

import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from oasis_mcp.data.lookup import (
    MAX_QUERY_LENGTH,
    NameMatcher,
    Tier,
    check_query,
    resolve_name,
    stem,
)
from oasis_mcp.errors import AmbiguousNameError, LookupFailed, UnknownNameError

TABLE = {
    "Cambriolages de logement": "burglary",
    "burglary": "burglary",
    "Violences sexuelles": "sexual",
    "Violences physiques intrafamiliales": "domestic",
    "Violences physiques hors cadre familial": "non-family",
    "Homicides": "homicide",
    "Tentatives d'homicide": "attempt",
    "Vols de véhicule": "vehicle-theft",
    "Vols dans les véhicules": "from-vehicle",
    "Nord": "59",
    "Pas-de-Calais": "62",
    "drugs": "trafficking",
}
ENTRIES = [*TABLE.items(), ("drugs", "use"), ("Usage de stupéfiants", "use")]


@pytest.fixture(scope="module")
def matcher() -> NameMatcher[str]:
    return NameMatcher(ENTRIES, kind="thing", hint="Use a name; list_things lists them.")


@pytest.mark.parametrize(
    ("query", "key"),
    [
        ("Cambriolages de logement", "burglary"),
        ("CAMBRIOLAGES DE LOGEMENT", "burglary"),
        ("  cambriolages   de  logement ", "burglary"),
        ("cambriolages", "burglary"),  # prefix
        ("cambri", "burglary"),  # prefix
        ("Burglary", "burglary"),
        ("violences sexuelles", "sexual"),
        ("sexuelles", "sexual"),  # whole word
        ("Homicides", "homicide"),  # exact beats "Tentatives d'homicide"
        ("homicide", "homicide"),  # plural-insensitive exact beats the word in "tentatives"
        ("tentatives", "attempt"),
        ("vols de vehicules", "vehicle-theft"),  # plural-insensitive
        ("Nord", "59"),  # exact, not a partial of another name
        ("calais", "62"),
        ("intrafamiliales", "domestic"),
        ("hors cadre", "non-family"),
    ],
)
def test_resolves(matcher: NameMatcher[str], query: str, key: str) -> None:
    assert matcher.resolve(query) == key


@pytest.mark.parametrize(
    ("query", "keys"),
    [
        ("violences", {"sexual", "domestic", "non-family"}),
        ("violences physiques", {"domestic", "non-family"}),
        ("vols", {"vehicle-theft", "from-vehicle"}),
        ("drugs", {"trafficking", "use"}),  # one alias, two keys
        ("vehicules", {"vehicle-theft", "from-vehicle"}),
    ],
)
def test_ambiguous(matcher: NameMatcher[str], query: str, keys: set[str]) -> None:
    with pytest.raises(AmbiguousNameError) as info:
        matcher.resolve(query)
    assert set(info.value.suggestions) == keys
    assert info.value.kind == "thing"
    assert f"'{query}'" in str(info.value)


def test_unknown_suggests_closest(matcher: NameMatcher[str]) -> None:
    with pytest.raises(UnknownNameError) as info:
        matcher.resolve("Cambrilages")
    assert info.value.suggestions[0] == "burglary"
    message = str(info.value)
    assert message.startswith("Unknown thing 'Cambrilages'. Did you mean: burglary")
    assert message.endswith("Use a name; list_things lists them.")


def test_unknown_without_suggestions(matcher: NameMatcher[str]) -> None:
    with pytest.raises(UnknownNameError) as info:
        matcher.resolve("xyz")
    assert info.value.suggestions == []
    assert "Did you mean" not in str(info.value)


def test_word_suggestions_for_a_longer_query(matcher: NameMatcher[str]) -> None:
    assert "homicide" in matcher.suggest("the homicdes of last year")


@pytest.mark.parametrize("query", ["", "   ", "\t\n", "!!!", "-'-", "x" * (MAX_QUERY_LENGTH + 1)])
def test_empty_or_absurd_input(matcher: NameMatcher[str], query: str) -> None:
    with pytest.raises(UnknownNameError) as info:
        matcher.resolve(query)
    assert "thing" in str(info.value)


@pytest.mark.parametrize("query", [None, 12, 3.5, b"Nord", ["Nord"]])
def test_non_string_input(matcher: NameMatcher[str], query: object) -> None:
    with pytest.raises(UnknownNameError, match="must be given as text"):
        matcher.resolve(query)  # type: ignore[arg-type]


def test_short_prefix_does_not_resolve(matcher: NameMatcher[str]) -> None:
    with pytest.raises(UnknownNameError):
        matcher.resolve("ca")


def test_stop_words_alone_match_nothing(matcher: NameMatcher[str]) -> None:
    with pytest.raises(UnknownNameError):
        matcher.resolve("de")


def test_stop_words_alone_are_no_prefix() -> None:
    things = NameMatcher([("Destructions", "x"), ("Thefts", "t")], kind="thing")
    for query in ("des", "the", "the des"):  # "des" is not the start of "destructions"
        with pytest.raises(UnknownNameError):
            things.resolve(query)
    assert things.resolve("dest") == "x"
    assert things.resolve("thef") == "t"


def test_match_reports_tier(matcher: NameMatcher[str]) -> None:
    assert matcher.match("Homicides") == matcher.match("homicides")
    found = matcher.match("Homicides")
    assert found is not None and found.tier is Tier.EXACT and found.keys == ("homicide",)
    found = matcher.match("homicide")
    assert found is not None and found.tier is Tier.INFLECTED
    found = matcher.match("cambriolages")
    assert found is not None and found.tier is Tier.PREFIX
    found = matcher.match("sexuelles")
    assert found is not None and found.tier is Tier.WORDS
    assert matcher.match("zzz") is None
    assert matcher.match("Homicides", max_tier=Tier.EXACT) is not None
    assert matcher.match("cambriolages", max_tier=Tier.INFLECTED) is None


def test_ambiguous_prefix_lists_word_matches_too() -> None:
    m = NameMatcher([("Seine-Maritime", 76), ("Seine-et-Marne", 77), ("Hauts-de-Seine", 92)],
                    kind="department")
    found = m.match("seine")
    assert found is not None and found.keys == (76, 77, 92)


def test_token_map() -> None:
    m = NameMatcher([("Seine-Saint-Denis", "93")], kind="department", token_map={"st": "saint"})
    assert m.resolve("Seine St Denis") == "93"
    assert m.resolve("seine-st-denis") == "93"


def test_aliases_exclude_ambiguous(matcher: NameMatcher[str]) -> None:
    aliases = matcher.aliases()
    assert aliases["cambriolages de logement"] == "burglary"
    assert aliases["nord"] == "59"
    assert "drugs" not in aliases


def test_resolve_name_one_off() -> None:
    assert resolve_name("bretagne", {"Bretagne": "53", "Normandie": "28"}, kind="region") == "53"
    with pytest.raises(UnknownNameError, match=r"Unknown region 'Bretgne'\. Did you mean: 53"):
        resolve_name("Bretgne", {"Bretagne": "53"}, kind="region")


def test_check_query_returns_folded() -> None:
    assert check_query("  Île-de-France ", "region") == "ile de france"


def test_stem() -> None:
    assert stem("vehicules") == "vehicule"
    assert stem("vols") == "vol"
    assert stem("aux") == "aux"  # too short to strip
    assert stem("bas") == "bas"


def test_lookup_is_fast(matcher: NameMatcher[str]) -> None:
    queries = ["Homicides", "cambriolages", "sexuelles", "vols de vehicules"]
    start = time.perf_counter()
    for _ in range(200):
        for query in queries:
            matcher.resolve(query)
    per_lookup = (time.perf_counter() - start) / (200 * len(queries))
    assert per_lookup < 1e-3


# -- Properties ------------------------------------------------------------------------------

ANY_TEXT = st.text(max_size=300) | st.sampled_from(["", " ", "de", "a", "é", "'", "-", "ǅ", "ß"])


@settings(max_examples=400, deadline=None)
@given(ANY_TEXT)
def test_any_text_resolves_or_raises_lookup_failed(query: str) -> None:
    m = NameMatcher(ENTRIES, kind="thing")
    try:
        key = m.resolve(query)
    except LookupFailed as exc:
        assert str(exc)
        assert all(isinstance(s, str) for s in exc.suggestions)
    else:
        assert key in set(TABLE.values()) | {"use"}


@settings(max_examples=200, deadline=None)
@given(st.sampled_from(sorted(TABLE)), st.sampled_from(["upper", "lower", "title", "accents"]))
def test_unique_alias_resolves_to_itself_whatever_the_case(alias: str, how: str) -> None:
    m = NameMatcher(ENTRIES, kind="thing")
    if alias == "drugs":
        return
    variant = {
        "upper": alias.upper(),
        "lower": alias.lower(),
        "title": alias.title(),
        "accents": alias.replace("e", "é").replace("-", " "),
    }[how]
    assert m.resolve(variant) == TABLE[alias]
