"""What a failed run says: the summary its failure ends with, and the alert e-mail.

Both end with the one recovery action that works whatever step failed (a backfill of the
failed and missing partitions); neither sends people to re-execute the run.
"""

from __future__ import annotations

from datetime import date, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from bamboo_assets.core.alerts import RECOVERY, command_for, failed_days_summary, failure_alert
from bamboo_assets.core.ledger import DayFailure

# Written out rather than read from the code under test: what people are told to do.
UI_RECOVERY = (
    "Once the cause is fixed, backfill the failed and missing partitions: in the Dagster UI, "
    "Assets, group bamboo, Materialize, choose 'Failed and missing', then Launch backfill."
)
MATERIALIZE = "dagster asset materialize -m bamboo_assets.definitions --select '*'"


def test_the_recovery_is_a_backfill_of_the_failed_and_missing_partitions() -> None:
    assert RECOVERY == UI_RECOVERY


def test_a_range_that_failed_names_each_day_its_step_and_what_to_do() -> None:
    failures = [
        DayFailure(date(2025, 3, 2), "raw_attempts", "HTTP 503"),
        DayFailure(date(2025, 3, 5), "validated_attempts", "not valid JSON"),
    ]
    assert failed_days_summary(failures, 20) == (
        "2 of 20 days failed; nothing was loaded for them; the other 18 went through every "
        "step of the run. 2025-03-02: HTTP 503 (at raw_attempts) | 2025-03-05: not valid JSON "
        f"(at validated_attempts). {UI_RECOVERY} From a shell: {MATERIALIZE} "
        "--partition-range 2025-03-02...2025-03-05"
    )


def test_one_failed_day_is_given_the_command_for_that_day_alone() -> None:
    failures = [DayFailure(date(2025, 3, 2), "raw_attempts", "HTTP 503")]
    assert failed_days_summary(failures, 1) == (
        "1 of 1 days failed; nothing was loaded for them. 2025-03-02: HTTP 503 (at "
        f"raw_attempts). {UI_RECOVERY} From a shell: {MATERIALIZE} --partition 2025-03-02"
    )


def test_when_every_day_failed_no_other_day_is_mentioned() -> None:
    failures = [
        DayFailure(date(2025, 3, 2), "raw_attempts", "HTTP 503"),
        DayFailure(date(2025, 3, 3), "raw_attempts", "HTTP 503"),
    ]
    summary = failed_days_summary(failures, 2)
    assert summary.startswith("2 of 2 days failed; nothing was loaded for them. 2025-03-02: ")
    assert "the other" not in summary


def test_the_shell_command_loads_one_day_or_the_span_from_the_first_to_the_last() -> None:
    assert command_for(["2025-03-02"]) == f"{MATERIALIZE} --partition 2025-03-02"
    assert command_for(["2025-03-02", "2025-03-09"]) == (
        f"{MATERIALIZE} --partition-range 2025-03-02...2025-03-09"
    )
    assert command_for(["2025-03-02", "2025-03-04", "2025-03-09"]) == (
        f"{MATERIALIZE} --partition-range 2025-03-02...2025-03-09"
    )


@settings(deadline=None)  # a noisy machine must not fail a property
@given(
    first=st.dates(date(2024, 1, 1), date(2026, 1, 1)),
    gaps=st.lists(st.integers(1, 40), max_size=6),
    others=st.integers(0, 30),
)
def test_every_failed_day_is_listed_and_the_command_spans_them_all(
    first: date, gaps: list[int], others: int
) -> None:
    days = [first]
    for gap in gaps:
        days.append(days[-1] + timedelta(days=gap))
    failures = [DayFailure(day, "raw_attempts", f"reason {n}") for n, day in enumerate(days)]
    summary = failed_days_summary(failures, len(days) + others)
    assert summary.startswith(f"{len(days)} of {len(days) + others} days failed;")
    assert ("the other" in summary) == (others > 0)
    for n, day in enumerate(days):
        assert f"{day}: reason {n} (at raw_attempts)" in summary
    command = summary.split(" From a shell: ")[1]
    span = f"--partition {first}" if len(days) == 1 else f"--partition-range {first}...{days[-1]}"
    assert command == f"{MATERIALIZE} {span}"
    assert f" {RECOVERY} From a shell: " in summary


def test_the_failure_alert_names_the_run_its_partitions_the_error_and_the_link() -> None:
    subject, body = failure_alert("r1", "daily_attempts", "2025-03-01", "boom", "http://u/runs/r1")
    assert subject == "Bamboo run failed: 2025-03-01"
    assert body == (
        "A Bamboo run failed.\n\n"
        "    Run: r1\n"
        "    Job: daily_attempts\n"
        "    Partitions: 2025-03-01\n"
        "    Error: boom\n\n"
        "Open the run: http://u/runs/r1\n"
        f"{UI_RECOVERY}\n"
    )


def test_the_failure_alert_ends_with_the_recovery_and_never_suggests_a_re_execution() -> None:
    _, body = failure_alert(
        "r2", "__ASSET_JOB", "2025-03-01...2025-03-07", "step failed\nsecond line", "http://u/r2"
    )
    assert body.endswith(f"\n{RECOVERY}\n")
    assert "re-execut" not in body.lower()
    assert "from failure" not in body.lower()
    assert "    Error: step failed\nsecond line\n" in body
