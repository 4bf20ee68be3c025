"""Indicator catalogs (2025 and 2024 editions) and indicator name resolution."""

from __future__ import annotations

import csv
import re
import time
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from oasis_mcp.data.indicators import (
    CATALOG_2024,
    CATALOG_2025,
    EDITIONS,
    GENERAL_CAVEATS,
    Indicator,
    catalog,
    edition_of_labels,
    indicator_by_label,
    resolution_notes,
    resolve_indicator,
)
from oasis_mcp.data.lookup import stem
from oasis_mcp.errors import AmbiguousNameError, LookupFailed, UnknownNameError
from oasis_mcp.text import fold

# Official labels and units, as listed in the data SOURCES.md.
LABELS_2025 = {
    "Cambriolages de logement": "Infraction",
    "Destructions et dégradations volontaires": "Infraction",
    "Escroqueries et fraudes aux moyens de paiement": "Victime",
    "Homicides": "Victime",
    "Tentatives d'homicide": "Victime",
    "Trafic de stupéfiants": "Mis en cause",
    "Usage de stupéfiants": "Mis en cause",
    "Usage de stupéfiants (AFD)": "Mis en cause",
    "Usage de stupéfiants (hors AFD)": "Mis en cause",
    "Violences physiques hors cadre familial": "Victime",
    "Violences physiques intrafamiliales": "Victime",
    "Violences sexuelles": "Victime",
    "Vols avec armes": "Infraction",
    "Vols d'accessoires sur véhicules": "Véhicule",
    "Vols dans les véhicules": "Véhicule",
    "Vols de véhicule": "Véhicule",
    "Vols sans violence contre des personnes": "Victime entendue",
    "Vols violents sans arme": "Infraction",
}
LABELS_2024 = {
    "Autres coups et blessures volontaires": "Victime",
    "Cambriolages de logement": "Infraction",
    "Coups et blessures volontaires": "Victime",
    "Coups et blessures volontaires intrafamiliaux": "Victime",
    "Destructions et dégradations volontaires": "Infraction",
    "Escroqueries": "Victime",
    "Homicides": "Victime",
    "Tentatives d'homicides": "Victime",
    "Trafic de stupéfiants": "Mis en cause",
    "Usage de stupéfiants": "Mis en cause",
    "Violences sexuelles": "Victime",
    "Vols avec armes": "Infraction",
    "Vols d'accessoires sur véhicules": "Véhicule",
    "Vols dans les véhicules": "Véhicule",
    "Vols de véhicules": "Véhicule",
    "Vols sans violence contre des personnes": "Victime entendue",
    "Vols violents sans arme": "Infraction",
}
SLUG = re.compile(r"[a-z]+(-[a-z]+)*")


# -- Catalogs ------------------------------------------------------------------------------------


@pytest.mark.parametrize(("cat", "labels", "edition"), [
    (CATALOG_2025, LABELS_2025, "2025"), (CATALOG_2024, LABELS_2024, "2024")])
def test_catalog_labels_and_units(
    cat: tuple[Indicator, ...], labels: dict[str, str], edition: str
) -> None:
    assert {i.label_fr: i.unit for i in cat} == labels
    assert len(cat) == len(labels)
    assert catalog(edition) == cat
    assert all(i.edition == edition for i in cat)
    slugs = [i.slug for i in cat]
    assert len(set(slugs)) == len(slugs)
    assert all(SLUG.fullmatch(s) for s in slugs)
    assert len({fold(i.label_en) for i in cat}) == len(cat)


def test_default_catalog_is_2025() -> None:
    assert catalog() == CATALOG_2025
    assert EDITIONS == ("2025", "2024")
    with pytest.raises(UnknownNameError, match="edition"):
        catalog("2023")


def test_slugs() -> None:
    slugs_2025 = {i.slug for i in CATALOG_2025}
    assert slugs_2025 == {
        "burglary", "vandalism", "fraud", "homicide", "attempted-homicide", "drug-trafficking",
        "drug-use", "drug-use-afd", "drug-use-non-afd", "physical-violence-non-family",
        "domestic-physical-violence", "sexual-violence", "armed-robbery",
        "vehicle-accessory-theft", "theft-from-vehicle", "vehicle-theft",
        "theft-without-violence", "violent-theft-unarmed",
    }
    slugs_2024 = {i.slug for i in CATALOG_2024}
    assert slugs_2024 - slugs_2025 == {"assault", "assault-domestic", "assault-other"}
    assert slugs_2025 - slugs_2024 == {
        "drug-use-afd", "drug-use-non-afd", "physical-violence-non-family",
        "domestic-physical-violence"}


