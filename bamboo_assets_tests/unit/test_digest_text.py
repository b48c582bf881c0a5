"""The digest exactly as people read it (pure: no servers, no database).

Every word, number, sign and column of the plain part, and every cell of the HTML tables, is
pinned, so a change in what the mail says shows up as a failing test.
"""
# ruff: noqa: E501 (the range digest's table is wider than a line of code)

from __future__ import annotations

from datetime import date
from html.parser import HTMLParser
from pathlib import Path
from textwrap import dedent

import pytest

from bamboo_assets.core.digest import change, digest
from bamboo_assets.core.ledger import DayFailure
from bamboo_assets.core.metrics import DayMetrics
from bamboo_assets.core.rows import DayLoad, FailedCheck, Refetched

DASHBOARD = "https://docs.google.com/spreadsheets/d/x"
GOLDEN = Path(__file__).parent / "golden"


class _Tables(HTMLParser):
    """The text of each cell of each table, and the other text, of an HTML part."""

    def __init__(self) -> None:
        super().__init__()
        self.tables: list[list[list[str]]] = []
        self.text: list[str] = []
        self._cell: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list) -> None:
        if tag == "table":
            self.tables.append([])
        elif tag == "tr":
            self.tables[-1].append([])
        elif tag in ("td", "th"):
            self._cell = []

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self._cell is not None:
            self.tables[-1][-1].append("".join(self._cell))
            self._cell = None

    def handle_data(self, data: str) -> None:
        (self._cell if self._cell is not None else self.text).append(data)


def tables_of(html: str) -> _Tables:
    parser = _Tables()
    parser.feed(html)
    return parser


def one_day_digest():
    return digest(
        ["2025-03-08"],
        [DayLoad("2025-03-08", 120, 108, 12, 2, 108, 107)],
        [DayMetrics("2025-03-08", 107, 30, 40, 3), DayMetrics("2025-03-01", 100, 33, 40, 0)],
        [
            FailedCheck(
                "validated_attempts",
                "rejected_share_below_threshold",
                "warn",
                "day 2025-03-08: 10.0%",
            )
        ],
        "/home/x/dashboard.html",
    )


def range_digest():
    return digest(
        ["2025-03-01", "2025-03-03"],
        [
            DayLoad("2025-03-01", 100, 100, 0, 0, 100, 100),
            DayLoad("2025-03-03", 0, 0, 0, 0, 0, 0),
        ],
        [DayMetrics("2025-03-01", 100, 33, 40, 0), DayMetrics("2025-02-22", 80, 20, 30, 5)],
        [],
        DASHBOARD,
        failed_days=[DayFailure("2025-03-02", "raw_attempts", "statistics API answered HTTP 503")],
        refetched=[Refetched("2025-03-01", 3, 2)],
    )


def test_a_one_day_digest_lists_the_days_metrics_against_a_week_earlier() -> None:
    message = one_day_digest()
    assert message.subject == "Bamboo digest: 2025-03-08"
    assert message.text == dedent(
        """\
    Dear all,

    Thanks for following our team digest!

    The ETL run for 2025-03-08 finished.

    2025-03-08 (Saturday), change since 2025-03-01:
        Attempts:         107  +7 (+7.0%)
        Correct attempts:  30  -3 (-9.1%)
        Active learners:   40  +0 (+0.0%)
        New learners:       3  +3 (n/a)
        Rejected share:   10.0% (12 of 120)

    Checks that did not pass:
        rejected_share_below_threshold on validated_attempts (warn): day 2025-03-08: 10.0%

    ETL counts:
        Rows extracted by API: 120
        Rows validated: 108
        Rows rejected (kept in bamboo.rejected_attempts): 12
        Rows prepared to insert to DB: 108
        New rows inserted to DB: 107
        Rows loaded with unreadable passback_params: 2

    The dashboard was also updated: /home/x/dashboard.html

    BR,
    Bamboo team
    """
    )


def test_a_one_day_digests_html_part_holds_the_same_figures() -> None:
    parsed = tables_of(one_day_digest().html)
    day, checks, counts = parsed.tables
    assert day == [
        ["", "value", "change since 2025-03-01"],
        ["Attempts", "107", "+7 (+7.0%)"],
        ["Correct attempts", "30", "-3 (-9.1%)"],
        ["Active learners", "40", "+0 (+0.0%)"],
        ["New learners", "3", "+3 (n/a)"],
        ["Rejected share", "10.0% (12 of 120)", ""],
    ]
    assert checks == [
        ["check", "asset", "severity", "details"],
        ["rejected_share_below_threshold", "validated_attempts", "warn", "day 2025-03-08: 10.0%"],
    ]
    assert counts == [
        ["", "rows"],
        ["Rows extracted by API", "120"],
        ["Rows validated", "108"],
        ["Rows rejected (kept in bamboo.rejected_attempts)", "12"],
        ["Rows prepared to insert to DB", "108"],
        ["New rows inserted to DB", "107"],
        ["Rows loaded with unreadable passback_params", "2"],
    ]
    text = "".join(parsed.text)
    assert "The ETL run for 2025-03-08 finished." in text
    assert "Dashboard: /home/x/dashboard.html" in text


