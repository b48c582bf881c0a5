"""`make demo`: materialize the last few complete days through the Dagster CLI, then say where
the results are. Runs on local defaults unless the environment configures real systems."""

import os
import subprocess
import sys
from datetime import datetime, timedelta

from psycopg import sql

from bamboo_assets.settings import Settings
from bamboo_assets.systems import build_resources

DAYS = 3
TABLES = (("public", "solutions"), ("public", "daily_metrics"), ("bamboo", "rejected_attempts"))


def main() -> int:
    settings = Settings.from_env(os.environ)
    today = datetime.now(settings.tz).date()
    first, last = today - timedelta(days=DAYS), today - timedelta(days=1)
    command = [
        sys.executable, "-m", "dagster", "asset", "materialize",
        "-m", "bamboo_assets.definitions", "--select", "*",
        "--partition-range", f"{first}...{last}",
    ]  # fmt: skip
    print(f"Materializing {first} … {last}:\n  {' '.join(command[1:])}", flush=True)
    if subprocess.run(command).returncode != 0:
        print("The run failed: see the log above.", file=sys.stderr)
        return 1

    resources = build_resources(settings)
    warehouse = resources["warehouse"].process_config_and_initialize()
    with warehouse.connect() as conn:
        counts = {
            f"{schema}.{table}": conn.execute(
                sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(schema, table))
            ).fetchone()[0]
            for schema, table in TABLES
        }
    print("\nDone. Results:")
    print(f"  warehouse: {warehouse.describe()}")
    for table, count in counts.items():
        print(f"    {table}: {count} rows")
    print(f"  dashboard: {resources['dashboard'].process_config_and_initialize().location()}")
    mailer = resources["mailer"].process_config_and_initialize()
    print(f"  digest:    {getattr(mailer, 'directory', None) or 'sent by SMTP'}")
    print(f"  raw API answers: {settings.home_path / 'raw'}")
    print(f"  Dagster runs: DAGSTER_HOME={os.environ.get('DAGSTER_HOME', '(temporary)')}")
    print("Open the UI with `make dev` (http://127.0.0.1:3000).")
    return 0


if __name__ == "__main__":
    sys.exit(main())
