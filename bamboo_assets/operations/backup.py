"""Backup and restore of a Bamboo deployment: one archive holding the warehouse (`pg_dump`
custom format), the raw answers as stored, and Dagster's instance storage (run history,
materializations, schedule state), so that a restored deployment shows the same partitions
and reuses the same final answers.

No secret is written: the warehouse dump holds no role or password, the raw answers are what
the API sent, and Dagster's storage holds run tags and config, where Bamboo never puts a
secret. Staging partitions are UNLOGGED and rebuilt from the raw answers, so their rows are
left out. A backup refuses to start while a run is queued or in progress, and is discarded if
a run starts before it ends: the warehouse and the run history are then taken between runs.
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import tarfile
import tempfile
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from importlib.metadata import version
from pathlib import Path, PurePosixPath

import dagster as dg
import psycopg
from sqlalchemy.engine import make_url

from bamboo_assets.operations import postgres_tools
from bamboo_assets.settings import Settings
from bamboo_assets.systems import warehouse as configured_warehouse
from bamboo_assets.warehouse import schema

MANIFEST = "manifest.json"
WAREHOUSE_DUMP = "warehouse.dump"
INSTANCE = "instance"  # a folder of SQLite files, or instance.dump for PostgreSQL
RAW = "raw"
_ACTIVE = [
    dg.DagsterRunStatus.QUEUED,
    dg.DagsterRunStatus.NOT_STARTED,
    dg.DagsterRunStatus.STARTING,
    dg.DagsterRunStatus.STARTED,
    dg.DagsterRunStatus.CANCELING,
]


class BackupError(RuntimeError):
    """A backup or restore that cannot be done; the message says why and what to do."""


@dataclass(frozen=True)
class Manifest:
    """What an archive holds, for the operator and for the restore."""

    bamboo_version: str
    schema_version: str | None
    instance_storage: str
    created_at: str
    solutions_rows: int
    runs: int


@dataclass(frozen=True)
class Deployment:
    """The deployment the environment describes: its settings and its Dagster instance."""

    settings: Settings
    instance: dg.DagsterInstance

    @classmethod
    def from_env(cls) -> Deployment:
        return cls(Settings.from_env(os.environ), dg.DagsterInstance.get())

    def warehouse_conninfo(self) -> str:
        """The warehouse's connection string, read from its variable (or the embedded server)."""
        if self.settings.dsn_variable:
            return os.environ[self.settings.dsn_variable]
        return configured_warehouse(self.settings).conninfo()

    @property
    def raw_dir(self) -> Path:
        return self.settings.home_path / RAW

    def instance_conninfo(self) -> str | None:
        """libpq connection string of a PostgreSQL instance storage; None for SQLite."""
        url = getattr(self.instance.run_storage, "postgres_url", None)
        if url is None:
            return None
        parsed = make_url(url)
        params = {
            "host": parsed.host or parsed.query.get("host"),
            "port": parsed.port,
            "user": parsed.username,
            "password": parsed.password,
            "dbname": parsed.database,
        }
        return psycopg.conninfo.make_conninfo(**{k: v for k, v in params.items() if v})


def backup(deployment: Deployment, destination: Path) -> Manifest:
    """Write the deployment into one archive at `destination` (replaced only when complete)."""
    started = datetime.now(UTC)
    _refuse_while_running(deployment.instance, "back up")
    destination.parent.mkdir(parents=True, exist_ok=True)
    conninfo = deployment.warehouse_conninfo()
    with tempfile.TemporaryDirectory(dir=destination.parent, prefix=".bamboo-backup-") as work:
        folder = Path(work)
        _dump(conninfo, folder / WAREHOUSE_DUMP, "--no-unlogged-table-data")
        storage = _dump_instance(deployment, folder)
        manifest = _manifest(deployment, conninfo, storage)
        (folder / MANIFEST).write_text(json.dumps(asdict(manifest), indent=2) + "\n")
        partial = folder / "archive.tar"
        with tarfile.open(partial, "w") as archive:
            for name in (MANIFEST, WAREHOUSE_DUMP, INSTANCE, f"{INSTANCE}.dump"):
                if (folder / name).exists():
                    archive.add(folder / name, arcname=name)
            if deployment.raw_dir.exists():
                archive.add(deployment.raw_dir, arcname=RAW, filter=_without_downloads)
        late = deployment.instance.get_runs(filters=dg.RunsFilter(created_after=started))
        if late:
            raise BackupError(
                f"run {late[0].run_id} started while the backup was being written, so the "
                "warehouse and the run history may not match: nothing was kept. Take the "
                "backup again while no run starts (pause the schedule, or stop the daemon)"
            )
        partial.replace(destination)
    return manifest


def restore(deployment: Deployment, archive_path: Path) -> Manifest:
    """Bring an empty deployment back to the archive at `archive_path`."""
    with tarfile.open(archive_path) as archive:
        manifest = Manifest(**json.loads(archive.extractfile(MANIFEST).read()))
        _refuse_unless_compatible(manifest, deployment)
        conninfo = deployment.warehouse_conninfo()
        _refuse_unless_empty(deployment, conninfo)
        with tempfile.TemporaryDirectory(prefix=".bamboo-restore-") as work:
            folder = Path(work)
            archive.extractall(folder, members=_files_and_folders(archive))
            _restore(conninfo, folder / WAREHOUSE_DUMP)
            _restore_instance(deployment, folder)
            if (folder / RAW).exists():
                deployment.raw_dir.parent.mkdir(parents=True, exist_ok=True)
                shutil.copytree(folder / RAW, deployment.raw_dir, dirs_exist_ok=True)
    return manifest


