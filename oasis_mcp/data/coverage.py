"""The years the project serves, in one place: the first data year of every SSMSI edition and the
last year a forecast may reach. The last *observed* year is the data's own (the edition served:
``DataIndex.last_year``); the forecast horizon follows from it.

    >>> max_horizon(2025), max_horizon(2024)
    (5, 6)
"""

from __future__ import annotations

FIRST_YEAR = 2016
"""The first year of every SSMSI series (the 2016 regions and departments)."""
LAST_FORECAST_YEAR = 2030
"""Forecasts (artifacts/forecasts.csv.gz, compare_regions on a future year) stop at this year."""


def max_horizon(last_year: int) -> int:
    """How many years after ``last_year`` (the last observed year) forecasts reach."""
    return max(0, LAST_FORECAST_YEAR - last_year)
