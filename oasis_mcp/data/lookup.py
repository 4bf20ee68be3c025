"""Generic name matcher shared by the area and indicator lookups (and the question planner).

A :class:`NameMatcher` is built once from ``(alias, key)`` pairs. Matching works on folded text
(:func:`oasis_mcp.text.fold`) and tries, in order, each tier of :class:`Tier`; the first tier with a
match decides: one key resolves, several keys are ambiguous. Nothing matching gives the closest
aliases (difflib, whole query and word by word) as suggestions. Only :class:`LookupFailed`
subclasses are raised, whatever the query.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from difflib import SequenceMatcher
from enum import IntEnum
from typing import Generic, TypeVar

from oasis_mcp.errors import AmbiguousNameError, UnknownNameError
from oasis_mcp.text import fold

K = TypeVar("K", bound=Hashable)

MAX_QUERY_LENGTH = 200
"""Longer queries are rejected outright (no real name is anywhere near this long)."""

MIN_PREFIX_LENGTH = 3
"""A prefix shorter than this never resolves ("a" is not a name)."""

SHORTLIST = 8
MIN_DICE = 0.45
"""Spelling suggestions: at most SHORTLIST candidates sharing enough character bigrams (Dice
coefficient >= MIN_DICE) are then scored with difflib's ratio."""

MAX_LISTED = 12
"""At most this many matches are named in an error message."""

STOP_WORDS = frozenset({
    "a", "an", "and", "au", "aux", "avec", "contre", "d", "dans", "de", "des", "du", "en", "et",
    "in", "l", "la", "le", "les", "of", "on", "par", "pour", "sur", "the", "to", "with",
})
"""Words ignored by the whole-word tier; a query of these alone matches no prefix either (they
never identify anything on their own)."""

class Tier(IntEnum):
    """How a query matched an alias, best first."""

    EXACT = 0  # folded query == folded alias
    INFLECTED = 1  # equal once each word loses a plural -s/-x ("vols de vehicules")
    PREFIX = 2  # the query starts an alias ("cambriolages" -> "cambriolages de logement")
    WORDS = 3  # every significant query word is a word of the alias ("sexuelles")


@dataclass(frozen=True)
class Match(Generic[K]):
    """The best tier reached by a query and the keys matched at that tier (in table order)."""

    tier: Tier
    keys: tuple[K, ...]

    @property
    def unique(self) -> bool:
        return len(self.keys) == 1


def stem(word: str) -> str:
    """Crude plural stripping for French and English words of a folded text."""
    if len(word) > 3 and word[-1] in "sx":
        return word[:-1]
    return word


