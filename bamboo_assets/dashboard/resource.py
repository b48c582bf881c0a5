"""The dashboard people read: what every kind of dashboard does, and what a refresh reports."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import dagster as dg

from bamboo_assets.core.metrics import DayMetrics
from bamboo_assets.dashboard.plan import DashboardPlan


@dataclass(frozen=True)
class DashboardReport:
    """What a refresh did, and the dashboard as written (what the read-back check compares)."""

    location: str
    plan: DashboardPlan
    requests: int
    written: list[list[Any]]
    chart_matches: bool | None = None  # None: this dashboard keeps no chart to compare


class DashboardError(RuntimeError):
    """The dashboard could not be read or written; the message says which and why."""


class Dashboard(dg.ConfigurableResource, ABC):
    """Where the daily metrics are shown."""

    @abstractmethod
    def refresh(self, metrics: Sequence[DayMetrics]) -> DashboardReport:
        """Make every day's row equal `metrics`, leaving everything people added alone."""

    @abstractmethod
    def location(self) -> str:
        """A link or path users can open."""
