"""Commune names: Etalab's commune referential (``<data dir>/cog/communes.json``) and resolution.

The SSMSI communal file has codes only. Names, departments, postal codes, municipal arrondissements
(Paris 751xx, Lyon 6938x, Marseille 132xx, each with its parent commune) and former codes of merged
communes (``anciensCodes``, delegated and associated communes) come from the referential of
``@etalab/decoupage-administratif`` (the INSEE COG), read once, on the first commune request.

:func:`resolve_commune` reads, in order:

1. an INSEE code (``33063``, ``2A004``; a former code is said to be one);
2. an arrondissement written the usual way (``Paris 15e``, ``Lyon 3``,
   ``Marseille 8e arrondissement``);
3. a postal code (``26000``) when it names one commune (else the candidates);
4. a name, optionally with its department or region: ``Saint-Denis (93)``, ``Valence, Drôme``,
   ``Saint-Denis 974``, ``Saint-Denis (La Réunion)``, ``Valence 26000``. ``St``/``Ste`` are read as
   ``Saint``/``Sainte``. A name shared by several communes is ambiguous: the error lists every
   candidate with its department and code (each resolves back).

Without the referential, INSEE codes still work and names get an error saying what is missing.
"""

from __future__ import annotations

import difflib
import json
import logging
import re
import threading
from collections.abc import Collection
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, NamedTuple

from oasis_mcp.data import geography
from oasis_mcp.data.lookup import ambiguous_error, check_query, shown, unknown_error
from oasis_mcp.errors import DataFileError, LookupFailed, UnknownNameError
from oasis_mcp.text import fold

log = logging.getLogger(__name__)

REFERENTIAL_PATH = Path("cog") / "communes.json"
CommuneKind = Literal["commune", "arrondissement", "former"]
CODE_PATTERN = re.compile(r"^(?:\d{5}|2[AB]\d{3})$")
PARENTS = {"75056": "Paris", "69123": "Lyon", "13055": "Marseille"}
"""Communes published both whole and by municipal arrondissement."""
_ARRONDISSEMENT = re.compile(
    r"^(paris|lyon|marseille)\s+(\d{1,2})\s*(?:e|er|re|eme|ieme|em)?(?:\s+arr[a-z]*)?$"
)
_ARR_CODE = {"paris": ("751", 20), "lyon": ("6938", 9), "marseille": ("132", 16)}
_HINT_PATTERNS = (
    re.compile(r"^(?P<name>.+?)\s*\(\s*(?P<hint>[^()]+?)\s*\)\s*$"),
    re.compile(r"^(?P<name>.+?)\s*,\s*(?P<hint>.+?)\s*$"),
    re.compile(r"^(?P<name>.+?)\s+-\s+(?P<hint>.+?)\s*$"),
    re.compile(r"^(?P<name>.+?)\s+(?P<hint>\d{5}|\d{2,3}|2[abAB])\s*$"),
)
_TOKEN_MAP = {"st": "saint", "ste": "sainte"}
HINT = ("Give the INSEE code (e.g. '33063'), or the name with its department: 'Saint-Denis (93)', "
        "'Valence, Drôme'; find_area searches names.")


class Commune(NamedTuple):
    code: str
    name: str
    department: str
    kind: CommuneKind = "commune"
    parent: str | None = None  # arrondissement: its commune; former commune: the current one
    postal_codes: tuple[str, ...] = ()
    population: int | None = None  # the referential's (recent census); the file has its own

    @property
    def label(self) -> str:
        """``Saint-Denis (93)``: resolves back when the name is unique in its department."""
        return f"{self.name} ({self.department})"

    @property
    def described(self) -> str:
        dep = _department_name(self.department)
        return f"{self.name} ({dep}, {self.department}; INSEE code {self.code})"


def _department_name(code: str) -> str:
    try:
        return geography.get_area(code, "department").name
    except LookupFailed:
        return code


