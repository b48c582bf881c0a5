"""`bamboo backup` and `bamboo restore` on local defaults (embedded PostgreSQL, SQLite instance):
one archive brings an empty deployment back with every row, the same materialized partitions
and the same final answers; no secret is written into it; no backup is taken during a run."""

import io
import shutil
import subprocess
import tarfile
import tempfile
from pathlib import Path

import dagster as dg
import pytest
import zstandard

from bamboo_assets.operations.postgres_tools import tools_for
from bamboo_assets.warehouse.connection import EmbeddedWarehouse
from bamboo_assets_tests.operations.conftest import KEY
from bamboo_assets_tests.servers import FakeStatisticsApi
from bamboo_assets_tests.support.bamboo import LINEAGE, Bamboo, query
from bamboo_assets_tests.support.dagster_processes import VENV_BIN, bamboo_env
from bamboo_assets_tests.support.ui import LOCAL_INSTANCE

pytestmark = pytest.mark.slow

DAYS = ("2025-03-01", "2025-03-03")
ROWS = "SELECT user_id, created_at, attempt_type FROM public.solutions ORDER BY 1, 2"


def deployment(root: Path, api: FakeStatisticsApi) -> dict[str, str]:
    """A deployment on local defaults with its state under `root`; the real API client."""
    (root / "dagster").mkdir(parents=True)
    shutil.copy(LOCAL_INSTANCE, root / "dagster" / "dagster.yaml")
    env = bamboo_env(root / "home", "", root / "dagster") | {
        "ITRESUME_URL": api.url,
        "ITRESUME_CLIENT": "acme",
        "ITRESUME_CLIENT_KEY": KEY,
    }
    env.pop("BAMBOO_DB_DSN")  # the embedded warehouse, in BAMBOO_HOME/postgres
    return env


def bamboo_command(env: dict[str, str], *arguments: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(VENV_BIN / "bamboo"), *arguments], env=env, capture_output=True, text=True, timeout=300
    )


def configured(env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> Bamboo:
    wanted = ("BAMBOO_HOME", "ITRESUME_URL", "ITRESUME_CLIENT", "ITRESUME_CLIENT_KEY")
    bamboo = Bamboo.from_env(monkeypatch, **{name: env[name] for name in wanted})
    bamboo.instance = dg.DagsterInstance.from_config(env["DAGSTER_HOME"])
    return bamboo


def warehouse_rows(env: dict[str, str]) -> list[tuple]:
    return query(EmbeddedWarehouse(data_dir=f"{env['BAMBOO_HOME']}/postgres").conninfo(), ROWS)


def archive_text(archive: Path, conninfo: str) -> bytes:
    """Every byte of the archive as stored and decoded: the SQL of the warehouse dump, the raw
    answers decompressed, the SQLite files as they are."""
    texts = []
    with tarfile.open(archive) as tar:
        for member in tar.getmembers():
            if not member.isfile():
                continue
            data = tar.extractfile(member).read()
            if member.name.endswith(".zst"):
                data = zstandard.ZstdDecompressor().stream_reader(io.BytesIO(data)).read()
            elif member.name.endswith(".dump"):
                dump = archive.with_suffix(".dump")
                dump.write_bytes(data)
                data = subprocess.run(
                    [str(tools_for(conninfo) / "pg_restore"), "--file=-", str(dump)],
                    capture_output=True,
                    check=True,
                ).stdout
            texts.append(data)
    return b"\n".join(texts)


def backed_up_day(
    tmp_path: Path, api: FakeStatisticsApi, monkeypatch: pytest.MonkeyPatch
) -> tuple[dict[str, str], Path]:
    """A deployment that loaded one day, and its backup."""
    env = deployment(tmp_path / "one", api)
    assert configured(env, monkeypatch).run(DAYS[0]).success
    archive = tmp_path / "one.tar"
    assert bamboo_command(env, "backup", str(archive)).returncode == 0
    return env, archive


def test_a_deployment_backed_up_and_restored_into_an_empty_one_is_the_same(
    api: FakeStatisticsApi, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    original = deployment(tmp_path / "original", api)
    bamboo = configured(original, monkeypatch)
    assert bamboo.run(*DAYS).success
    rows, view = warehouse_rows(original), bamboo.partition_view()
    archive = tmp_path / "backups" / "bamboo.tar"

    backed_up = bamboo_command(original, "backup", str(archive))

    assert backed_up.returncode == 0, backed_up.stderr
    assert f"{len(rows):,} rows in public.solutions, 1 Dagster runs" in backed_up.stdout
    conninfo = EmbeddedWarehouse(data_dir=f"{original['BAMBOO_HOME']}/postgres").conninfo()
    assert KEY.encode() not in archive_text(archive, conninfo)

    restored_env = deployment(tmp_path / "restored", api)
    restored = bamboo_command(restored_env, "restore", str(archive))

    assert restored.returncode == 0, restored.stderr
    assert warehouse_rows(restored_env) == rows
    again = configured(restored_env, monkeypatch)
    assert again.partition_view() == view
    assert all(view[name]["materialized"] == ["2025-03-01", "2025-03-02", "2025-03-03"]
               for name in LINEAGE)  # fmt: skip
    asked = len(api.requests)
    assert again.run("2025-03-02").success  # a final day: its answer is reused
    assert len(api.requests) == asked


def test_a_restore_refuses_a_deployment_that_is_not_empty(
    api: FakeStatisticsApi, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    env, archive = backed_up_day(tmp_path, api, monkeypatch)

    refused = bamboo_command(env, "restore", str(archive))

    assert refused.returncode == 1
    assert "restore brings back an empty deployment, and this one is not" in refused.stderr
    assert "Dagster's instance has runs" in refused.stderr


def test_no_backup_is_taken_while_a_run_is_in_progress(
    api: FakeStatisticsApi, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    env = deployment(tmp_path / "busy", api)
    bamboo = configured(env, monkeypatch)
    running = bamboo.instance.add_run(
        dg.DagsterRun(job_name="daily_attempts", status=dg.DagsterRunStatus.STARTED)
    )
    archive = tmp_path / "busy.tar"

    refused = bamboo_command(env, "backup", str(archive))

    assert refused.returncode == 1
    assert f"cannot back up while run {running.run_id} is started" in refused.stderr
    assert not archive.exists()


def test_a_restore_refuses_an_archive_with_a_path_outside_its_folder(
    api: FakeStatisticsApi, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _, archive = backed_up_day(tmp_path, api, monkeypatch)
    escaping = f"../{tmp_path.name}-escaped.txt"
    with tarfile.open(archive, "a") as tar:  # what a tampered archive could hold
        member = tarfile.TarInfo(escaping)
        member.size = 4
        tar.addfile(member, io.BytesIO(b"oops"))

    refused = bamboo_command(deployment(tmp_path / "two", api), "restore", str(archive))

    assert refused.returncode == 1
    assert f"is not a Bamboo backup: it holds '{escaping}'" in refused.stderr
    # Refused before anything is written: the restore works in the system's temp folder.
    assert not (Path(tempfile.gettempdir()) / escaping[3:]).exists()
