"""The local dashboard page, opened in a real browser: headless Chromium (Debian's `chromium`).

Without Chromium the test skips, unless BAMBOO_REQUIRE_BROWSER=1 (CI) makes that a failure.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from datetime import date, timedelta
from html.parser import HTMLParser
from pathlib import Path

import pytest

from bamboo_assets.core.metrics import DayMetrics
from bamboo_assets.dashboard.local import CsvDashboard

pytestmark = pytest.mark.browser

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
SERIES = (
    "attempts_per_day_total",
    "correct_attempts_per_day",
    "unique_users_per_day",
    "new_users_per_day",
)


def browser() -> str:
    """The browser binary; without it the test skips, unless CI requires it."""
    if Path(CHROMIUM).exists():
        return CHROMIUM
    if os.environ.get("BAMBOO_REQUIRE_BROWSER") == "1":
        pytest.fail(f"BAMBOO_REQUIRE_BROWSER=1 but {CHROMIUM} is missing: apt-get install chromium")
    pytest.skip(
        f"{CHROMIUM} is not installed (apt-get install chromium); "
        "with BAMBOO_REQUIRE_BROWSER=1 this fails instead"
    )


def chromium(page: Path, profile: Path, *args: str) -> str:
    """Run headless Chromium on `page` offline, with a profile of its own; returns stdout."""
    command = [
        browser(),
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={profile}",
        *args,
        page.as_uri(),
    ]
    done = subprocess.run(command, capture_output=True, text=True, timeout=120, check=True)
    return done.stdout


class Drawn(HTMLParser):
    """The points the browser's DOM holds inside <svg> elements, per series."""

    def __init__(self) -> None:
        super().__init__()
        self.depth = 0
        self.points: dict[str, list[tuple[str, float, float]]] = {}

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if tag == "svg":
            self.depth += 1
        elif tag == "circle" and self.depth and values.get("class") == "point":
            point = (str(values["data-day"]), float(values["cx"] or 0), float(values["cy"] or 0))
            self.points.setdefault(str(values["data-series"]), []).append(point)

    def handle_endtag(self, tag: str) -> None:
        if tag == "svg":
            self.depth -= 1


def metrics(days: int) -> list[DayMetrics]:
    first = date(2025, 6, 1)
    return [
        DayMetrics(
            str(first + timedelta(days=n)),
            8000 + 40 * (n % 7),
            3000 + 25 * n,
            400 + n % 9,
            6 + n % 4,
        )
        for n in range(days)
    ]


def test_the_local_dashboard_page_is_drawn_by_a_browser_with_a_point_per_day(
    tmp_path: Path,
) -> None:
    dashboard = CsvDashboard(path=str(tmp_path / "home" / "dashboard.csv"))
    dashboard.refresh(metrics(30))
    page = tmp_path / "home" / "dashboard.html"

    drawn = Drawn()
    drawn.feed(chromium(page, tmp_path / "profile", "--dump-dom"))
    days = [row[0] for row in metrics(30)]
    assert sorted(drawn.points) == sorted(SERIES)
    for series, points in drawn.points.items():
        assert [day for day, _, _ in points] == days, series
        xs = [x for _, x, _ in points]
        assert xs == sorted(xs) and len(set(xs)) == 30, series  # left to right, one per day
        assert all(0 < y < 280 for _, _, y in points), series  # inside the chart
    assert "http" not in page.read_text()  # nothing fetched: no links, images or scripts

    # Each refresh rewrites the page: a new day is a new point.
    dashboard.refresh(metrics(31))
    again = Drawn()
    again.feed(chromium(page, tmp_path / "profile-2", "--dump-dom"))
    assert {len(points) for points in again.points.values()} == {31}

    screenshot = tmp_path / "dashboard.png"
    chromium(page, tmp_path / "profile-3", f"--screenshot={screenshot}", "--window-size=1000,1500")
    assert screenshot.read_bytes().startswith(b"\x89PNG")