@dataclass
class CommuneNames:
    """The referential, indexed by code, folded name and postal code."""

    by_code: dict[str, Commune]
    by_name: dict[str, list[str]]
    former_by_name: dict[str, list[str]]
    by_postal: dict[str, list[str]]
    source: str
    _buckets: dict[str, list[str]] = field(default_factory=dict, repr=False)

    def names_near(self, folded: str, n: int = 5) -> list[str]:
        """Codes of the communes whose names are closest to ``folded``."""
        if not self._buckets:
            for name in self.by_name:
                self._buckets.setdefault(name[:2], []).append(name)
        pool = self._buckets.get(folded[:2], [])
        close = difflib.get_close_matches(folded, pool, n=n, cutoff=0.7)
        if not close:
            close = [name for name in pool if name.startswith(folded)][:n]
        return [code for name in close for code in self.by_name[name]][:n]


def _key(name: str) -> str:
    return " ".join(_TOKEN_MAP.get(w, w) for w in fold(name).split())


_COMBINING = re.compile(r"[\u0300-\u036f]")
_NON_ALNUM = re.compile(r"[^0-9a-z\n]+")
_TOKENS = re.compile(r"(?<![0-9a-z])(st|ste)(?![0-9a-z])")


def _keys(names: list[str]) -> list[str]:
    """:func:`_key` of many names at once (the same result, ten times faster: one pass of
    Unicode normalisation over the joined text)."""
    import unicodedata

    text = unicodedata.normalize("NFKD", "\n".join(n.replace("\n", " ") for n in names))
    text = _COMBINING.sub("", text).casefold().replace("œ", "oe").replace("æ", "ae")
    text = _NON_ALNUM.sub(" ", text)
    text = _TOKENS.sub(lambda m: _TOKEN_MAP[m[1]], text)
    return [" ".join(line.split()) for line in text.split("\n")]


def parse_referential(entries: object, source: str) -> CommuneNames:
    if not isinstance(entries, list):
        raise DataFileError(source, "is not the Etalab commune list (a JSON array of communes)")
    by_code: dict[str, Commune] = {}
    former: dict[str, Commune] = {}
    for item in entries:
        if not isinstance(item, dict) or not {"code", "nom", "type", "departement"} <= set(item):
            raise DataFileError(source, "an entry lacks code, nom, type or departement: not the "
                                "Etalab commune list (@etalab/decoupage-administratif)")
        code, kind = str(item["code"]), str(item["type"])
        postal = tuple(str(p) for p in item.get("codesPostaux") or ())
        pop = item.get("population")
        pop = pop if isinstance(pop, int) else None
        dep = str(item["departement"])
        if kind == "commune-actuelle":
            by_code[code] = Commune(code, str(item["nom"]), dep, "commune", None, postal, pop)
            for old in item.get("anciensCodes") or ():
                former.setdefault(str(old), Commune(str(old), f"former commune {old}", dep,
                                                    "former", code))
        elif kind == "arrondissement-municipal":
            by_code[code] = Commune(code, str(item["nom"]), dep, "arrondissement",
                                    str(item.get("commune") or ""), postal, pop)
        elif kind in ("commune-deleguee", "commune-associee"):
            parent = str(item.get("chefLieu") or "")
            if code != parent:
                former[code] = Commune(code, str(item["nom"]), dep, "former", parent)
    for code, commune in former.items():
        by_code.setdefault(code, commune)
    all_communes = list(by_code.values())
    return _indexed(all_communes, _keys([c.name for c in all_communes]), source)


def _indexed(all_communes: list[Commune], keys: list[str], source: str) -> CommuneNames:
    by_code = {c.code: c for c in all_communes}
    by_name: dict[str, list[str]] = {}
    former_by_name: dict[str, list[str]] = {}
    by_postal: dict[str, list[str]] = {}
    for commune, key in zip(all_communes, keys, strict=True):
        if commune.kind == "former":
            if not commune.name.startswith("former commune"):
                former_by_name.setdefault(key, []).append(commune.code)
            continue
        by_name.setdefault(key, []).append(commune.code)
        for postal_code in commune.postal_codes:
            by_postal.setdefault(postal_code, []).append(commune.code)
    return CommuneNames(by_code, by_name, former_by_name, by_postal, source)


