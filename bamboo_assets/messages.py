"""The texts people receive: the run digest and the failure alert (pure)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from html import escape
from typing import NamedTuple


class DayLoad(NamedTuple):
    """A row of `bamboo.day_loads`: the notebook's counts for one day-partition."""

    day: str
    extracted: int
    validated: int
    rejected: int
    unreadable_passback: int
    prepared: int | None
    inserted: int | None


class DayMetrics(NamedTuple):
    """A row of `public.daily_metrics`."""

    study_date: str
    attempts: int
    correct_attempts: int
    active_learners: int
    new_learners: int


class FailedCheck(NamedTuple):
    """An asset check of the run that did not pass."""

    asset: str
    check: str
    severity: str
    details: str


class DayFailure(NamedTuple):
    """A day of the run that failed at one step (a row of `bamboo.day_failures`)."""

    day: str
    step: str
    reason: str


class Refetched(NamedTuple):
    """A day fetched again: records new since the previous fetch, and records the API no
    longer returns (those stay in public.solutions)."""

    day: str
    new: int
    gone: int


@dataclass(frozen=True)
class Digest:
    """One message, as plain text and as its HTML alternative (the same content)."""

    subject: str
    text: str
    html: str


_METRICS = (
    ("Attempts", "attempts"),
    ("Correct attempts", "correct_attempts"),
    ("Active learners", "active_learners"),
    ("New learners", "new_learners"),
)
_GONE_STAY = "Records the API no longer returns stay in public.solutions."
_COUNTS = (
    ("Rows extracted by API", "extracted"),
    ("Rows validated", "validated"),
    ("Rows rejected (kept in bamboo.rejected_attempts)", "rejected"),
    ("Rows prepared to insert to DB", "prepared"),
    ("New rows inserted to DB", "inserted"),
)


def change(value: int, before: int | None) -> str:
    """The change against a week earlier, as a value and a signed percentage."""
    if before is None:
        return "n/a"
    delta = value - before
    percent = f"{delta / before:+.1%}" if before else "n/a"
    return f"{delta:+,} ({percent})"


def _rejected_share(load: DayLoad | None) -> str:
    if load is None:
        return "not loaded"
    if not load.extracted:
        return "0.0% (no records)"
    return f"{load.rejected / load.extracted:.1%} ({load.rejected:,} of {load.extracted:,})"


@dataclass(frozen=True)
class _Day:
    """What the digest says about one day: cells of its line in the table."""

    day: str
    cells: list[tuple[str, str, str]]  # (label, value, change)


def _days(
    days: Sequence[str],
    loads: Mapping[str, DayLoad],
    metrics: Mapping[str, DayMetrics],
) -> list[_Day]:
    described = []
    for day in days:
        week_earlier = str(date.fromisoformat(day) - timedelta(days=7))
        today, before = metrics.get(day), metrics.get(week_earlier)
        cells = []
        for label, field in _METRICS:
            if today is None and day not in loads:  # not loaded: its numbers are unknown
                cells.append((label, "-", ""))
                continue
            value = getattr(today, field) if today else 0  # loaded, no attempts: no row
            cells.append((label, f"{value:,}", change(value, getattr(before, field, None))))
        cells.append(("Rejected share", _rejected_share(loads.get(day)), ""))
        described.append(_Day(day, cells))
    return described


def digest(
    days: Sequence[str],
    loads: Sequence[DayLoad],
    metrics: Sequence[DayMetrics],
    failed_checks: Sequence[FailedCheck],
    dashboard: str,
    failed_days: Sequence[DayFailure] = (),
    refetched: Sequence[Refetched] = (),
) -> Digest:
    """The digest of one run over `days`: each day's metrics against the same weekday a week
    earlier (`metrics` holds those rows too), the rejected share, the checks that did not
    pass, the failed days with their reasons, then the notebook's ETL counts.

    A one-day run gives a short list; a range a table with a line per day.
    """
    by_day = {load.day: load for load in loads}
    described = _days(days, by_day, {m.study_date: m for m in metrics})
    span = days[0] if len(days) == 1 else f"{days[0]} to {days[-1]} ({len(days)} days)"
    subject = f"Bamboo digest: {span}"
    counts = [(label, sum(getattr(load, field) or 0 for load in loads)) for label, field in _COUNTS]
    unreadable = sum(load.unreadable_passback for load in loads)
    if unreadable:
        counts.append(("Rows loaded with unreadable passback_params", unreadable))
    if failed_days:
        subject += f", {len(failed_days)} failed"
    content = _Content(
        span, described, failed_checks, sorted(failed_days), sorted(refetched), counts, dashboard
    )
    return Digest(subject, _text(content), _html(content))


