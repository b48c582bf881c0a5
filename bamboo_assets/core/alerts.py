"""What a failed run says, in its failure and in the alert e-mail: the failed days, why, and
the one action that brings them in (pure)."""

from __future__ import annotations

from collections.abc import Sequence

from bamboo_assets.core.ledger import DayFailure

# What works once the cause is fixed, whatever step failed: the UI selects exactly the failed
# and missing day-partitions of each asset, reuses every final answer, and runs every step
# again for those days only (each step replaces its own day, so repeating is safe).
RECOVERY = (
    "Once the cause is fixed, backfill the failed and missing partitions: in the Dagster UI, "
    "Assets, group bamboo, Materialize, choose 'Failed and missing', then Launch backfill."
)


def command_for(days: Sequence[str]) -> str:
    """The shell command that loads `days` again (one range from the first to the last)."""
    span = (
        f"--partition {days[0]}" if len(days) == 1 else f"--partition-range {days[0]}...{days[-1]}"
    )
    return f"dagster asset materialize -m bamboo_assets.definitions --select '*' {span}"


def failed_days_summary(failures: Sequence[DayFailure], days: int) -> str:
    """What a run with failed days ends with: each failed day, where and why, and what to do."""
    others = days - len(failures)
    done = f"; the other {others} went through every step of the run" if others else ""
    listed = " | ".join(f"{f.day}: {f.reason} (at {f.step})" for f in failures)
    first, last = str(failures[0].day), str(failures[-1].day)
    return (
        f"{len(failures)} of {days} days failed; nothing was loaded for them{done}. {listed}. "
        f"{RECOVERY} From a shell: {command_for([first, last] if first != last else [first])}"
    )


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
        f"{RECOVERY}\n"
    )
    return subject, body