def test_same_slug_keeps_each_editions_label() -> None:
    new = indicator_by_label("Vols de véhicule")
    old = indicator_by_label("Vols de véhicules")
    assert new is not None and old is not None
    assert new.slug == old.slug == "vehicle-theft"
    assert (new.edition, old.edition) == ("2025", "2024")
    assert indicator_by_label("Tentatives d'homicides", "2024") is not None
    assert indicator_by_label("Tentatives d'homicides", "2025") is None


def test_denominators() -> None:
    for ind in (*CATALOG_2025, *CATALOG_2024):
        expected = "dwellings" if ind.label_fr == "Cambriolages de logement" else "population"
        assert ind.denominator == expected


def test_caveats() -> None:
    assert len(GENERAL_CAVEATS) >= 2
    assert any("recorded" in c for c in GENERAL_CAVEATS)
    assert any("2020" in c for c in GENERAL_CAVEATS)
    by_slug = {i.slug: i for i in CATALOG_2025}
    assert any("2020" in c and "0 for 2016" in c for c in by_slug["drug-use-afd"].caveats)
    assert any("upper bound" in c for c in by_slug["drug-trafficking"].caveats)
    assert any("volatile" in c for c in by_slug["homicide"].caveats)
    assert any("volatile" in c for c in by_slug["attempted-homicide"].caveats)
    assert any("THESEE" in c for c in by_slug["fraud"].caveats)
    assert any("reporting" in c for c in by_slug["domestic-physical-violence"].caveats)
    assert any("reporting" in c for c in by_slug["sexual-violence"].caveats)
    assert any("dwellings" in c for c in by_slug["burglary"].caveats)
    for ind in (*CATALOG_2025, *CATALOG_2024):
        assert isinstance(ind.caveats, tuple)
        for caveat in ind.caveats:
            assert caveat.endswith(".") and caveat[0].isupper()
        if ind.unit == "Mis en cause":
            assert any("upper bound" in c for c in ind.caveats)


def test_indicators_are_hashable_and_frozen() -> None:
    ind = CATALOG_2025[0]
    assert hash(ind) == hash(CATALOG_2025[0])
    with pytest.raises(AttributeError):
        ind.slug = "x"  # type: ignore[misc]


# -- Labels and editions -------------------------------------------------------------------------


def test_indicator_by_label() -> None:
    found = indicator_by_label("Homicides")
    assert found is not None and found.slug == "homicide" and found.edition == "2025"
    found = indicator_by_label("Escroqueries")
    assert found is not None and found.edition == "2024"
    assert indicator_by_label(" Violences sexuelles ") is not None
    assert indicator_by_label("homicides") is None  # exact label only
    assert indicator_by_label("Burglary") is None
    assert indicator_by_label("") is None


def test_edition_of_labels() -> None:
    assert edition_of_labels(LABELS_2025) == "2025"
    assert edition_of_labels(LABELS_2024) == "2024"
    assert edition_of_labels(["Homicides", "Violences sexuelles"]) == "2025"  # shared only
    assert edition_of_labels(["Homicides", "Escroqueries"]) == "2024"
    with pytest.raises(LookupFailed, match="different nomenclatures"):
        edition_of_labels(["Escroqueries", "Usage de stupéfiants (AFD)"])
    with pytest.raises(ValueError):  # LookupFailed is a ValueError
        edition_of_labels(["Vols de véhicule", "Vols de véhicules"])
    with pytest.raises(UnknownNameError, match="not an official SSMSI label"):
        edition_of_labels(["Homicides", "Cambriolages"])


@pytest.mark.parametrize("pattern", ["donnee-dep-*.csv", "donnee-reg-*.csv"])
def test_every_label_of_the_real_files_is_known(pattern: str, real_data_dir: Path) -> None:
    files = sorted(real_data_dir.glob(pattern))
    if not files:
        pytest.skip(f"no {pattern} file in {real_data_dir}")
    for path in files:
        pairs: set[tuple[str, str]] = set()
        with path.open(encoding="utf-8-sig", newline="") as handle:
            for row in csv.DictReader(handle, delimiter=";"):
                pairs.add((row["indicateur"], row["unite_de_compte"]))
        labels = {label for label, _ in pairs}
        edition = edition_of_labels(labels)
        assert len(labels) == len(catalog(edition)), path.name
        assert {i.label_fr for i in catalog(edition)} == labels, path.name
        for label, unit in pairs:
            ind = indicator_by_label(label, edition)
            assert ind is not None, (path.name, label)
            assert ind.unit == unit, (path.name, label)
            assert ind.edition == edition