def test_a_range_digest_has_a_line_per_day_and_names_failed_and_refetched_days() -> None:
    message = range_digest()
    assert message.subject == "Bamboo digest: 2025-03-01 to 2025-03-03 (2 days), 1 failed"
    assert message.text == dedent(
        """\
    Dear all,

    Thanks for following our team digest!

    The ETL run for 2025-03-01 to 2025-03-03 (2 days) finished with 1 failed day (below).

    Per day (change since the same weekday a week earlier):
        day         Attempts          Correct attempts  Active learners  New learners    Rejected share
        2025-03-01  100 +20 (+25.0%)  33 +13 (+65.0%)   40 +10 (+33.3%)  0 -5 (-100.0%)  0.0% (0 of 100)
        2025-03-03  0 n/a             0 n/a             0 n/a            0 n/a           0.0% (no records)

    Checks that did not pass: none

    Days that failed (1), nothing loaded for them:
        2025-03-02 at raw_attempts: statistics API answered HTTP 503
        Once the cause is fixed, backfill the failed and missing partitions: in the Dagster UI, Assets, group bamboo, Materialize, choose 'Failed and missing', then Launch backfill.

    Days fetched again (new records / records the API no longer returns):
        2025-03-01: 3 new / 2 no longer returned
        Records the API no longer returns stay in public.solutions.

    ETL counts:
        Rows extracted by API: 100
        Rows validated: 100
        Rows rejected (kept in bamboo.rejected_attempts): 0
        Rows prepared to insert to DB: 100
        New rows inserted to DB: 100

    The dashboard was also updated: https://docs.google.com/spreadsheets/d/x

    BR,
    Bamboo team
    """
    )


def test_a_range_digests_html_part_holds_the_same_tables() -> None:
    parsed = tables_of(range_digest().html)
    per_day, failed, refetched, counts = parsed.tables
    assert per_day == [
        ["day", "Attempts", "Correct attempts", "Active learners", "New learners",
         "Rejected share"],
        ["2025-03-01", "100 +20 (+25.0%)", "33 +13 (+65.0%)", "40 +10 (+33.3%)",
         "0 -5 (-100.0%)", "0.0% (0 of 100)"],
        ["2025-03-03", "0 n/a", "0 n/a", "0 n/a", "0 n/a", "0.0% (no records)"],
    ]  # fmt: skip
    assert failed == [
        ["day", "step", "reason"],
        ["2025-03-02", "raw_attempts", "statistics API answered HTTP 503"],
    ]
    assert refetched == [["day", "new records", "no longer returned"], ["2025-03-01", "3", "2"]]
    assert counts[1:] == [
        ["Rows extracted by API", "100"],
        ["Rows validated", "100"],
        ["Rows rejected (kept in bamboo.rejected_attempts)", "0"],
        ["Rows prepared to insert to DB", "100"],
        ["New rows inserted to DB", "100"],
    ]
    text = "".join(parsed.text)
    assert "finished with 1 failed day (below)." in text
    assert "Checks that did not pass" in text and "none" in text
    assert "Records the API no longer returns stay in public.solutions." in text


def test_changes_are_signed_values_with_a_percentage_when_a_week_earlier_is_known() -> None:
    assert change(110, 100) == "+10 (+10.0%)"
    assert change(90, 100) == "-10 (-10.0%)"
    assert change(1_500, 1_000) == "+500 (+50.0%)"
    assert change(12_345, 0) == "+12,345 (n/a)"
    assert change(5, None) == "n/a"


@pytest.mark.parametrize("made", [one_day_digest, range_digest], ids=lambda made: made.__name__)
def test_the_html_part_is_laid_out_as_reviewed(made) -> None:
    """Headings, tables and styles as reviewed in golden/*.html (a line break is added there
    before each heading, row, table and paragraph to keep it readable): figures right-aligned,
    text left-aligned. A change of the digest's look on purpose edits those files too, so the
    review of the change shows the new layout."""
    reviewed = (GOLDEN / f"{made.__name__}.html").read_text(encoding="utf-8")
    assert made().html == reviewed.replace("\n", "") + "\n"


