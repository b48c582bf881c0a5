"""Failure alerts (sensor failed_run_alert): one e-mail per failed run, naming the run, its
partitions and the error, linking the run on the webserver, and ending with what to do."""

from __future__ import annotations

from collections.abc import Callable
from email import message_from_bytes, policy
from pathlib import Path

from bamboo_assets_tests.support.bamboo import LINEAGE, Bamboo

# What the alert ends with, written out: the one recovery, whatever failed.
RECOVERY = (
    "Once the cause is fixed, backfill the failed and missing partitions: in the Dagster UI, "
    "Assets, group bamboo, Materialize, choose 'Failed and missing', then Launch backfill."
)


def alerts(home: Path) -> list[tuple[str, str]]:
    """(subject, body) of each e-mail in the outbox."""
    sent = []
    for path in sorted((home / "outbox").glob("*.eml")):
        message = message_from_bytes(path.read_bytes(), policy=policy.default)
        sent.append((message["Subject"], message.get_content()))
    return sent


def test_a_failed_range_run_sends_one_alert_naming_run_partitions_and_error(
    configure: Callable[..., Bamboo], bamboo_home: Path
) -> None:
    bamboo = configure(ITRESUME_CLIENT_KEY="sk-wrong-9f3e")  # the API refuses it
    result = bamboo.run("2025-03-01", "2025-03-02", select=LINEAGE[:3])
    assert not result.success

    bamboo.alert(result)

    ((subject, body),) = alerts(bamboo_home)
    assert subject == "Bamboo run failed: 2025-03-01...2025-03-02"
    assert f"    Run: {result.run_id}\n" in body
    assert "bamboo_pipeline: " in body and "refused the client key" in body
    assert "2 of 2 days failed; nothing was loaded for them" in body
    assert f"Open the run: http://127.0.0.1:3000/runs/{result.run_id}\n" in body
    assert body.rstrip().endswith(RECOVERY)
    assert "sk-wrong-9f3e" not in body


def test_a_failed_run_for_one_day_sends_an_alert_naming_that_day_and_linking_the_run(
    configure: Callable[..., Bamboo], bamboo_home: Path
) -> None:
    day = "2025-03-05"
    bamboo = configure(
        ITRESUME_CLIENT_KEY="sk-wrong-2c41",
        DAGSTER_WEBSERVER_URL="https://dagster.example.org/",
    )
    result = bamboo.run_day(day, select=LINEAGE[:3])  # one partition, as the UI launches it
    assert not result.success

    bamboo.alert(result)

    ((subject, body),) = alerts(bamboo_home)
    assert subject == f"Bamboo run failed: {day}"
    assert f"    Partitions: {day}\n" in body
    assert "bamboo_pipeline: " in body and "refused the client key" in body
    assert f"Open the run: https://dagster.example.org/runs/{result.run_id}\n" in body
    assert body.rstrip().endswith(RECOVERY)
