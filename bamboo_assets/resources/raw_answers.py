"""Where the API's answers are kept, one file per day, exactly as received (zstd-compressed).

Keeping the answer makes every later step re-runnable without calling the API again, and
keeps a bad answer for inspection instead of losing it. Answers are compressed as they are
written and decompressed as they are read (a million-record day: 570 MB of JSON, about 1/15 of
that stored); `zstdcat raw/<day>.json.zst` prints one as the API sent it.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterable
from datetime import UTC, date, datetime
from pathlib import Path
from typing import BinaryIO

import dagster as dg
import zstandard

SUFFIX = ".json.zst"
# Level 1 keeps compression well ahead of a download and still stores under a tenth of it
# (benchmarks/ingest.py measures it); one frame per file, readable by the `zstd` command.
_LEVEL = 1
_DAY_SECONDS = 86400


def write_answer(path: Path) -> BinaryIO:
    """A new answer file at `path`: what is written to it is stored compressed.

    Closing it (also on an error) ends the frame, so the bytes written so far stay readable.
    """
    return zstandard.open(path, "wb", cctx=zstandard.ZstdCompressor(level=_LEVEL))


def read_answer(path: Path) -> BinaryIO:
    """A stored answer, decompressed as it is read."""
    return zstandard.open(path, "rb")


class UnusableAnswer(ValueError):
    """The API's answer is not a JSON list; it was kept in the `failed/` folder."""


class RawAnswerStore(dg.ConfigurableResource):
    """A folder of answers: `<day>.json.zst` with `<day>.json.zst.fetched` (when it was
    fetched), plus `failed/` for answers that were not a list.

    In production this folder must be shared by every run (a volume in Kubernetes). With
    `retention_days` set, files stored longer ago than that are deleted
    (BAMBOO_RAW_RETENTION_DAYS); a later run of such a day fetches its answer again.
    """

    directory: str
    retention_days: int | None = None

    def answer_path(self, day: date) -> Path:
        return Path(self.directory) / f"{day.isoformat()}{SUFFIX}"

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
        name = f"{day.isoformat()}-{uuid.uuid4().hex[:12]}{SUFFIX}"
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
        failed = self._failed_path(day)
        incoming.replace(failed)
        with read_answer(failed) as answer:
            start = answer.read(200).decode("utf-8", "replace").strip()
        what = "is empty" if not first else f"starts {start[:120]!r}"
        if first == b"[":
            what = "is cut off (no closing ']')"
        raise UnusableAnswer(
            f"the answer for {day} is not a JSON list: it {what}; kept at {failed}"
        )

    def set_aside(self, day: date) -> Path:
        """Move the day's stored answer to `failed/` (it is not JSON inside): the day has no
        answer any more, so materializing it again fetches a new one."""
        failed = self._failed_path(day)
        self.answer_path(day).replace(failed)
        self._fetched_note(day).unlink(missing_ok=True)
        return failed

    def _failed_path(self, day: date) -> Path:
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%f")
        failed = Path(self.directory) / "failed" / f"{day.isoformat()}-{stamp}{SUFFIX}"
        failed.parent.mkdir(parents=True, exist_ok=True)
        return failed

    def delete_expired(self, keep: Iterable[date] = ()) -> list[Path]:
        """Delete the files stored more than `retention_days` ago, except the answers of the
        days in `keep` (the days being loaded); the deleted paths."""
        if self.retention_days is None:
            return []
        cutoff = time.time() - self.retention_days * _DAY_SECONDS
        kept = {self.answer_path(day) for day in keep}
        folder = Path(self.directory)
        expired = [
            path
            for where in (folder, folder / "failed", folder / "incoming")
            for path in where.glob(f"*{SUFFIX}")
            if path not in kept and path.stat().st_mtime < cutoff
        ]
        for path in expired:
            path.unlink(missing_ok=True)
        return expired


def _ends(path: Path) -> tuple[bytes, bytes]:
    """First and last non-whitespace bytes of a stored answer (read through to its end:
    decompressing is several times faster than the download was)."""
    head = tail = b""
    with read_answer(path) as answer:
        while chunk := answer.read(1 << 20):
            head = head or chunk.lstrip()
            tail = chunk.rstrip() or tail
    return head[:1], tail[-1:]
