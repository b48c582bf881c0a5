"""Where the API's answers are kept, one file per day, exactly as received.

Keeping the answer makes every later step re-runnable without calling the API again, and
keeps a bad answer for inspection instead of losing it.
"""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from pathlib import Path

import dagster as dg


class UnusableAnswer(ValueError):
    """The API's answer is not a JSON list; it was kept in the `failed/` folder."""


class RawAnswerStore(dg.ConfigurableResource):
    """A folder of answers: `<day>.json` with `<day>.json.fetched` (when it was fetched), plus
    `failed/` for answers that were not a list.

    In production this folder must be shared by every run (a volume in Kubernetes).
    """

    directory: str

    def answer_path(self, day: date) -> Path:
        return Path(self.directory) / f"{day.isoformat()}.json"

    def fetched_at(self, day: date) -> datetime | None:
        """When the day's stored answer was fetched (its `.fetched` note), None if unknown."""
        note = self._fetched_note(day)
        if not (note.exists() and self.answer_path(day).exists()):
            return None
        return datetime.fromisoformat(note.read_text().strip())

    def mark_fetched(self, day: date, when: datetime) -> None:
        """Note when the day's answer (just kept) was fetched: what makes it final later."""
        self._fetched_note(day).write_text(when.isoformat() + "\n")

    def _fetched_note(self, day: date) -> Path:
        answer = self.answer_path(day)
        return answer.with_name(answer.name + ".fetched")

    def incoming_path(self, day: date) -> Path:
        """A new file for one download of `day`: two runs of the same day never share one."""
        name = f"{day.isoformat()}-{uuid.uuid4().hex[:12]}.json"
        path = Path(self.directory) / "incoming" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        return path

    def keep(self, day: date, incoming: Path) -> Path:
        """Make `incoming` the day's answer if it looks like one JSON list; else set it aside.

        A cheap look at the first and last bytes catches error objects and cut-off bodies
        before anything replaces the day's previous good answer.
        """
        first, last = _ends(incoming)
        if first == b"[" and last == b"]":
            return incoming.replace(self.answer_path(day))
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%f")
        failed = Path(self.directory) / "failed" / f"{day.isoformat()}-{stamp}.json"
        failed.parent.mkdir(parents=True, exist_ok=True)
        incoming.replace(failed)
        with failed.open("rb") as answer:
            start = answer.read(200).decode("utf-8", "replace").strip()
        what = "is empty" if not first else f"starts {start[:120]!r}"
        if first == b"[":
            what = "is cut off (no closing ']')"
        raise UnusableAnswer(
            f"the answer for {day} is not a JSON list: it {what}; kept at {failed}"
        )


def _ends(path: Path) -> tuple[bytes, bytes]:
    """First and last non-whitespace bytes of a file."""
    with path.open("rb") as answer:
        head = answer.read(4096).lstrip()
        size = answer.seek(0, 2)
        answer.seek(max(size - 4096, 0))
        tail = answer.read().rstrip()
    return head[:1], tail[-1:]
