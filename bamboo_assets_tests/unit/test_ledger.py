"""The per-day ledger of one run: which days a step still does, which failed where and why,
and which days the run took through every step."""

from __future__ import annotations

from datetime import date, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from bamboo_assets.core.ledger import DayFailure, DayLedger

D1, D2, D3, D4 = (date(2025, 3, n) for n in (1, 2, 3, 4))


def test_a_new_run_has_every_day_to_do_in_order() -> None:
    ledger = DayLedger([D3, D1, D2])
    assert ledger.days == [D1, D2, D3]
    assert ledger.remaining() == [D1, D2, D3]
    assert ledger.failures == []
    assert ledger.done() == ledger.done_now() == [D1, D2, D3]


def test_a_failed_day_is_passed_over_by_the_later_steps_and_is_not_done() -> None:
    ledger = DayLedger([D1, D2, D3])
    ledger.fail(D2, "raw_attempts", "HTTP 503")
    assert ledger.remaining() == [D1, D3]
    assert ledger.failures == [DayFailure(D2, "raw_attempts", "HTTP 503")]
    assert ledger.done() == ledger.done_now() == [D1, D3]


def test_a_days_first_failure_is_the_one_kept() -> None:
    """A later step failing the same day again (e.g. the digest of a range) does not hide
    where it first went wrong."""
    ledger = DayLedger([D1, D2])
    ledger.fail(D1, "validated_attempts", "not valid JSON")
    ledger.fail(D1, "solutions_table", "nothing staged")
    ledger.fail(D1, "validated_attempts", "another reason")
    assert ledger.failures == [DayFailure(D1, "validated_attempts", "not valid JSON")]


def test_failures_are_listed_by_day_whatever_order_they_came_in() -> None:
    ledger = DayLedger([D1, D2, D3, D4])
    ledger.fail(D4, "daily_metrics", "d")
    ledger.fail(D1, "raw_attempts", "a")
    ledger.fail(D3, "solutions_table", "c")
    assert [f.day for f in ledger.failures] == [D1, D3, D4]
    assert ledger.done() == [D2]


def test_days_done_by_an_earlier_run_are_not_done_again_but_count_as_done() -> None:
    """A re-execution starts from the days its earlier runs already took through."""
    ledger = DayLedger([D1, D2, D3], done_earlier=[D1, D4])  # D4: not a day of this run
    assert ledger.done_earlier == {D1}
    assert ledger.remaining() == [D2, D3]
    ledger.fail(D3, "raw_attempts", "HTTP 503")
    assert ledger.done() == [D1, D2]
    assert ledger.done_now() == [D2]


def test_a_day_done_earlier_that_fails_now_is_failed() -> None:
    ledger = DayLedger([D1, D2], done_earlier=[D1])
    ledger.fail(D1, "digest_email", "SMTP down")
    assert ledger.done() == [D2]
    assert ledger.done_now() == [D2]
    assert ledger.failures == [DayFailure(D1, "digest_email", "SMTP down")]


_days = st.lists(st.integers(0, 30), unique=True, min_size=1, max_size=12).map(
    lambda offsets: [D1 + timedelta(days=n) for n in offsets]
)


@settings(deadline=None)  # a noisy machine must not fail a property
@given(days=_days, data=st.data())
def test_every_day_is_exactly_one_of_failed_done_now_or_done_earlier(days, data) -> None:
    earlier = data.draw(st.lists(st.sampled_from(days), unique=True))
    failing = data.draw(st.lists(st.sampled_from(days), unique=True))
    ledger = DayLedger(days, done_earlier=earlier)
    for day in failing:
        ledger.fail(day, "step", f"because {day}")
    failed = [f.day for f in ledger.failures]
    assert failed == sorted(failing)
    assert sorted(failed + ledger.done()) == sorted(days)
    assert set(ledger.done_now()) == set(days) - set(failing) - set(earlier)
    assert set(ledger.remaining()) == set(days) - set(failing) - set(earlier)
    assert ledger.done_now() == sorted(ledger.done_now())
