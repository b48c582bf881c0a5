"""The failure alert of a run for one day (a partition, not a range): it names that day, and
links the run on the webserver configured in DAGSTER_WEBSERVER_URL."""

from __future__ import annotations

from email import message_from_bytes, policy
from pathlib import Path

import dagster as dg

from bamboo_assets.resources.statistics_api import ItresumeStatisticsApi
from bamboo_assets.settings import build_resources, load_settings
from bamboo_assets_tests.helpers import ASSETS, alert_failed_run, local_resources
from bamboo_assets_tests.servers import FakeStatisticsApi

DAY = "2025-03-05"


def test_a_failed_run_for_one_day_sends_an_alert_naming_that_day_and_linking_the_run(
    bamboo_home: Path, warehouse
) -> None:
    env = {"BAMBOO_HOME": str(bamboo_home), "DAGSTER_WEBSERVER_URL": "https://dagster.example.org/"}
    configured = build_resources(env, load_settings(env))
    instance = dg.DagsterInstance.ephemeral()
    with FakeStatisticsApi(lambda params: b"[]", client_key="right-key") as api:
        resources = local_resources(bamboo_home, warehouse)
        resources["statistics_api"] = ItresumeStatisticsApi(
            url=api.url, client="acme", client_key="sk-wrong-2c41"
        )
        result = dg.materialize(
            ASSETS[:3],
            resources=resources,
            partition_key=DAY,
            instance=instance,
            raise_on_error=False,
        )
    assert not result.success

    alerting = {name: configured[name] for name in ("mailer", "pipeline_settings")}
    alert_failed_run(result, instance, alerting)

    (alert,) = (bamboo_home / "outbox").glob("*.eml")
    message = message_from_bytes(alert.read_bytes(), policy=policy.default)
    assert message["Subject"] == f"Bamboo run failed: {DAY}"
    body = message.get_content()
    assert f"    Partitions: {DAY}\n" in body
    assert "raw_attempts: " in body and "refused the client key" in body
    assert f"Open the run: https://dagster.example.org/runs/{result.run_id}\n" in body