# -- Resolution ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "slug"),
    [
        ("cambriolages", "burglary"),
        ("Cambriolages de logement", "burglary"),
        ("burglary", "burglary"),
        ("Burglaries", "burglary"),
        ("break-ins", "burglary"),
        ("tags", "vandalism"),
        ("graffitis", "vandalism"),
        ("Graffiti", "vandalism"),
        ("violences sexuelles", "sexual-violence"),
        ("Violences Sexuelles", "sexual-violence"),
        ("sexual violence", "sexual-violence"),
        ("Homicides", "homicide"),
        ("homicide", "homicide"),
        ("HOMICIDES", "homicide"),
        ("murders", "homicide"),
        ("tentatives", "attempted-homicide"),
        ("Tentatives d'homicide", "attempted-homicide"),
        ("tentatives d’homicides", "attempted-homicide"),
        ("attempted-homicide", "attempted-homicide"),
        ("vols de vehicules", "vehicle-theft"),
        ("Vols de véhicule", "vehicle-theft"),
        ("car thefts", "vehicle-theft"),
        ("vols de voitures", "vehicle-theft"),
        ("drug trafficking", "drug-trafficking"),
        ("trafic de stupefiants", "drug-trafficking"),
        ("Usage de stupéfiants", "drug-use"),  # exact beats the (AFD) variants
        ("drug-use-afd", "drug-use-afd"),
        ("AFD", "drug-use-afd"),
        ("hors AFD", "drug-use-non-afd"),
        ("domestic violence", "domestic-physical-violence"),
        ("violences conjugales", "domestic-physical-violence"),
        ("intrafamiliales", "domestic-physical-violence"),
        ("fraud", "fraud"),
        ("Escroqueries", "fraud"),  # the 2024 label names the same indicator
        ("vandalism", "vandalism"),
        ("dégradations", "vandalism"),
        ("armed robbery", "armed-robbery"),
        ("vols avec armes", "armed-robbery"),
        ("pickpocketing", "theft-without-violence"),
        ("vols violents", "violent-theft-unarmed"),
        ("muggings", "violent-theft-unarmed"),
        ("car break-ins", "theft-from-vehicle"),
        ("vols d'accessoires", "vehicle-accessory-theft"),
        ("Residential burglary", "burglary"),
        # Phrases that used to fall on a partial match of the wrong indicator.
        ("vols avec violence", "violent-theft-unarmed"),
        ("thefts with weapons", "armed-robbery"),
        ("vols dans les voitures", "theft-from-vehicle"),
        ("theft of vehicles", "vehicle-theft"),
        ("harcèlement sexuel", "sexual-violence"),
        ("dealers", "drug-trafficking"),
    ],
)
def test_resolve_indicator(query: str, slug: str) -> None:
    found = resolve_indicator(query)
    assert (found.slug, found.edition) == (slug, "2025")


@pytest.mark.parametrize(
    ("query", "slugs"),
    [
        ("stupéfiants", {"drug-trafficking", "drug-use", "drug-use-afd", "drug-use-non-afd"}),
        ("drugs", {"drug-trafficking", "drug-use"}),
        ("drogue", {"drug-trafficking", "drug-use"}),
        ("narcotics", {"drug-trafficking", "drug-use"}),
        ("assault", {"physical-violence-non-family", "domestic-physical-violence"}),
        ("violences physiques", {"physical-violence-non-family", "domestic-physical-violence"}),
        ("usage", {"drug-use", "drug-use-afd", "drug-use-non-afd"}),
        ("robbery", {"armed-robbery", "violent-theft-unarmed"}),
    ],
)
def test_ambiguous_indicators(query: str, slugs: set[str]) -> None:
    with pytest.raises(AmbiguousNameError) as info:
        resolve_indicator(query)
    by_label = {i.label_fr: i.slug for i in CATALOG_2025}
    assert {by_label[s] for s in info.value.suggestions} == slugs
    assert "Use a slug or the full official label" in str(info.value)
    for suggestion in info.value.suggestions:  # suggestions resolve back
        assert resolve_indicator(suggestion).label_fr == suggestion


@pytest.mark.parametrize("query", ["vols", "violences", "theft", "vehicle", "thefts", "robberies",
                                   "véhicules", "weapons", "without", "use"])
