"""The named rows a digest is made of, read from the warehouse and from Dagster (pure)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import NamedTuple


class DayLoad(NamedTuple):
    """A row of `bamboo.day_loads`: the notebook's counts for one day-partition (the load's
    counts are None until the day is first loaded)."""

    day: str
    extracted: int
    validated: int
    rejected: int
    unreadable_passback: int
    prepared: int | None
    inserted: int | None


class FailedCheck(NamedTuple):
    """An asset check of the run that did not pass."""

    asset: str
    check: str
    severity: str
    details: str


def failed_check(
    asset: str, check: str, severity: str, description: str | None, metadata: Mapping[str, object]
) -> FailedCheck:
    """A check that did not pass, as the digest lists it: its description, else its first three
    figures (metadata values, or Dagster MetadataValues holding them)."""
    details = description or "; ".join(
        f"{name}: {str(getattr(value, 'value', value))[:80]}"
        for name, value in list(metadata.items())[:3]
    )
    return FailedCheck(asset, check, severity, details)


class Refetched(NamedTuple):
    """A day fetched again: records new since the previous fetch, and records the API no
    longer returns (those stay in public.solutions)."""

    day: str
    new_records: int
    gone_records: int
