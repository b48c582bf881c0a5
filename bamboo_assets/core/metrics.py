"""The notebook's four metrics per study day: their names, and one day's row (pure)."""

from __future__ import annotations

from typing import NamedTuple

# The notebook's column names, in its order: the dashboard's header and the table's columns.
METRIC_COLUMNS = (
    "study_date",
    "attempts_per_day_total",
    "correct_attempts_per_day",
    "unique_users_per_day",
    "new_users_per_day",
)


class DayMetrics(NamedTuple):
    """A row of `public.daily_metrics`, the day as `YYYY-MM-DD` text (as the sheet shows it)."""

    study_date: str
    attempts_per_day_total: int
    correct_attempts_per_day: int
    unique_users_per_day: int
    new_users_per_day: int
