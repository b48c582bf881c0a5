"""Raw answers on disk: compressed as they download, read back exactly, readable with the zstd
command, an unusable answer set aside without replacing a good one, and files deleted after
BAMBOO_RAW_RETENTION_DAYS (the day's answer then has to be fetched again)."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from bamboo_assets.core.simulator import records_for, simulated_answer
from bamboo_assets.resources.raw_answers import RawAnswerStore, UnusableAnswer, write_answer
from bamboo_assets.resources.statistics_api import SimulatedStatisticsApi
from bamboo_assets_tests.support.bamboo import stored_answer

DAY = date(2025, 3, 4)
LATER = date(2025, 3, 6)
DAY_SECONDS = 86400


def age(path: Path, days: float) -> None:
    """Make `path` look stored `days` ago."""
    then = time.time() - days * DAY_SECONDS
    os.utime(path, (then, then))


def incoming(store: RawAnswerStore, day: date, body: bytes) -> Path:
    """A finished download of `body` for `day`."""
    path = store.incoming_path(day)
    with write_answer(path) as out:
        out.write(body)
    return path


def failed_files(store: RawAnswerStore) -> list[Path]:
    return sorted((Path(store.directory) / "failed").glob("*.json.zst"))


def test_a_downloaded_answer_is_stored_compressed_and_reads_back_byte_for_byte(
    tmp_path: Path,
) -> None:
    store = RawAnswerStore(directory=str(tmp_path))
    api = SimulatedStatisticsApi(records_per_day=20_000)
    download = api.download(DAY, store.incoming_path(DAY), print)
    stored = store.keep(DAY, download.path)

    sent = b"".join(simulated_answer(DAY, records_for(DAY, api.records_per_day)))
    assert stored == store.answer_path(DAY)
    assert stored.name == f"{DAY}.json.zst"
    assert download.bytes == len(sent)
    assert stored_answer(stored) == sent
    assert stored.stat().st_size <= 0.25 * len(sent)


@pytest.mark.skipif(shutil.which("zstd") is None, reason="the zstd command is not installed")
def test_a_stored_answer_reads_with_the_zstd_command(tmp_path: Path) -> None:
    path = tmp_path / f"{DAY}.json.zst"
    with write_answer(path) as out:
        out.write(b'[{"lti_user_id": "a"}')
        out.write(b', {"lti_user_id": "b"}]')
    # `zstd -dc` (unlike `zstdcat`, which is `zstd -dcf`) refuses a file that is not zstd.
    shown = subprocess.run(["zstd", "-dc", str(path)], capture_output=True, check=True).stdout
    assert shown == b'[{"lti_user_id": "a"}, {"lti_user_id": "b"}]'


def test_two_downloads_of_a_day_never_share_a_file(tmp_path: Path) -> None:
    store = RawAnswerStore(directory=str(tmp_path))
    first, second = store.incoming_path(DAY), store.incoming_path(DAY)
    assert first != second
    assert first.parent == second.parent == tmp_path / "incoming"


@pytest.mark.parametrize(
    ("body", "what"),
    [
        (b"", "is empty"),
        (b'{"errors": "invalid client_key"}', """starts '{"errors": "invalid client_key"}'"""),
        (b'[{"lti_user_id": "a"}, {"lti', "is cut off (no closing ']')"),
    ],
)
def test_an_answer_that_is_not_a_list_is_set_aside_and_the_good_one_stays(
    tmp_path: Path, body: bytes, what: str
) -> None:
    store = RawAnswerStore(directory=str(tmp_path))
    good = store.keep(DAY, incoming(store, DAY, b"[]"))

    with pytest.raises(UnusableAnswer) as refused:
        store.keep(DAY, incoming(store, DAY, body))

    (kept,) = failed_files(store)
    assert (
        str(refused.value) == f"the answer for {DAY} is not a JSON list: it {what}; kept at {kept}"
    )
    assert stored_answer(kept) == body
    assert stored_answer(good) == b"[]"
    assert list((tmp_path / "incoming").iterdir()) == []


def test_when_an_answer_was_fetched_is_noted_beside_it(tmp_path: Path) -> None:
    store = RawAnswerStore(directory=str(tmp_path))
    assert store.fetched_at(DAY) is None
    store.keep(DAY, incoming(store, DAY, b"[]"))
    assert store.fetched_at(DAY) is None  # kept, but when it came is not known
    when = datetime(2025, 3, 5, 3, 0, 12, tzinfo=UTC)
    store.mark_fetched(DAY, when)
    assert store.fetched_at(DAY) == when


def test_an_answer_set_aside_leaves_the_day_without_one(tmp_path: Path) -> None:
    """An answer that turned out not to be JSON inside: the next run fetches the day again."""
    store = RawAnswerStore(directory=str(tmp_path))
    store.keep(DAY, incoming(store, DAY, b'[{"a": 1}, {"a": 1]'))
    store.mark_fetched(DAY, datetime(2025, 3, 5, tzinfo=UTC))
    store.keep(LATER, incoming(store, LATER, b"[]"))

    moved = store.set_aside(DAY)

    assert moved.parent == tmp_path / "failed"
    assert moved.name.startswith(f"{DAY}-") and moved.name.endswith(".json.zst")
    assert stored_answer(moved) == b'[{"a": 1}, {"a": 1]'
    assert not store.answer_path(DAY).exists()
    assert store.fetched_at(DAY) is None
    assert not Path(f"{store.answer_path(DAY)}.fetched").exists()
    assert stored_answer(store.answer_path(LATER)) == b"[]"


def test_expired_answers_are_deleted_so_their_day_is_fetched_again(tmp_path: Path) -> None:
    store = RawAnswerStore(directory=str(tmp_path), retention_days=2)
    store.keep(DAY, incoming(store, DAY, b"[]"))
    store.mark_fetched(DAY, datetime(2025, 3, 5, tzinfo=UTC))
    age(store.answer_path(DAY), 3)
    failed = tmp_path / "failed" / f"{DAY}-20250304T000000000000.json.zst"
    failed.parent.mkdir()
    with write_answer(failed) as out:
        out.write(b'{"errors": "old"}')
    age(failed, 3)
    recent = tmp_path / "failed" / f"{DAY}-20250305T000000000000.json.zst"
    shutil.copy(failed, recent)
    age(recent, 1)
    abandoned = incoming(store, LATER, b"[")
    age(abandoned, 3)
    store.keep(LATER, incoming(store, LATER, b"[]"))

    deleted = store.delete_expired(keep=[LATER])

    assert sorted(deleted) == sorted([store.answer_path(DAY), failed, abandoned])
    assert not store.answer_path(DAY).exists() and store.fetched_at(DAY) is None
    assert recent.exists()
    assert store.answer_path(LATER).exists()


def test_without_retention_every_answer_is_kept(tmp_path: Path) -> None:
    store = RawAnswerStore(directory=str(tmp_path))
    with write_answer(store.answer_path(DAY)) as out:
        out.write(b"[]")
    age(store.answer_path(DAY), 10_000)
    assert store.delete_expired() == []
    assert store.answer_path(DAY).exists()


def test_the_answers_of_the_days_being_loaded_are_never_deleted(tmp_path: Path) -> None:
    store = RawAnswerStore(directory=str(tmp_path), retention_days=1)
    for day in (DAY, LATER):
        with write_answer(store.answer_path(day)) as out:
            out.write(b"[]")
        age(store.answer_path(day), 5)
    assert store.delete_expired(keep=[LATER]) == [store.answer_path(DAY)]
    assert store.answer_path(LATER).exists()
