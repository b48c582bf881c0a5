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


def digest(loads: Sequence[DayLoad], dashboard: str) -> tuple[str, str]:
    """Subject and body of the digest for the days of one run: the notebook's counts."""
    days = [load[0] for load in loads]
    span = days[0] if len(days) == 1 else f"{days[0]} to {days[-1]} ({len(days)} days)"
    subject = f"Bamboo digest: {span}" if days else "Bamboo digest: no days loaded"
    lines = ["Dear all,", "", "Thanks for following our team digest!", ""]
    lines.append(f"The ETL run for {span} finished successfully:" if days else "")
    for label, index in _COUNTS:
        lines.append(f"    {label}: {sum(load[index] or 0 for load in loads)}")
    unreadable = sum(load[4] for load in loads)
    if unreadable:
        lines.append(f"    Rows loaded with unreadable passback_params: {unreadable}")
    if len(loads) > 1:
        lines += ["", "Per day (extracted / validated / rejected / inserted):"]
        lines += [f"    {d}: {e} / {v} / {r} / {i or 0}" for d, e, v, r, _, _, i in loads]
    lines += ["", f"The dashboard was also updated: {dashboard}", "", "BR,", "Bamboo team"]
    return subject, "\n".join(lines) + "\n"


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
