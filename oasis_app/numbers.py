"""Numbers written for the reader's language: ``1 234,5`` in French, ``1,234.5`` in English.

One home for the app's number formats (tables, notes, chart labels) and for the matching Plotly
setting (:func:`plotly_separators`), so axes and hover texts follow the same convention. French
uses a narrow no-break space (U+202F) between thousands and a comma for decimals, as the SSMSI's
own publications do; percentages take a space before ``%`` in French.
"""

from __future__ import annotations

import math

THIN_SPACE = "\u202f"
MINUS = "\u2212"


def _ok(value: float | None) -> bool:
    return value is not None and not (isinstance(value, float) and math.isnan(value))


def format_number(value: float | None, lang: str, decimals: int = 1) -> str:
    """``value`` with ``decimals`` decimals and thousands separators for ``lang`` ("fr"/"en");
    ``–`` when there is no value. Negative numbers use the true minus sign."""
    if not _ok(value):
        return "–"
    assert value is not None
    text = f"{abs(value):,.{max(decimals, 0)}f}"
    if lang == "fr":
        text = text.replace(",", THIN_SPACE).replace(".", ",")
    negative = value < 0 and text.strip("0,.\u202f") != ""
    return f"{MINUS}{text}" if negative else text


def format_count(value: float | None, lang: str) -> str:
    """A whole number (counts of offences, victims…)."""
    return format_number(None if not _ok(value) else round(float(value or 0)), lang, 0)


def format_rate(value: float | None, lang: str) -> str:
    """A rate with the decimals its size calls for: ``1 234``, ``56,7``, ``0,38``."""
    if not _ok(value):
        return "–"
    assert value is not None
    size = abs(value)
    decimals = 0 if size >= 1000 else 1 if size >= 10 else 2 if size >= 0.1 else 3
    return format_number(value, lang, decimals)


def format_pct(value: float | None, lang: str, decimals: int = 1, *, signed: bool = False) -> str:
    """A percentage (``value`` already in %): ``+12,3 %`` / ``+12.3%`` when ``signed``."""
    if not _ok(value):
        return "–"
    assert value is not None
    body = format_number(abs(value) if signed else value, lang, decimals)
    if signed:
        zero = body.strip("0,.") == ""
        body = ("±" if zero else "+" if value > 0 else MINUS) + body
    return f"{body}{THIN_SPACE}%" if lang == "fr" else f"{body}%"


def plotly_separators(lang: str) -> str:
    """Plotly's ``layout.separators`` (decimal mark, then thousands) for ``lang``: axes, hover
    texts and ``%{x:,.1f}`` templates then read as the tables do."""
    return f",{THIN_SPACE}" if lang == "fr" else ".,"
