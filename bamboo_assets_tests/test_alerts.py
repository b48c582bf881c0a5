"""Failure alerts: one e-mail per failed run, naming the run, its partitions and the error."""

from email import message_from_bytes, policy
from pathlib import Path

import dagster as dg

from bamboo_assets.resources.mail import OutboxMailer
from bamboo_assets.resources.raw_answers import RawAnswerStore
from bamboo_assets.resources.statistics_api import ItresumeStatisticsApi
from bamboo_assets.settings import PipelineSettings
from bamboo_assets_tests.helpers import ASSETS, alert_failed_run, materialize_days
from bamboo_assets_tests.servers import FakeStatisticsApi


def test_a_failed_backfill_sends_one_alert_naming_run_partitions_and_error(
    bamboo_home: Path, warehouse
) -> None:
    instance = dg.DagsterInstance.ephemeral()
    outbox = OutboxMailer(directory=str(bamboo_home / "outbox"), sender="b@x", recipients="ops@x")
    with FakeStatisticsApi(lambda params: b"[]", client_key="right-key") as api:
        resources = {
            "statistics_api": ItresumeStatisticsApi(
                url=api.url, client="acme", client_key="sk-wrong-9f3e"
            ),
            "raw_answers": RawAnswerStore(directory=str(bamboo_home / "raw")),
            "warehouse": warehouse,
            "mailer": outbox,
            "pipeline_settings": PipelineSettings(),
        }
        result = materialize_days(
            "2025-03-01", "2025-03-02", resources, assets=ASSETS[:3], instance=instance
        )
    assert not result.success

    alert_failed_run(result, instance, {"mailer": outbox, "pipeline_settings": PipelineSettings()})

    (alert,) = (bamboo_home / "outbox").glob("*.eml")
    message = message_from_bytes(alert.read_bytes(), policy=policy.default)
    assert message["Subject"] == "Bamboo run failed: 2025-03-01...2025-03-02"
    body = message.get_content()
    assert result.run_id in body
    assert "raw_attempts: " in body and "refused the client key" in body
    assert f"/runs/{result.run_id}" in body
    assert "sk-wrong-9f3e" not in body
