"""Raw answers on disk: compressed as they download, read back exactly, readable with the zstd
command, and deleted after BAMBOO_RAW_RETENTION_DAYS (a later run fetches them again)."""

import os
import shutil
import subprocess
import time
from datetime import date
from pathlib import Path

import pytest

from bamboo_assets.resources.raw_answers import RawAnswerStore, write_answer
from bamboo_assets.resources.statistics_api import SimulatedStatisticsApi
from bamboo_assets.settings import SettingsError, build_resources, load_settings
from bamboo_assets.simulator import records_for, simulated_answer
from bamboo_assets_tests.helpers import (
    ASSETS,
    local_resources,
    materialize_days,
    query,
    stored_answer,
)

DAY = date(2025, 3, 4)
LATER = date(2025, 3, 6)
DAY_SECONDS = 86400


def age(path: Path, days: float) -> None:
    """Make `path` look stored `days` ago."""
    then = time.time() - days * DAY_SECONDS
    os.utime(path, (then, then))


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


def test_expired_answers_are_deleted_and_a_rerun_of_their_day_fetches_again(
    bamboo_home: Path, warehouse, database_dsn: str
) -> None:
    resources = local_resources(bamboo_home, warehouse)
    resources["raw_answers"] = RawAnswerStore(directory=str(bamboo_home / "raw"), retention_days=2)
    store = resources["raw_answers"]
    assert materialize_days(str(DAY), str(DAY), resources, assets=ASSETS[:3]).success
    loaded = query(database_dsn, "SELECT count(*), max(id) FROM public.solutions")
    answer = stored_answer(store.answer_path(DAY))
    age(store.answer_path(DAY), 3)
    failed = Path(store.directory) / "failed" / f"{DAY}-20250304T000000000000.json.zst"
    failed.parent.mkdir()
    with write_answer(failed) as out:
        out.write(b'{"errors": "old"}')
    age(failed, 3)
    recent = Path(store.directory) / "failed" / f"{DAY}-20250305T000000000000.json.zst"
    shutil.copy(failed, recent)
    age(recent, 1)

    assert materialize_days(str(LATER), str(LATER), resources, assets=ASSETS[:1]).success
    assert not store.answer_path(DAY).exists()
    assert not failed.exists()
    assert recent.exists()
    assert store.answer_path(LATER).exists()

    again = materialize_days(str(DAY), str(DAY), resources, assets=ASSETS[:3])
    assert again.success
    assert stored_answer(store.answer_path(DAY)) == answer
    assert query(database_dsn, "SELECT count(*), max(id) FROM public.solutions") == loaded


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


def test_bamboo_raw_retention_days_configures_the_store(tmp_path: Path) -> None:
    env = {"BAMBOO_HOME": str(tmp_path), "BAMBOO_RAW_RETENTION_DAYS": "30"}
    assert build_resources(env, load_settings(env))["raw_answers"].retention_days == 30
    unset = {"BAMBOO_HOME": str(tmp_path)}
    assert build_resources(unset, load_settings(unset))["raw_answers"].retention_days is None
    for wrong in ("0", "-3", "a month"):
        with pytest.raises(SettingsError, match="BAMBOO_RAW_RETENTION_DAYS"):
            load_settings({**env, "BAMBOO_RAW_RETENTION_DAYS": wrong})