def test_generic_words_are_ambiguous(query: str) -> None:
    with pytest.raises(AmbiguousNameError) as info:
        resolve_indicator(query)
    assert len(info.value.suggestions) >= 2


# Generic words that some common names (aliases) contain: alone, they name no indicator. The
# lookup tells which indicator has a common name containing the word.
@pytest.mark.parametrize(
    ("query", "slug"),
    [("harcèlement", "sexual-violence"),  # "harcèlement sexuel"
     ("abuse", "domestic-physical-violence"),  # "domestic abuse", "spousal abuse"
     ("traffic", "drug-trafficking"),  # "drug traffic"
     ("volées", "vehicle-theft"),  # "voitures volées"
     ("penalty", "drug-use-afd"),  # "fixed penalty"
     ("on-the-spot", "drug-use-afd"),  # "on-the-spot fines"
     ("attempts", "attempted-homicide"),  # "murder attempts"
     ("invasions", "burglary")],  # "home invasions"
)
@pytest.mark.parametrize("edition", EDITIONS)
def test_a_word_of_a_common_name_alone_is_not_an_indicator(
    query: str, slug: str, edition: str
) -> None:
    labels = [i.label_fr for i in catalog(edition)]
    with pytest.raises(UnknownNameError) as info:
        resolve_indicator(query, labels=labels)
    if edition == "2025":
        assert [resolve_indicator(s).slug for s in info.value.suggestions] == [slug]
        assert "Did you mean:" in str(info.value)


@pytest.mark.parametrize("query", ["des", "the", "les", "avec", "sur", "contre", "des de"])
def test_stop_words_alone_are_not_an_indicator(query: str) -> None:
    with pytest.raises(LookupFailed):  # "des" was a prefix of "Destructions et dégradations"
        resolve_indicator(query)


def test_unknown_indicator() -> None:
    with pytest.raises(UnknownNameError) as info:
        resolve_indicator("xyz")
    assert str(info.value).startswith("Unknown indicator 'xyz'.")
    assert "list_indicators" in str(info.value)
    with pytest.raises(UnknownNameError) as info:
        resolve_indicator("cambriolajes")
    assert info.value.suggestions == ["Cambriolages de logement"]
    assert "Did you mean: Cambriolages de logement [burglary]?" in str(info.value)


@pytest.mark.parametrize("query", ["", "  ", "?!", "x" * 1000])
def test_bad_input(query: str) -> None:
    with pytest.raises(UnknownNameError):
        resolve_indicator(query)


# -- Restriction to the loaded labels (2024 edition) ----------------------------------------------


@pytest.mark.parametrize(
    ("query", "slug", "label"),
    [
        ("cambriolages", "burglary", "Cambriolages de logement"),
        ("vehicle-theft", "vehicle-theft", "Vols de véhicules"),
        ("vols de vehicule", "vehicle-theft", "Vols de véhicules"),
        ("Tentatives d'homicide", "attempted-homicide", "Tentatives d'homicides"),
        ("fraud", "fraud", "Escroqueries"),
        ("Escroqueries et fraudes aux moyens de paiement", "fraud", "Escroqueries"),
        ("assault", "assault", "Coups et blessures volontaires"),
        ("coups et blessures", "assault", "Coups et blessures volontaires"),
        ("domestic violence", "assault-domestic", "Coups et blessures volontaires intrafamiliaux"),
        ("autres coups", "assault-other", "Autres coups et blessures volontaires"),
        ("drugs", None, None),
    ],
)
def test_resolve_in_the_2024_edition(query: str, slug: str | None, label: str | None) -> None:
    if slug is None:
        with pytest.raises(AmbiguousNameError):
            resolve_indicator(query, labels=tuple(LABELS_2024))
        return
    found = resolve_indicator(query, labels=tuple(LABELS_2024))
    assert (found.slug, found.label_fr, found.edition) == (slug, label, "2024")


def test_indicator_of_the_other_edition_is_explained() -> None:
    with pytest.raises(UnknownNameError) as info:
        resolve_indicator("Usage de stupéfiants (AFD)", labels=list(LABELS_2024))
    assert "2025 edition" in str(info.value)
    assert info.value.suggestions == ["Usage de stupéfiants"]
    with pytest.raises(UnknownNameError) as info:
        resolve_indicator("Coups et blessures volontaires intrafamiliaux")
    assert "2024 edition" in str(info.value)
    assert info.value.suggestions == ["Violences physiques intrafamiliales"]