_loaded: dict[tuple[str, int, int], CommuneNames] = {}
_lock = threading.Lock()


def load_referential(data_dir: Path) -> CommuneNames | None:
    """The referential of ``data_dir/cog/communes.json`` (None when the file is not there)."""
    path = data_dir / REFERENTIAL_PATH
    try:
        st = path.stat()
    except OSError:
        return None
    key = (str(path.resolve()), st.st_size, st.st_mtime_ns)
    with _lock:
        hit = _loaded.get(key)
        if hit is None:
            cache = _cache_path(key)
            hit = _load_cache(cache)
            if hit is None:
                try:
                    entries = json.loads(path.read_bytes())
                except (OSError, ValueError) as exc:
                    raise DataFileError(str(REFERENTIAL_PATH),
                                        f"cannot be read as JSON ({exc})") from None
                hit = parse_referential(entries, str(REFERENTIAL_PATH))
                _save_cache(hit, cache)
            _loaded.clear()
            _loaded[key] = hit
            log.info("read %d commune names from %s", len(hit.by_code), path)
        return hit


# A compact copy of the parsed referential in the user cache (JSON lists: 3 times smaller than
# the referential and read without re-deriving the folded names).


def _cache_path(key: tuple[str, int, int]) -> Path:
    import hashlib

    from oasis_mcp import config

    digest = hashlib.sha256(f"1|{key}".encode()).hexdigest()[:24]
    return config.cache_dir() / "communes" / f"names-{digest}.json"


def _save_cache(names: CommuneNames, cache: Path) -> None:
    import os
    import tempfile

    from oasis_mcp.data.manifest import public_mode

    communes = list(names.by_code.values())
    rows = [[c.code, c.name, c.department, c.kind, c.parent, " ".join(c.postal_codes),
             c.population] for c in communes]
    try:
        cache.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=cache.parent, suffix=".tmp")
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump({"source": names.source, "rows": rows,
                       "keys": _keys([c.name for c in communes])}, fh, ensure_ascii=False)
        os.chmod(tmp, public_mode())  # mkstemp made it 0600: readable like the installed files
        os.replace(tmp, cache)
    except OSError as exc:
        log.warning("could not write the commune names cache %s (%s)", cache, exc)


def _load_cache(cache: Path) -> CommuneNames | None:
    try:
        data = json.loads(cache.read_bytes())
        communes = [Commune(r[0], r[1], r[2], r[3], r[4], tuple(r[5].split()), r[6])
                    for r in data["rows"]]
        return _indexed(communes, data["keys"], data["source"])
    except (OSError, ValueError, KeyError, IndexError, TypeError, AttributeError):
        return None


# ---------------------------------------------------------------------------------------------
# Resolution


@dataclass(frozen=True)
class Resolved:
    commune: Commune
    notes: tuple[str, ...] = ()