def shown(query: str, limit: int = 60) -> str:
    """The query as quoted in messages: whitespace collapsed, long input cut."""
    text = " ".join(query.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def partial_match_note(
    query: str, name: str, kind: str, tier: Tier, part: str | None = None,
    exact: str = "the full name or the code",
) -> str | None:
    """The warning owed when ``query`` named ``name`` only partly: a prefix ("Bret" for Bretagne)
    or some of its words ("Azur"); ``part`` is the piece that matched when not the whole query
    ("bret" of "région Bret"). Such a query may have meant something else, and the answer must say
    how it was read (None for exact names, aliases and codes)."""
    piece = shown(part or query)
    if tier == Tier.PREFIX:
        how = f"the only {kind} whose name starts with '{piece}'"
    elif tier == Tier.WORDS:
        how = f"the only {kind} whose name contains {'these words' if ' ' in piece else 'it'}"
    else:
        return None
    return f"'{shown(query)}' was read as {name}, {how}; give {exact} to be sure."


def check_query(query: object, kind: str, hint: str = "") -> str:
    """Validate a raw query and return its folded form.

    Raises UnknownNameError for non-strings, empty or punctuation-only text and absurdly long text.
    """
    tail = f" {hint}" if hint else ""
    if not isinstance(query, str):
        raise UnknownNameError(
            f"A {kind} must be given as text, not {type(query).__name__}.{tail}", str(query), kind
        )
    if len(query) > MAX_QUERY_LENGTH:
        raise UnknownNameError(
            f"The {kind} name is too long ({len(query)} characters; at most {MAX_QUERY_LENGTH})."
            f"{tail}",
            query,
            kind,
        )
    folded = fold(query)
    if not folded:
        what = "is empty" if not query.strip() else f"'{shown(query)}' has no letters or digits"
        raise UnknownNameError(f"The {kind} name {what}.{tail}", query, kind)
    return folded


def unknown_error(
    query: str, kind: str, suggestions: Sequence[str], hint: str = "", described: Sequence[str] = ()
) -> UnknownNameError:
    """``Unknown region 'Bretgne'. Did you mean: Bretagne (53)? <hint>``"""
    message = f"Unknown {kind} '{shown(query)}'."
    names = list(described or suggestions)
    if names:
        message += f" Did you mean: {', '.join(names)}?"
    if hint:
        message += f" {hint}"
    return UnknownNameError(message, query, kind, suggestions)


def ambiguous_error(
    query: str, kind: str, suggestions: Sequence[str], hint: str = "", described: Sequence[str] = ()
) -> AmbiguousNameError:
    """``Ambiguous indicator 'drugs': it matches A, B. <hint>``"""
    names = list(described or suggestions)
    listed = ", ".join(names[:MAX_LISTED])
    if len(names) > MAX_LISTED:
        listed += f" and {len(names) - MAX_LISTED} more"
    message = f"Ambiguous {kind} '{shown(query)}': it matches {listed}."
    if hint:
        message += f" {hint}"
    return AmbiguousNameError(message, query, kind, suggestions)


class NameMatcher(Generic[K]):
    """Resolve free-text names to keys of a fixed alias table.

    ``label(key)`` is what goes into ``.suggestions`` (it should resolve back to the key),
    ``describe(key)`` what error messages show (defaults to the label). ``token_map`` rewrites
    folded words on both sides (e.g. ``{"st": "saint"}``).
    """

    def __init__(
        self,
        entries: Iterable[tuple[str, K]],
        *,
        kind: str,
        label: Callable[[K], str] = str,
        describe: Callable[[K], str] | None = None,
        hint: str = "",
        ambiguous_hint: str = "",
        token_map: Mapping[str, str] | None = None,
    ) -> None:
        self.kind = kind
        self.label = label
        self.describe = describe or label
        self.hint = hint
        self.ambiguous_hint = ambiguous_hint
        self._token_map = dict(token_map or {})
        self._rank: dict[K, int] = {}
        exact: dict[str, list[K]] = {}
        inflected: dict[str, list[K]] = {}
        for alias, key in entries:
            self._rank.setdefault(key, len(self._rank))
            folded = self.normalize(alias)
            if not folded:
                continue
            _add(exact, folded, key)
            _add(inflected, _stemmed(folded), key)
        self._exact = {a: tuple(ks) for a, ks in exact.items()}
        self._inflected = {a: tuple(ks) for a, ks in inflected.items()}
        self._scan = [
            (alias, frozenset(stem(w) for w in alias.split()), keys)
            for alias, keys in self._exact.items()
        ]
        # Spelling suggestions compare names, not codes ("bretagne 53" is only for round trips).
        spellings = {a: ks for a, ks in self._exact.items() if not any(c.isdigit() for c in a)}
        vocabulary: dict[str, list[K]] = {}
        for alias, keys in spellings.items():
            for word in set(alias.split()):
                if len(word) >= 4:
                    for key in keys:
                        _add(vocabulary, word, key)
        self._spellings = _GramIndex(spellings.items())
        self._vocabulary = _GramIndex((w, tuple(ks)) for w, ks in vocabulary.items())

    # -- normalisation -------------------------------------------------------------------------

    def normalize(self, text: str) -> str:
        """Fold, then apply the token map."""
        folded = fold(text)
        if not self._token_map:
            return folded
        return " ".join(self._token_map.get(w, w) for w in folded.split())

    @property
    def keys(self) -> tuple[K, ...]:
        """Every key of the table, in table order."""
        return tuple(self._rank)

    def aliases(self) -> dict[str, K]:
        """Folded alias -> key, for the aliases naming exactly one key."""
        return {a: ks[0] for a, ks in self._exact.items() if len(ks) == 1}

    # -- matching ------------------------------------------------------------------------------

    def match(self, query: str, max_tier: Tier = Tier.WORDS) -> Match[K] | None:
        """The best match of a (raw, unfolded) query, or None. Never raises on a str."""
        if len(query) > MAX_QUERY_LENGTH:
            return None
        return self.match_folded(self.normalize(query), max_tier)

    def match_folded(self, folded: str, max_tier: Tier = Tier.WORDS) -> Match[K] | None:
        """Like :meth:`match` for an already normalised query."""
        if not folded:
            return None
        keys = self._exact.get(folded)
        if keys:
            return Match(Tier.EXACT, self._ordered(keys))
        if max_tier < Tier.INFLECTED:
            return None
        keys = self._inflected.get(_stemmed(folded))
        if keys:
            return Match(Tier.INFLECTED, self._ordered(keys))
        if max_tier < Tier.PREFIX or all(w in STOP_WORDS for w in folded.split()):
            return None  # a stop word is no part of a name ("des" of "destructions")
        prefixed: set[K] = set()
        if len(folded) >= MIN_PREFIX_LENGTH:
            prefixed = {k for alias, _, ks in self._scan if alias.startswith(folded) for k in ks}
        if len(prefixed) == 1 or (prefixed and max_tier < Tier.WORDS):
            return Match(Tier.PREFIX, self._ordered(prefixed))
        if max_tier < Tier.WORDS:
            return None
        worded = self._words(folded)
        if prefixed:  # ambiguous anyway: name every partial match
            return Match(Tier.PREFIX, self._ordered(prefixed | worded))
        if worded:
            return Match(Tier.WORDS, self._ordered(worded))
        return None

    def tier_of(self, folded: str, key: K) -> Tier | None:
        """The tier at which an already normalised query matches ``key`` (None if it does not)."""
        found = self.match_folded(folded)
        return found.tier if found is not None and key in found.keys else None

    def _words(self, folded: str) -> set[K]:
        words = {stem(w) for w in folded.split() if w not in STOP_WORDS}
        if not words:
            return set()
        return {k for _, tokens, ks in self._scan if words <= tokens for k in ks}

    def resolve(self, query: str) -> K:
        """The single key named by ``query``; raises UnknownNameError or AmbiguousNameError."""
        folded = check_query(query, self.kind, self.hint)
        found = self.match_folded(self.normalize(query) if self._token_map else folded)
        if found is None:
            raise self.unknown(query)
        if found.unique:
            return found.keys[0]
        raise self.ambiguous(query, found.keys)

    # -- errors --------------------------------------------------------------------------------

    def suggest(self, query: str, limit: int = 5) -> list[K]:
        """Closest keys by spelling (whole query, then word by word), best first."""
        return [key for key, _ in self.suggest_scored(query, limit)]

    def suggest_scored(self, query: str, limit: int = 5) -> list[tuple[K, float]]:
        """Like :meth:`suggest`, with similarity scores in (0, 1]."""
        if len(query) > MAX_QUERY_LENGTH:
            return []
        folded = self.normalize(query)
        if not folded:
            return []
        scores: dict[K, float] = {}

        def offer(keys: Iterable[K], score: float) -> None:
            for key in keys:
                if score > scores.get(key, 0.0):
                    scores[key] = score

        words = [w for w in dict.fromkeys(folded.split()) if len(w) >= 4 and not w.isdigit()][:8]
        passes = [(self._spellings, folded, 0.6, 1.0)]
        passes += [(self._vocabulary, w, 0.75, 0.95) for w in words]  # a word is weaker evidence
        matcher = SequenceMatcher(autojunk=False)
        for index, needle, cutoff, weight in passes:
            matcher.set_seq2(needle)
            for text, keys in index.shortlist(needle):
                matcher.set_seq1(text)
                if matcher.quick_ratio() >= cutoff and (ratio := matcher.ratio()) >= cutoff:
                    offer(keys, ratio * weight)
        ranked = sorted(scores, key=lambda k: (-scores[k], self._rank[k]))
        return [(key, scores[key]) for key in ranked[:limit]]

    def unknown(self, query: str, extra: str = "") -> UnknownNameError:
        """The error for a query matching nothing, with spelling suggestions."""
        close = self.suggest(query)
        hint = " ".join(p for p in (extra, self.hint) if p)
        return unknown_error(
            query,
            self.kind,
            [self.label(k) for k in close],
            hint,
            [self.describe(k) for k in close],
        )

    def ambiguous(self, query: str, keys: Sequence[K]) -> AmbiguousNameError:
        """The error for a query matching several keys equally well."""
        ordered = self._ordered(keys)
        return ambiguous_error(
            query,
            self.kind,
            [self.label(k) for k in ordered],
            self.ambiguous_hint,
            [self.describe(k) for k in ordered],
        )

    def _ordered(self, keys: Iterable[K]) -> tuple[K, ...]:
        return tuple(sorted(set(keys), key=lambda k: self._rank.get(k, len(self._rank))))


def resolve_name(
    query: str,
    table: Mapping[str, K] | Iterable[tuple[str, K]],
    *,
    kind: str = "name",
    hint: str = "",
) -> K:
    """One-off lookup in an ``alias -> key`` table (build a :class:`NameMatcher` to reuse it)."""
    entries = table.items() if isinstance(table, Mapping) else table
    return NameMatcher(entries, kind=kind, hint=hint).resolve(query)


def _add(index: dict[str, list[K]], alias: str, key: K) -> None:
    keys = index.setdefault(alias, [])
    if key not in keys:
        keys.append(key)


def _bigrams(text: str) -> frozenset[str]:
    padded = f" {text} "
    return frozenset(padded[i : i + 2] for i in range(len(padded) - 1))


class _GramIndex(Generic[K]):
    """Texts indexed by character bigrams, to shortlist spelling candidates cheaply."""

    def __init__(self, items: Iterable[tuple[str, tuple[K, ...]]]) -> None:
        self._items: list[tuple[str, tuple[K, ...], int]] = []
        self._postings: dict[str, list[int]] = {}
        for text, keys in items:
            grams = _bigrams(text)
            for gram in grams:
                self._postings.setdefault(gram, []).append(len(self._items))
            self._items.append((text, keys, len(grams)))

    def shortlist(self, needle: str, size: int = SHORTLIST) -> list[tuple[str, tuple[K, ...]]]:
        """Up to ``size`` texts sharing the most bigrams with ``needle`` (Dice coefficient)."""
        grams = _bigrams(needle)
        shared: dict[int, int] = {}
        for gram in grams:
            for i in self._postings.get(gram, ()):
                shared[i] = shared.get(i, 0) + 1
        total = len(grams)

        def dice(i: int) -> float:
            return 2 * shared[i] / (total + self._items[i][2])

        best = heapq.nlargest(size, (i for i in shared if dice(i) >= MIN_DICE), key=dice)
        return [(self._items[i][0], self._items[i][1]) for i in best]


def _stemmed(folded: str) -> str:
    return " ".join(stem(w) for w in folded.split())