@dataclass(frozen=True)
class _Content:
    """What both parts of the digest say."""

    span: str
    days: list[_Day]
    checks: Sequence[FailedCheck]
    failed_days: list[DayFailure]
    refetched: list[Refetched]
    counts: list[tuple[str, int]]
    dashboard: str

    def outcome(self) -> str:
        """How the run ended, after "finished": nothing, or its failed days."""
        failed = len(self.failed_days)
        return f" with {failed} failed day{'s' * (failed != 1)} (below)" if failed else ""

    def per_day(self) -> tuple[list[str], list[list[str]]]:
        """Header and rows of the range's table: a line per day, a column per figure."""
        header = ["day", *(label for label, _, _ in self.days[0].cells)]
        return header, [[d.day, *(f"{v} {c}".strip() for _, v, c in d.cells)] for d in self.days]


def _text(content: _Content) -> str:
    days, checks, failed_days = content.days, content.checks, content.failed_days
    lines = ["Dear all,", "", "Thanks for following our team digest!", ""]
    lines += [f"The ETL run for {content.span} finished{content.outcome()}.", ""]
    if len(days) == 1:
        (day,) = days
        weekday = date.fromisoformat(day.day)
        lines.append(f"{day.day} ({weekday:%A}), change since {weekday - timedelta(days=7)}:")
        width = max(len(label) for label, _, _ in day.cells) + 1
        numbers = max((len(value) for _, value, ch in day.cells if ch), default=0)
        for label, value, ch in day.cells:
            shown = f"{value:>{numbers}}  {ch}" if ch else value
            lines.append(f"    {label + ':':<{width}} {shown}")
    elif days:
        header, rows = content.per_day()
        widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
        lines.append("Per day (change since the same weekday a week earlier):")
        lines += [
            "    " + "  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip()
            for r in [header, *rows]
        ]
    lines += ["", "Checks that did not pass:" if checks else "Checks that did not pass: none"]
    lines += [f"    {c.check} on {c.asset} ({c.severity}): {c.details}" for c in checks]
    if failed_days:
        lines += ["", f"Days that failed ({len(failed_days)}), nothing loaded for them:"]
        lines += [f"    {f.day} at {f.step}: {f.reason}" for f in failed_days]
        lines.append("    Materialize them again once the cause is fixed.")
    if content.refetched:
        lines += ["", "Days fetched again (new records / records the API no longer returns):"]
        lines += [
            f"    {r.day}: {r.new} new / {r.gone} no longer returned" for r in content.refetched
        ]
        lines.append(f"    {_GONE_STAY}")
    lines += ["", "ETL counts:"]
    lines += [f"    {label}: {value}" for label, value in content.counts]
    lines += ["", f"The dashboard was also updated: {content.dashboard}", "", "BR,", "Bamboo team"]
    return "\n".join(lines) + "\n"


def _table(header: Sequence[str], rows: Sequence[Sequence[str]], *, figures: bool = True) -> str:
    """An HTML table; with `figures`, the cells after the first hold numbers: right-aligned."""
    cell = 'style="padding:2px 8px;border-bottom:1px solid #ddd;text-align:{}"'
    head = "".join(f"<th {cell.format('left')}>{escape(h)}</th>" for h in header)
    body = "".join(
        "<tr>"
        + "".join(
            f"<td {cell.format('right' if figures and i else 'left')}>{escape(value)}</td>"
            for i, value in enumerate(row)
        )
        + "</tr>"
        for row in rows
    )
    return f'<table style="border-collapse:collapse"><tr>{head}</tr>{body}</table>'


def _html(content: _Content) -> str:
    days, checks, dashboard = content.days, content.checks, content.dashboard
    parts = [f"<p>The ETL run for {escape(content.span)} finished{content.outcome()}.</p>"]
    if len(days) == 1:
        (day,) = days
        before = date.fromisoformat(day.day) - timedelta(days=7)
        parts.append(f"<h3>{escape(day.day)}</h3>")
        parts.append(_table(["", "value", f"change since {before}"], day.cells))
    elif days:
        header, rows = content.per_day()
        parts.append("<h3>Per day (change since the same weekday a week earlier)</h3>")
        parts.append(_table(header, rows))
    parts.append("<h3>Checks that did not pass</h3>")
    parts.append(
        _table(
            ["check", "asset", "severity", "details"],
            [(c.check, c.asset, c.severity, c.details) for c in checks],
            figures=False,
        )
        if checks
        else "<p>none</p>"
    )
    if content.failed_days:
        parts.append("<h3>Days that failed, nothing loaded for them</h3>")
        parts.append(_table(["day", "step", "reason"], content.failed_days, figures=False))
    if content.refetched:
        parts.append("<h3>Days fetched again</h3>")
        rows = [(r.day, f"{r.new:,}", f"{r.gone:,}") for r in content.refetched]
        parts.append(_table(["day", "new records", "no longer returned"], rows))
        parts.append(f"<p>{_GONE_STAY}</p>")
    parts.append("<h3>ETL counts</h3>")
    parts.append(_table(["", "rows"], [(label, str(value)) for label, value in content.counts]))
    parts.append(f'<p>Dashboard: <a href="{escape(dashboard)}">{escape(dashboard)}</a></p>')
    return "<html><body>" + "".join(parts) + "<p>BR,<br>Bamboo team</p></body></html>\n"


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