def test_restricted_subset_does_not_fall_back_on_a_partial_match() -> None:
    labels = ["Tentatives d'homicide", "Vols de véhicule"]
    with pytest.raises(UnknownNameError, match="not in the loaded data"):
        resolve_indicator("Homicides", labels=labels)
    assert resolve_indicator("tentatives", labels=labels).slug == "attempted-homicide"
    assert resolve_indicator("vols", labels=labels).slug == "vehicle-theft"


def test_empty_or_unknown_labels() -> None:
    with pytest.raises(UnknownNameError):
        resolve_indicator("homicide", labels=[])
    with pytest.raises(UnknownNameError):
        resolve_indicator("homicide", labels=["Nonsense"])


def test_lookups_are_fast() -> None:
    labels = tuple(LABELS_2024)
    queries = ["Homicides", "cambriolages", "violences sexuelles", "vols de vehicules", "fraud"]
    start = time.perf_counter()
    for _ in range(200):
        for query in queries:
            resolve_indicator(query)
            resolve_indicator(query, labels=labels)
    assert (time.perf_counter() - start) / (400 * len(queries)) < 1e-3


# -- Properties ----------------------------------------------------------------------------------

ALL = (*CATALOG_2025, *CATALOG_2024)


@st.composite
def mutated_labels(draw: st.DrawFn) -> str:
    ind = draw(st.sampled_from(ALL))
    name = draw(st.sampled_from([ind.slug, ind.label_fr, ind.label_en, *ind.aliases]))
    i = draw(st.integers(0, len(name) - 1))
    op = draw(st.sampled_from(["drop", "insert", "prefix", "suffix", "upper", "words"]))
    return {
        "drop": name[:i] + name[i + 1:],
        "insert": name[:i] + draw(st.characters()) + name[i:],
        "prefix": name[: i + 1],
        "suffix": name[i:],
        "upper": name.upper(),
        "words": " ".join(reversed(name.split())),
    }[op]


LABEL_SETS = st.sampled_from([None, tuple(LABELS_2025), tuple(LABELS_2024),
                              ("Homicides", "Tentatives d'homicide")])


@settings(max_examples=500, deadline=None)
@given(st.text(max_size=250) | mutated_labels(), LABEL_SETS)
def test_any_text_gives_an_indicator_or_lookup_failed(
    query: str, labels: tuple[str, ...] | None
) -> None:
    try:
        found = resolve_indicator(query, labels=labels)
    except LookupFailed as exc:
        assert str(exc)
        assert all(isinstance(s, str) for s in exc.suggestions)
    else:
        assert isinstance(found, Indicator)
        if labels is not None:
            assert found.label_fr in labels


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(ALL), st.sampled_from(["slug", "label", "fold", "upper", "en"]))
def test_every_indicator_resolves_to_itself(ind: Indicator, how: str) -> None:
    query = {"slug": ind.slug, "label": ind.label_fr, "fold": fold(ind.label_fr),
             "upper": ind.label_fr.upper(), "en": ind.label_en}[how]
    labels = [i.label_fr for i in catalog(ind.edition)]
    assert resolve_indicator(query, labels=labels) == ind


# -- Common names (aliases) and the words in them --------------------------------------------------

# Words of a common name that resolve alone to another indicator, rightly.
RESOLVE_ELSEWHERE = {
    # Of "tentatives d'homicide(s)", "attempted homicides/murder(s)", "tentatives de meurtre":
    # the word alone is the homicide itself.
    "homicide": "homicide", "homicides": "homicide", "meurtre": "homicide",
    "murder": "homicide", "murders": "homicide",
    # Of "hors AFD", "excluding AFD": "AFD" alone is the fixed-fine series.
    "afd": "drug-use-afd",
    # Of "sexual assaults": in the 2024 edition "assaults" is an alias of "Coups et blessures
    # volontaires" (in 2025 it is ambiguous between the two physical-violence indicators).
    "assaults": "assault",
}


def _alias_words() -> list[tuple[str, str, frozenset[str]]]:
    """(edition, folded word, slugs having a multi-word alias with that word), whole catalogue."""
    owners: dict[tuple[str, str], set[str]] = {}
    for ind in ALL:
        for alias in ind.aliases:
            words = fold(alias).split()
            if len(words) > 1:
                for word in words:
                    owners.setdefault((ind.edition, word), set()).add(ind.slug)
    return [(ed, word, frozenset(slugs)) for (ed, word), slugs in sorted(owners.items())]


