"""The per-day ledger of one run: the days still to do, each failed day's step and reason, and
the run's verdict (pure).

Every step of a run asks the ledger which days to do and tells it which day failed and why; a
day that failed at one step is passed over by the later ones, so a bad day loses only itself.
At the end the ledger says which days are done (each selected asset is materialized for
exactly those) and whether the run must fail. A re-execution of a run from failure starts from
the days its earlier runs already did, which it does not do again.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date


@dataclass(frozen=True, order=True)
class DayFailure:
    """A day of a run that failed: the step (asset) where, and why."""

    day: date
    step: str
    reason: str


class DayLedger:
    """What became of each day of one run."""

    def __init__(self, days: Sequence[date], done_earlier: Iterable[date] = ()) -> None:
        self.days = sorted(days)
        self.done_earlier = set(done_earlier) & set(self.days)
        self._failures: dict[date, DayFailure] = {}

    def remaining(self) -> list[date]:
        """The days a step still has to do: neither failed in this run nor done earlier."""
        return [
            day for day in self.days if day not in self._failures and day not in self.done_earlier
        ]

    def fail(self, day: date, step: str, reason: str) -> None:
        """Record that `day` failed at `step`; its first failure is the one kept."""
        self._failures.setdefault(day, DayFailure(day, step, reason))

    @property
    def failures(self) -> list[DayFailure]:
        return sorted(self._failures.values())

    def done(self) -> list[date]:
        """The days that went through every step of the run (or of an earlier run)."""
        return [day for day in self.days if day not in self._failures]

    def done_now(self) -> list[date]:
        """The days this run itself took through every step."""
        return [day for day in self.done() if day not in self.done_earlier]
