"""The band a day's record count is expected in, from the same weekday's history (pure)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from statistics import median


@dataclass(frozen=True)
class VolumeRule:
    """The band a day's record count must lie in, from the same weekday's recent history."""

    low_ratio: float = 0.5
    high_ratio: float = 2.0
    min_weeks: int = 3
    weeks: int = 4


def volume_band(
    day: date, counts: Mapping[date, int], rule: VolumeRule
) -> tuple[float, float] | None:
    """(lowest, highest) ordinary count for `day`: the ratios times the median count of the
    same weekday over `rule.weeks` weeks before it; None while fewer than `rule.min_weeks` of
    those days are known."""
    history = [
        counts[earlier]
        for week in range(1, rule.weeks + 1)
        if (earlier := day - timedelta(weeks=week)) in counts
    ]
    if len(history) < rule.min_weeks:
        return None
    usual = median(history)
    return rule.low_ratio * usual, rule.high_ratio * usual


def volume_verdict(count: int, band: tuple[float, float] | None) -> str:
    """ok, too few, too many, or no history."""
    if band is None:
        return "no history"
    if count < band[0]:
        return "too few"
    return "too many" if count > band[1] else "ok"