def resolve_commune(query: object, names: CommuneNames | None,
                    known: Collection[str] = ()) -> Resolved:
    """The commune named by ``query`` among the codes ``known`` (the file's; empty: any).

    Raises :class:`UnknownNameError` / :class:`AmbiguousNameError` (with candidates)."""
    folded = check_query(query, "commune", HINT)
    assert isinstance(query, str)
    raw = " ".join(query.split())
    upper = raw.upper()
    if CODE_PATTERN.match(upper):
        return _by_code(upper, raw, names, known)
    arr = _ARRONDISSEMENT.match(folded)
    if arr:
        prefix, top = _ARR_CODE[arr[1]]
        number = int(arr[2])
        if not 1 <= number <= top:
            raise UnknownNameError(
                f"{arr[1].title()} has arrondissements 1 to {top}, not {number}.", raw, "commune",
                [f"{arr[1].title()} 1er"])
        code = f"{prefix}{number:0{5 - len(prefix)}d}"
        return _by_code(code, raw, names, known)
    if names is None:
        raise UnknownNameError(
            f"Commune names cannot be read: the commune referential {REFERENTIAL_PATH} is not in "
            "the data directory (Etalab's communes.json, package @etalab/decoupage-administratif, "
            "or `oasis-mcp data update`). INSEE codes work without it: e.g. '33063' for "
            "Bordeaux.", raw, "commune")
    name, hint = raw, None
    for pattern in _HINT_PATTERNS:
        m = pattern.match(raw)
        if m and _key(m["name"]):
            name, hint = m["name"], m["hint"]
            break
    key = _key(name)
    codes = names.by_name.get(key, [])
    former = False
    if not codes and _key(raw) in names.by_name:  # a name that contains a comma or brackets
        key, codes, hint = _key(raw), names.by_name[_key(raw)], None
    if not codes:
        codes, former = names.former_by_name.get(key, []), True
    if not codes:
        near = names.names_near(key)
        cands = [names.by_code[c] for c in near]
        raise unknown_error(raw if hint is None else name, "commune",
                            [c.label for c in cands], HINT, [c.described for c in cands])
    cands = [names.by_code[c] for c in codes]
    notes: list[str] = []
    if hint is not None:
        cands, hint_note = _filter(cands, hint, raw)
        notes += hint_note
    if known:
        in_file = [c for c in cands if c.code in known or (c.parent and c.kind == "former")]
        cands = in_file or cands
    if len(cands) > 1:
        cands.sort(key=lambda c: -(c.population or 0))
        raise ambiguous_error(
            raw, "commune", [_pick_label(c, names) for c in cands], HINT,
            [c.described for c in cands])
    resolved = _by_code(cands[0].code, raw, names, known)
    if former:
        notes.append(f"'{shown(raw)}' is a former commune (delegated or associated).")
    return Resolved(resolved.commune, (*notes, *resolved.notes))


def _pick_label(c: Commune, names: CommuneNames) -> str:
    """The label that resolves back to ``c``: 'Name (dep)', or the code for homonyms in one
    department."""
    same = [x for x in names.by_name.get(_key(c.name), []) if names.by_code[x].department
            == c.department]
    return c.label if len(same) <= 1 else c.code


def _region_of(department: str) -> str | None:
    """The region of an SSMSI department; None for a code outside them (e.g. 977)."""
    try:
        return geography.get_area(department, "department").region_code
    except LookupFailed:
        return None


def _filter(cands: list[Commune], hint: str, raw: str) -> tuple[list[Commune], list[str]]:
    hint = hint.strip()
    if re.fullmatch(r"\d{5}", hint):
        kept = [c for c in cands if hint in c.postal_codes]
        if kept:
            return kept, []
    own = [c for c in cands if c.department == hint.upper()]
    if own:  # the code the referential gives (also for overseas collectivities such as 977,
        return own, []  # which are no SSMSI department)
    dep: str | None = None
    region: str | None = None
    try:
        dep = geography.get_area(hint.upper(), "department").code
    except LookupFailed:
        try:
            dep = geography.resolve_area(hint, "department").code
        except LookupFailed:
            try:
                region = geography.resolve_area(hint, "region").code
            except LookupFailed:
                raise UnknownNameError(
                    f"'{shown(hint)}' in '{shown(raw)}' is neither a department nor a region "
                    "(nor a postal code of that name).", raw, "commune",
                    [c.label for c in cands]) from None
    if dep is not None:
        kept = [c for c in cands if c.department == dep]
        where = _department_name(dep) + f" ({dep})"
    else:
        kept = [c for c in cands if _region_of(c.department) == region]
        where = geography.get_area(region or "", "region").name
    if not kept:
        listed = ", ".join(c.described for c in cands[:12])
        raise UnknownNameError(
            f"No commune named {cands[0].name} in {where}; there is {listed}.", raw, "commune",
            [c.label for c in cands])
    return kept, []