def _files_and_folders(archive: tarfile.TarFile) -> list[tarfile.TarInfo]:
    """The archive's members, refused if any is not a plain file or folder inside the folder it
    is extracted to (tarfile's "data" filter checks this only from Python 3.11.4)."""
    members = archive.getmembers()
    for member in members:
        path = PurePosixPath(member.name)
        if not (member.isfile() or member.isdir()) or path.is_absolute() or ".." in path.parts:
            raise BackupError(
                f"{archive.name} is not a Bamboo backup: it holds {member.name!r}, which a "
                "restore never writes. Restore from an archive made by `bamboo backup`"
            )
    return members


def _without_downloads(member: tarfile.TarInfo) -> tarfile.TarInfo | None:
    """Downloads under way (raw/incoming) are not answers yet."""
    return None if member.name.startswith(f"{RAW}/incoming") else member


def _refuse_while_running(instance: dg.DagsterInstance, doing: str) -> None:
    active = instance.get_runs(filters=dg.RunsFilter(statuses=_ACTIVE), limit=1)
    if active:
        run = active[0]
        raise BackupError(
            f"cannot {doing} while run {run.run_id} is {run.status.value.lower()}: the warehouse "
            "and the run history would not match. Wait until no run is queued or in progress "
            "(pause the schedule, or stop the daemon), then try again"
        )


def _dump_instance(deployment: Deployment, folder: Path) -> str:
    conninfo = deployment.instance_conninfo()
    if conninfo:
        _dump(conninfo, folder / f"{INSTANCE}.dump")
        return "postgres"
    root = Path(deployment.instance.root_directory)
    for source in _sqlite_files(root):
        copy = folder / INSTANCE / source.relative_to(root)
        copy.parent.mkdir(parents=True, exist_ok=True)
        with sqlite3.connect(source) as live, sqlite3.connect(copy) as kept:
            live.backup(kept)  # consistent even while another process has it open
    return "sqlite"


def _restore_instance(deployment: Deployment, folder: Path) -> None:
    conninfo = deployment.instance_conninfo()
    dump = folder / f"{INSTANCE}.dump"
    if conninfo and dump.exists():
        # The webserver may have created empty tables already: replace them.
        _restore(conninfo, dump, "--clean", "--if-exists")
    elif not conninfo and (folder / INSTANCE).exists():
        root = Path(deployment.instance.root_directory)
        shutil.copytree(folder / INSTANCE, root, dirs_exist_ok=True)
    else:
        kind = "PostgreSQL" if conninfo else "SQLite"
        raise BackupError(
            f"the archive's Dagster storage does not fit this instance's ({kind}): restore it "
            "into a deployment configured like the one it was taken from"
        )


def _dump(conninfo: str, target: Path, *options: str) -> None:
    arguments = ["--format=custom", "--no-owner", "--no-privileges", *options, f"--file={target}"]
    postgres_tools.run("pg_dump", arguments, conninfo)


def _restore(conninfo: str, dump: Path, *options: str) -> None:
    database = psycopg.conninfo.conninfo_to_dict(conninfo)["dbname"]
    arguments = ["--single-transaction", "--exit-on-error", "--no-owner", "--no-privileges"]
    postgres_tools.run(
        "pg_restore", [*arguments, *options, f"--dbname={database}", str(dump)], conninfo
    )


def _sqlite_files(root: Path) -> list[Path]:
    return sorted(
        path for folder in ("history", "schedules") for path in (root / folder).rglob("*.db")
    )


def _manifest(deployment: Deployment, conninfo: str, storage: str) -> Manifest:
    with psycopg.connect(conninfo) as conn:
        current = schema.current_version(conn)
        rows = _solutions_rows(conn)
    return Manifest(
        bamboo_version=version("bamboo-assets"),
        schema_version=current,
        instance_storage=storage,
        created_at=datetime.now(UTC).isoformat(timespec="seconds"),
        solutions_rows=rows,
        runs=deployment.instance.get_runs_count(),
    )


def _solutions_rows(conn: psycopg.Connection) -> int:
    if not conn.execute("SELECT to_regclass('public.solutions')").fetchone()[0]:
        return 0
    return conn.execute("SELECT count(*) FROM public.solutions").fetchone()[0]


def _refuse_unless_compatible(manifest: Manifest, deployment: Deployment) -> None:
    known = schema.known_versions()
    if manifest.schema_version is not None and manifest.schema_version not in known:
        raise BackupError(
            f"the archive's warehouse has schema version {manifest.schema_version}, newer than "
            f"this Bamboo knows (up to {known[-1]}): restore it with Bamboo "
            f"{manifest.bamboo_version} or later"
        )


def _refuse_unless_empty(deployment: Deployment, conninfo: str) -> None:
    problems = []
    if deployment.instance.get_runs_count():
        problems.append("Dagster's instance has runs")
    with psycopg.connect(conninfo) as conn:
        if schema.current_version(conn) is not None or _solutions_rows(conn):
            problems.append("the warehouse holds Bamboo's tables or the notebook's rows")
    if deployment.raw_dir.exists() and any(deployment.raw_dir.rglob("*.json.zst")):
        problems.append(f"{deployment.raw_dir} holds raw answers")
    if problems:
        raise BackupError(
            f"restore brings back an empty deployment, and this one is not: {'; '.join(problems)}"
            ". Restore into a new deployment, or empty this one first (see docs/operations.md)"
        )
