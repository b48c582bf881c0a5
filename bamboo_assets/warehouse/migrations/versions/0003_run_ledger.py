"""The per-day ledger of runs: `bamboo.run_days` replaces `bamboo.day_failures`.

0.1.0 kept only the failed days of a run, keyed by its root run. The ledger keeps every day a
run finished, done or failed (with the step and the reason), the run's root run and its
backfill: a re-execution passes over the days its root run already did, and the digest of a
backfill gathers the days of all its runs. Each failure of 0.1.0 is kept as a failed day.

Revision ID: 0003
"""

from alembic import op

revision = "0003"
down_revision = "0002"


def upgrade() -> None:
    op.execute(
        """
        CREATE TABLE bamboo.run_days (
            run_id TEXT NOT NULL
            , day DATE NOT NULL
            , root_run_id TEXT NOT NULL
            , backfill_id TEXT
            , outcome TEXT NOT NULL CHECK (outcome IN ('done', 'failed'))
            , step TEXT
            , reason TEXT
            , recorded_at TIMESTAMPTZ NOT NULL DEFAULT now()
            , PRIMARY KEY (run_id, day)
            , CHECK ((outcome = 'failed') = (step IS NOT NULL AND reason IS NOT NULL))
        )
        """
    )
    op.execute("CREATE INDEX run_days_by_root ON bamboo.run_days (root_run_id)")
    op.execute(
        "CREATE INDEX run_days_by_backfill ON bamboo.run_days (backfill_id)"
        " WHERE backfill_id IS NOT NULL"
    )
    op.execute(
        """
        INSERT INTO bamboo.run_days (run_id, day, root_run_id, outcome, step, reason, recorded_at)
        SELECT run_id, day, run_id, 'failed', step, reason, failed_at FROM bamboo.day_failures
        """
    )
    op.execute("DROP TABLE bamboo.day_failures")
