"""Text normalisation shared by every name lookup (areas, indicators, questions)."""

from __future__ import annotations

import re
import unicodedata

_NON_ALNUM = re.compile(r"[^0-9a-z]+")


def fold(text: str) -> str:
    """Lower-case, strip accents, turn every run of non-alphanumerics (hyphens, apostrophes,
    spaces, punctuation) into a single space, and trim.

    >>> fold("Provence-Alpes-Côte d'Azur")
    'provence alpes cote d azur'
    """
    decomposed = unicodedata.normalize("NFKD", text)
    no_accents = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    lowered = no_accents.casefold().replace("œ", "oe").replace("æ", "ae")
    return _NON_ALNUM.sub(" ", lowered).strip()