ALIAS_WORDS = _alias_words()


def _stemmed(text: str) -> tuple[str, ...]:
    return tuple(w[:-1] if len(w) > 3 and w[-1] in "sx" else w for w in fold(text).split())


def _named_by(word: str, ind: Indicator) -> bool:
    """Whether ``word`` is a whole name of ``ind`` (any alias, plural aside), or a word or the
    start of a word of its official names (slug, labels)."""
    if any(_stemmed(name) == _stemmed(word) for name in ind.aliases):
        return True
    official = {w for name in (ind.slug, ind.label_fr, ind.label_en) for w in _stemmed(name)}
    (stemmed,) = _stemmed(word)
    return any(w.startswith(stemmed) for w in official)


def test_alias_words_cover_the_catalogue() -> None:
    assert len(ALIAS_WORDS) > 200
    assert ("2025", "abuse", frozenset({"domestic-physical-violence"})) in ALIAS_WORDS


@pytest.mark.parametrize(("edition", "word", "owners"), ALIAS_WORDS,
                         ids=[f"{ed}-{w}" for ed, w, _ in ALIAS_WORDS])
def test_a_word_of_a_common_name_never_resolves_through_that_name_alone(
    edition: str, word: str, owners: frozenset[str]
) -> None:
    """Every single word of every multi-word alias, alone, is ambiguous or unknown, or resolves to
    an indicator having that alias (never to another one, except those of RESOLVE_ELSEWHERE), and
    then only as a whole name of it or a word of its official names: an alias never makes a
    generic word ("abuse" of "domestic abuse") resolve on its own."""
    ind = catalog(edition)
    try:
        found = resolve_indicator(word, labels=[i.label_fr for i in ind])
    except LookupFailed:
        return
    if word in RESOLVE_ELSEWHERE:
        assert found.slug == RESOLVE_ELSEWHERE[word]
        return
    assert found.slug in owners, f"{word!r} resolves to {found.slug}, not to {sorted(owners)}"
    assert _named_by(word, found), f"{word!r} resolves to {found.slug} through part of an alias"


def test_the_allow_list_is_needed() -> None:
    for word, slug in RESOLVE_ELSEWHERE.items():
        owners = {o for ed, w, os in ALIAS_WORDS if w == word for o in os}
        assert owners and slug not in owners, word


# -- how a partial name was read (never a silent substitution) ------------------------------------


@pytest.mark.parametrize("edition", EDITIONS)
def test_full_names_slugs_and_aliases_get_no_note(edition: str) -> None:
    for ind in catalog(edition):
        for name in (ind.slug, ind.label_fr, ind.label_en, ind.label_fr.upper()):
            assert resolve_indicator(name, labels=[i.label_fr for i in catalog(edition)]) == ind
            assert resolution_notes(name, ind) == [], name
    for alias in ("cambriolages", "burglaries", "vols de vehicules", "escroqueries"):
        assert resolution_notes(alias, resolve_indicator(alias)) == [], alias


@pytest.mark.parametrize(("query", "slug", "how"), [
    ("cambriol", "burglary", "whose name starts with 'cambriol'"),
    ("sexuelles", "sexual-violence", "whose name contains it"),
])
def test_a_partial_name_says_how_it_was_read(query: str, slug: str, how: str) -> None:
    ind = resolve_indicator(query)
    assert ind.slug == slug
    (note,) = resolution_notes(query, ind)
    assert f"'{query}' was read as '{ind.label_fr}'" in note and how in note
    assert f"the slug ('{slug}')" in note


@settings(max_examples=200, deadline=None)
@given(st.sampled_from(CATALOG_2025), st.integers(min_value=3, max_value=40))
def test_every_prefix_that_resolves_is_said(ind: Indicator, cut: int) -> None:
    """A cut label either fails (unknown or ambiguous, with candidates) or resolves; when it
    resolves to an indicator whose full name it is not, the answer's note says so."""
    query = ind.label_fr[:cut]
    try:
        found = resolve_indicator(query)
    except LookupFailed:
        return
    notes = resolution_notes(query, found)

    def plain(text: str) -> str:  # folded, plurals aside
        return " ".join(stem(w) for w in fold(text).replace("-", " ").split())

    names = {plain(n) for n in (found.slug, found.label_fr, found.label_en, *found.aliases)}
    if notes == []:  # no note: the query is a whole name or alias of it (plurals aside)
        assert plain(query) in names, query
    else:
        assert plain(query) not in names and f"'{found.label_fr}'" in notes[0]
