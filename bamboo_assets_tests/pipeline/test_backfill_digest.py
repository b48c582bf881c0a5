"""One digest per backfill: the runs of a backfill send none of their own, and the sensor
backfill_digest sends one for all its days once the backfill has finished (here the backfill is
recorded as the daemon records it; pipeline/test_ui_backfill.py launches a real one)."""

import time
from collections.abc import Callable
from pathlib import Path

import dagster as dg
from dagster._core.execution.backfill import BulkActionStatus, PartitionBackfill

from bamboo_assets_tests.support.bamboo import LINEAGE, Bamboo, digests

BACKFILL = "bamboo-test-backfill"


def finish_backfill(bamboo: Bamboo) -> None:
    """Record the backfill as the daemon does when its last run is over."""
    now = time.time()
    bamboo.instance.add_backfill(
        PartitionBackfill(
            BACKFILL,
            status=BulkActionStatus.COMPLETED_SUCCESS,
            from_failure=False,
            tags={},
            backfill_timestamp=now - 60,
            asset_selection=[dg.AssetKey(name) for name in LINEAGE],
            backfill_end_timestamp=now,
        )
    )


def evaluate_sensor(bamboo: Bamboo, cursor: str | None) -> str | None:
    """One tick of backfill_digest, as the daemon evaluates it; the cursor it leaves."""
    context = dg.build_sensor_context(
        instance=bamboo.instance,
        cursor=cursor,
        resources={name: bamboo.resource(name) for name in ("warehouse", "dashboard", "mailer")},
    )
    bamboo.defs.resolve_sensor_def("backfill_digest")(context)
    return context.cursor


def test_a_backfill_split_into_runs_gets_one_digest_when_it_finishes(
    local: Callable[..., Bamboo], bamboo_home: Path
) -> None:
    bamboo = local()
    # Runs as the daemon requests them: the whole lineage selected, tagged with the backfill.
    tags = {"dagster/backfill": BACKFILL}
    assert bamboo.run("2025-03-01", "2025-03-02", select=LINEAGE, tags=tags).success
    assert bamboo.run("2025-03-03", select=LINEAGE, tags=tags).success
    assert digests(bamboo_home) == []  # a run of a backfill leaves the digest to the sensor

    cursor = evaluate_sensor(bamboo, None)
    assert digests(bamboo_home) == []  # not finished yet

    finish_backfill(bamboo)
    cursor = evaluate_sensor(bamboo, cursor)
    (digest,) = digests(bamboo_home)
    assert digest.startswith("Subject: Bamboo digest: 2025-03-01 to 2025-03-03 (3 days)\n")

    evaluate_sensor(bamboo, cursor)
    assert len(digests(bamboo_home)) == 1  # the next tick does not send it again
