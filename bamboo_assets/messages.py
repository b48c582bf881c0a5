"""The texts people receive: the run digest and the failure alert (pure)."""

from __future__ import annotations

from collections.abc import Sequence

DayLoad = tuple[str, int, int, int, int, int | None, int | None]
"""day, extracted, validated, rejected, unreadable passback_params, prepared, inserted."""

_COUNTS = (
    ("Rows extracted by API", 1),
    ("Rows validated", 2),
    ("Rows rejected (kept in bamboo.rejected_attempts)", 3),
    ("Rows prepared to insert to DB", 5),
    ("New rows inserted to DB", 6),
)


def digest(
    loads: Sequence[DayLoad], dashboard: str, problems: Sequence[str] = (), failed: int = 0
) -> tuple[str, str]:
    """Subject and body of the digest for the days of one run: the notebook's counts, then
    `problems` (day_problems) naming the `failed` days."""
    days = [load[0] for load in loads]
    span = days[0] if len(days) == 1 else f"{days[0]} to {days[-1]} ({len(days)} days)"
    subject = f"Bamboo digest: {span}" if days else "Bamboo digest: no days loaded"
    finished = "successfully"
    if failed:
        subject += f", {failed} failed"
        finished = f"with {failed} failed day{'s' * (failed != 1)} (below)"
    lines = ["Dear all,", "", "Thanks for following our team digest!", ""]
    lines.append(f"The ETL run for {span} finished {finished}:" if days else "")
    for label, index in _COUNTS:
        lines.append(f"    {label}: {sum(load[index] or 0 for load in loads)}")
    unreadable = sum(load[4] for load in loads)
    if unreadable:
        lines.append(f"    Rows loaded with unreadable passback_params: {unreadable}")
    if len(loads) > 1:
        lines += ["", "Per day (extracted / validated / rejected / inserted):"]
        lines += [f"    {d}: {e} / {v} / {r} / {i or 0}" for d, e, v, r, _, _, i in loads]
    lines += problems
    lines += ["", f"The dashboard was also updated: {dashboard}", "", "BR,", "Bamboo team"]
    return subject, "\n".join(lines) + "\n"


DayFailure = tuple[str, str, str]
"""day, the step it failed at, why."""
Refetched = tuple[str, int, int]
"""day, records new since the previous fetch, records the API no longer returns."""


def failed_days_summary(failures: Sequence[DayFailure], days: int) -> str:
    """What a range run with failed days ends with: each failed day, where and why, and what
    to do next."""
    others = days - len(failures)
    done = f"; the other {others} went through every step of the run" if others else ""
    listed = " | ".join(f"{day}: {reason} (at {step})" for day, step, reason in failures)
    return (
        f"{len(failures)} of {days} days failed; nothing was loaded for them{done}. {listed}. "
        "Materialize the failed days again once the cause is fixed."
    )


def day_problems(failures: Sequence[DayFailure], refetched: Sequence[Refetched]) -> list[str]:
    """The digest's lines on the run's failed days and on days fetched again (empty when
    there is nothing to say). Records the API no longer returns stay in public.solutions."""
    lines: list[str] = []
    if failures:
        lines += ["", f"Days that failed ({len(failures)}), nothing loaded for them:"]
        lines += [f"    {day} at {step}: {reason}" for day, step, reason in failures]
    if refetched:
        lines += ["", "Days fetched again (new records / records the API no longer returns):"]
        lines += [
            f"    {day}: {new} new / {gone} no longer returned" for day, new, gone in refetched
        ]
        if any(gone for _, _, gone in refetched):
            lines.append("    Records the API no longer returns stay in public.solutions.")
    return lines


def failure_alert(run_id: str, job: str, partitions: str, error: str, url: str) -> tuple[str, str]:
    """Subject and body of the alert for one failed run."""
    subject = f"Bamboo run failed: {partitions}"
    body = (
        f"A Bamboo run failed.\n\n"
        f"    Run: {run_id}\n"
        f"    Job: {job}\n"
        f"    Partitions: {partitions}\n"
        f"    Error: {error}\n\n"
        f"Open the run: {url}\n"
        f"Fix the cause, then re-execute the run from failure, or materialize the failed "
        f"partitions again: every step is safe to repeat.\n"
    )
    return subject, body