def test_a_range_shows_a_day_that_was_not_loaded_without_numbers_and_counts_failed_days() -> None:
    message = digest(
        ["2025-03-01", "2025-03-02", "2025-03-03"],
        [DayLoad("2025-03-01", 10, 10, 0, 0, 10, 10), DayLoad("2025-03-03", 5, 5, 0, 0, 5, 5)],
        [DayMetrics("2025-03-01", 10, 3, 4, 1), DayMetrics("2025-03-03", 5, 1, 2, 0)],
        [],
        DASHBOARD,
        failed_days=[
            DayFailure("2025-03-02", "validated_attempts", "not valid JSON"),
            DayFailure("2025-03-04", "raw_attempts", "HTTP 503"),
        ],
    )
    # 03-02 is a hole (counted as not loaded, not twice); 03-04 failed outside the range.
    assert message.subject == (
        "Bamboo digest: 2025-03-01 to 2025-03-03 (3 days), 1 not loaded, 1 failed"
    )
    lines = message.text.splitlines()
    assert lines[0] == "Not loaded: 1 of 3 days holds no data: 2025-03-02."
    assert (
        "The ETL run for 2025-03-01 to 2025-03-03 (3 days) finished with 2 failed days (below)."
        in lines
    )
    assert (
        "    2025-03-02  -         -                 -                -             not loaded"
        in lines
    )
    per_day = tables_of(message.html).tables[0]
    assert per_day[2] == ["2025-03-02", "-", "-", "-", "-", "not loaded"]


def test_a_one_day_digest_of_a_day_that_failed_says_so_without_numbers() -> None:
    failure = DayFailure("2025-03-08", "raw_attempts", "HTTP 503")
    message = digest(["2025-03-08"], [], [], [], DASHBOARD, failed_days=[failure])
    assert message.subject == "Bamboo digest: 2025-03-08, 1 not loaded"
    assert message.text.startswith("Not loaded: 1 of 1 days holds no data: 2025-03-08.\n\n")
    assert "The ETL run for 2025-03-08 finished with 1 failed day (below).\n" in message.text
    assert (
        dedent(
            """\
        2025-03-08 (Saturday), change since 2025-03-01:
            Attempts:         -
            Correct attempts: -
            Active learners:  -
            New learners:     -
            Rejected share:   not loaded
        """
        )
        in message.text
    )
    assert (
        "    2025-03-08 at raw_attempts: HTTP 503\n"
        "    Once the cause is fixed, backfill the failed and missing partitions: in the Dagster "
        "UI, Assets, group bamboo, Materialize, choose 'Failed and missing', then Launch "
        "backfill.\n"
    ) in message.text


def test_a_hole_is_named_first_in_the_html_part_too() -> None:
    message = digest(["2025-03-01", "2025-03-02"], [], [], [], DASHBOARD)
    assert message.subject == "Bamboo digest: 2025-03-01 to 2025-03-02 (2 days), 2 not loaded"
    warning = "Not loaded: 2 of 2 days hold no data: 2025-03-01, 2025-03-02."
    assert message.text.startswith(f"{warning}\n\nDear all,\n")
    assert message.html.startswith(f"<html><body><p><strong>{warning}</strong></p><p>The ETL")
    # Nothing failed: the run itself finished, only the data is missing.
    assert "The ETL run for 2025-03-01 to 2025-03-02 (2 days) finished.\n" in message.text
    assert "Days that failed" not in message.text


def test_a_day_validated_but_never_loaded_is_a_hole() -> None:
    """Its counts exist (validation ran), but nothing of it reached public.solutions."""
    message = digest(
        ["2025-03-01", "2025-03-02"],
        [
            DayLoad("2025-03-01", 10, 10, 0, 0, 10, 10),
            DayLoad("2025-03-02", 7, 6, 1, 0, None, None),
        ],
        [DayMetrics("2025-03-01", 10, 3, 4, 1)],
        [],
        DASHBOARD,
    )
    assert message.subject == "Bamboo digest: 2025-03-01 to 2025-03-02 (2 days), 1 not loaded"
    assert message.text.splitlines()[0] == "Not loaded: 1 of 2 days holds no data: 2025-03-02."
    assert tables_of(message.html).tables[0][2] == ["2025-03-02", "-", "-", "-", "-", "not loaded"]


def test_a_loaded_day_that_failed_again_is_no_hole_and_keeps_its_earlier_load() -> None:
    """A re-fetch that fails leaves the rows of the earlier load in place, and says so."""
    message = digest(
        ["2025-03-01", "2025-03-02"],
        [DayLoad("2025-03-01", 10, 10, 0, 0, 10, 10), DayLoad("2025-03-02", 5, 5, 0, 0, 5, 5)],
        [DayMetrics("2025-03-01", 10, 3, 4, 1), DayMetrics("2025-03-02", 5, 1, 2, 0)],
        [],
        DASHBOARD,
        failed_days=[DayFailure(date(2025, 3, 2), "raw_attempts", "HTTP 503")],
    )
    assert message.subject == "Bamboo digest: 2025-03-01 to 2025-03-02 (2 days), 1 failed"
    assert not message.text.startswith("Not loaded")
    assert "    2025-03-02 at raw_attempts: HTTP 503; its earlier load stays\n" in message.text
    per_day = tables_of(message.html).tables[0]
    assert per_day[2] == [
        "2025-03-02",
        "5 n/a",
        "1 n/a",
        "2 n/a",
        "0 n/a",
        "failed; earlier load kept",
    ]
    # The failed day's counts are not the run's: only 03-01's are summed.
    assert "    Rows extracted by API: 10\n" in message.text
