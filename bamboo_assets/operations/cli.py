"""`bamboo`: the operator's command.

    bamboo backup DEST        write the deployment (warehouse, raw answers, Dagster's run
                              history) into one archive at DEST
    bamboo restore ARCHIVE    bring an empty deployment back to ARCHIVE

Both read the deployment from the environment, as Bamboo's other processes do: the settings
(docs/configuration.md) and DAGSTER_HOME for Dagster's instance.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from bamboo_assets.operations.backup import BackupError, Deployment, Manifest, backup, restore
from bamboo_assets.operations.postgres_tools import PostgresToolError
from bamboo_assets.settings import SettingsError


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bamboo", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    backing = commands.add_parser("backup", help="write the deployment into one archive")
    backing.add_argument("destination", type=Path, help="the archive to write (a .tar file)")
    restoring = commands.add_parser("restore", help="bring an empty deployment back to an archive")
    restoring.add_argument("archive", type=Path, help="an archive written by `bamboo backup`")
    arguments = parser.parse_args(argv)
    try:
        deployment = Deployment.from_env()
        if arguments.command == "backup":
            manifest = backup(deployment, arguments.destination)
            print(f"backed up to {arguments.destination}: {_summary(manifest)}")
        else:
            manifest = restore(deployment, arguments.archive)
            print(f"restored from {arguments.archive}: {_summary(manifest)}")
    except (BackupError, PostgresToolError, SettingsError, FileNotFoundError) as error:
        print(f"bamboo {arguments.command}: {error}", file=sys.stderr)
        return 1
    return 0


def _summary(manifest: Manifest) -> str:
    return (
        f"{manifest.solutions_rows:,} rows in public.solutions, {manifest.runs} Dagster runs, "
        f"warehouse schema {manifest.schema_version}, Dagster storage {manifest.instance_storage}, "
        f"taken {manifest.created_at} by Bamboo {manifest.bamboo_version}"
    )


if __name__ == "__main__":
    sys.exit(main())