def _by_code(code: str, raw: str, names: CommuneNames | None,
             known: Collection[str]) -> Resolved:
    commune = names.by_code.get(code) if names is not None else None
    in_file = not known or code in known
    notes: list[str] = []
    if commune is None:
        if names is not None and code in names.by_postal and not (known and code in known):
            return _by_postal(code, raw, names, known)
        if known and code not in known:
            raise UnknownNameError(
                f"No commune with INSEE code {code} in the communal file (nor in the commune "
                f"referential).{'' if names is not None else ' Commune names are unavailable.'}",
                raw, "commune")
        name = code if names is None else f"commune {code}"
        commune = Commune(code, name, _dep(code))
        if names is None:
            notes.append(f"Names of communes are unavailable (no {REFERENTIAL_PATH} in the data "
                         f"directory): {code} is shown by its code.")
        else:
            notes.append(f"{code} is in the communal file but not in the commune referential "
                         f"({names.source}): its name is unknown here.")
        return Resolved(commune, tuple(notes))
    if (commune.kind == "former" and names is not None and code in names.by_postal
            and not (known and code in known)):  # 75015: a postal code, not a 1960s code
        try:
            return _by_postal(code, raw, names, known)
        except LookupFailed:  # several communes share the postal code: the former code it is
            pass
    if commune.kind == "former":
        parent = names.by_code.get(commune.parent or "") if names is not None else None
        if in_file:
            notes.append(
                f"{commune.name} ({code}) is a former commune in the referential's geography, "
                f"now part of {parent.name if parent else commune.parent} ({commune.parent}); "
                "the communal file still has it under its own code, as in the file's geography.")
        elif parent is not None and (not known or parent.code in known):
            notes.append(
                f"{commune.name} ({code}) merged into {parent.name} ({parent.code}); the file "
                f"uses the edition's geography: figures are those of {parent.name}.")
            commune = parent
        else:
            raise UnknownNameError(
                f"{commune.name} ({code}) is a former commune and neither it nor "
                f"{commune.parent} is in the communal file.", raw, "commune")
    elif not in_file:
        olds = [c for c, x in names.by_code.items() if x.kind == "former" and x.parent == code
                and c in known] if names is not None else []
        extra = (f" It was formed from {', '.join(olds)}, which the file has under their own "
                 "codes (the edition's geography): ask for those." if olds else "")
        raise UnknownNameError(
            f"{commune.described} is not in the communal file (its geography may predate "
            f"the commune).{extra}", raw, "commune", olds)
    if names is not None and code in names.by_postal and code not in names.by_postal[code]:
        others = [names.by_code[c] for c in names.by_postal[code]]
        notes.append(f"'{code}' was read as the INSEE code of {commune.name}; as a postal code "
                     f"it is {', '.join(c.label for c in others)}.")
    return Resolved(commune, tuple(notes))


def _by_postal(code: str, raw: str, names: CommuneNames, known: Collection[str]) -> Resolved:
    cands = [names.by_code[c] for c in names.by_postal[code]]
    if known:
        cands = [c for c in cands if c.code in known] or cands
    arrs = [c for c in cands if c.kind == "arrondissement"]
    if len(arrs) == 1:  # 75015 is Paris and Paris 15e: the arrondissement is what was meant
        cands = arrs
    if len(cands) > 1:
        raise ambiguous_error(raw, "commune (postal code)", [_pick_label(c, names) for c in cands],
                              HINT, [c.described for c in cands])
    found = _by_code(cands[0].code, raw, names, known)
    return Resolved(found.commune, (f"'{code}' was read as a postal code: {cands[0].described}.",
                                    *found.notes))


def _dep(code: str) -> str:
    return code[:3] if code.startswith("97") else code[:2]
