"""The digest people receive: each day's metrics, the checks, the failed days, the counts (pure).

A digest covers a range of days (one run, or every run of a backfill). A day of the range that
holds no loaded data is a hole, and a hole is said first: in the subject and in the first line,
not only as a "-" in the table.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from html import escape

from bamboo_assets.core.alerts import RECOVERY
from bamboo_assets.core.ledger import DayFailure
from bamboo_assets.core.metrics import DayMetrics
from bamboo_assets.core.rows import DayLoad, FailedCheck, Refetched


@dataclass(frozen=True)
class Digest:
    """One message, as plain text and as its HTML alternative (the same content)."""

    subject: str
    text: str
    html: str


_METRICS = (
    ("Attempts", "attempts_per_day_total"),
    ("Correct attempts", "correct_attempts_per_day"),
    ("Active learners", "unique_users_per_day"),
    ("New learners", "new_users_per_day"),
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


def _loaded(load: DayLoad | None) -> bool:
    return load is not None and load.inserted is not None


def _rejected_share(load: DayLoad | None, failed: bool) -> str:
    if not _loaded(load):
        return "not loaded"
    if failed:
        return "failed; earlier load kept"
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
    failed: set[str],
) -> list[_Day]:
    described = []
    for day in days:
        week_earlier = str(date.fromisoformat(day) - timedelta(days=7))
        today, before = metrics.get(day), metrics.get(week_earlier)
        cells = []
        for label, field in _METRICS:
            if today is None and not _loaded(loads.get(day)):  # its numbers are unknown
                cells.append((label, "-", ""))
                continue
            value = getattr(today, field) if today else 0  # loaded, no attempts: no row
            cells.append((label, f"{value:,}", change(value, getattr(before, field, None))))
        cells.append(("Rejected share", _rejected_share(loads.get(day), day in failed), ""))
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
    """The digest of `days` (a run's range, or a backfill's): each day's metrics against the
    same weekday a week earlier (`metrics` holds those rows too), the rejected share, the
    checks that did not pass, the failed days with their reasons, then the notebook's ETL
    counts of the days loaded now. A one-day digest gives a short list; a range a table.
    """
    by_day = {load.day: load for load in loads}
    failed = {str(f.day) for f in failed_days}
    holes = [day for day in days if not _loaded(by_day.get(day))]
    described = _days(days, by_day, {m.study_date: m for m in metrics}, failed)
    span = days[0] if len(days) == 1 else f"{days[0]} to {days[-1]} ({len(days)} days)"
    kept = [f for f in failed_days if str(f.day) not in holes]
    subject = f"Bamboo digest: {span}"
    if holes:
        subject += f", {len(holes)} not loaded"
    if kept:
        subject += f", {len(kept)} failed"
    counted = [load for load in loads if load.day not in failed]
    counts = [
        (label, sum(getattr(load, field) or 0 for load in counted)) for label, field in _COUNTS
    ]
    unreadable = sum(load.unreadable_passback for load in counted)
    if unreadable:
        counts.append(("Rows loaded with unreadable passback_params", unreadable))
    content = _Content(
        span,
        described,
        failed_checks,
        sorted(failed_days),
        sorted(refetched),
        counts,
        dashboard,
        holes,
        {day for day, load in by_day.items() if _loaded(load)},
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
    holes: list[str]
    loaded: set[str]

    def warning(self) -> str | None:
        """The first line when a day holds no data at all."""
        if not self.holes:
            return None
        total = len(self.days) or len(self.holes)
        verb = "holds" if len(self.holes) == 1 else "hold"
        return (
            f"Not loaded: {len(self.holes)} of {total} days {verb} no data: "
            f"{', '.join(self.holes)}."
        )

    def outcome(self) -> str:
        """How the run ended, after "finished": nothing, or its failed days."""
        failed = len(self.failed_days)
        return f" with {failed} failed day{'s' * (failed != 1)} (below)" if failed else ""

    def why(self, failure: DayFailure) -> str:
        """A failed day's reason, and whether the rows of an earlier load of it stay."""
        kept = "; its earlier load stays" if str(failure.day) in self.loaded else ""
        return f"{failure.reason}{kept}"

    def per_day(self) -> tuple[list[str], list[list[str]]]:
        """Header and rows of the range's table: a line per day, a column per figure."""
        header = ["day", *(label for label, _, _ in self.days[0].cells)]
        return header, [[d.day, *(f"{v} {c}".strip() for _, v, c in d.cells)] for d in self.days]


def _text(content: _Content) -> str:
    days, checks, failed_days = content.days, content.checks, content.failed_days
    warning = content.warning()
    lines = [warning, ""] if warning else []
    lines += ["Dear all,", "", "Thanks for following our team digest!", ""]
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
        lines += [f"    {f.day} at {f.step}: {content.why(f)}" for f in failed_days]
        lines.append(f"    {RECOVERY}")
    if content.refetched:
        lines += ["", "Days fetched again (new records / records the API no longer returns):"]
        lines += [
            f"    {r.day}: {r.new_records} new / {r.gone_records} no longer returned"
            for r in content.refetched
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
    warning = content.warning()
    parts = [f"<p><strong>{escape(warning)}</strong></p>"] if warning else []
    parts.append(f"<p>The ETL run for {escape(content.span)} finished{content.outcome()}.</p>")
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
        rows = [(str(f.day), f.step, content.why(f)) for f in content.failed_days]
        parts.append(_table(["day", "step", "reason"], rows, figures=False))
    if content.refetched:
        parts.append("<h3>Days fetched again</h3>")
        rows = [(r.day, f"{r.new_records:,}", f"{r.gone_records:,}") for r in content.refetched]
        parts.append(_table(["day", "new records", "no longer returned"], rows))
        parts.append(f"<p>{_GONE_STAY}</p>")
    parts.append("<h3>ETL counts</h3>")
    parts.append(_table(["", "rows"], [(label, str(value)) for label, value in content.counts]))
    parts.append(f'<p>Dashboard: <a href="{escape(dashboard)}">{escape(dashboard)}</a></p>')
    return "<html><body>" + "".join(parts) + "<p>BR,<br>Bamboo team</p></body></html>\n"
