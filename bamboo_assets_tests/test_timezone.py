"""BAMBOO_TIMEZONE=Europe/Moscow through the real definitions: the day partitions, the API's
window for a day, `created_at` offsets and the schedule's range all follow Moscow's clock.

The partitions and the schedule are built when the definitions load, so the definitions are
loaded in a fresh interpreter with the variable set, as `dagster` itself would load them.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import datetime
from pathlib import Path

from bamboo_assets_tests.faults import Answers, answer_of
from bamboo_assets_tests.helpers import query
from bamboo_assets_tests.servers import FakeStatisticsApi

DAY = "2025-03-05"
PASSBACK = "{'oauth_consumer_key': '', 'lis_result_sourcedid': 'course-v1:B+SQL-101+2024'}"
# created_at as sent → as stored (naive, Moscow time: UTC+3 all year since 2014).
CREATED_AT = {
    "2025-03-05T10:00:00Z": datetime(2025, 3, 5, 13, 0),
    "2025-03-05T08:15:00.5+01:00": datetime(2025, 3, 5, 10, 15, 0, 500000),
    "2025-03-05T23:30:00+00:00": datetime(2025, 3, 6, 2, 30),  # the next day in Moscow
    "2025-03-05T12:00:00+03:00": datetime(2025, 3, 5, 12, 0),
    "2025-03-05 09:00:00.000001": datetime(2025, 3, 5, 9, 0, 0, 1),  # naive: kept as sent
}

# Runs in a fresh interpreter: loads bamboo_assets.definitions as Dagster does, reports the
# partition's window, the schedule's cron and its range at 03:00 Moscow time, and loads DAY
# through the pipeline up to the metrics.
PROBE = """
import json, sys
from datetime import datetime
from zoneinfo import ZoneInfo

import dagster as dg

from bamboo_assets.assets import PIPELINE
from bamboo_assets.definitions import defs
from bamboo_assets.partitions import daily_partitions

moscow = ZoneInfo("Europe/Moscow")
window = daily_partitions.time_window_for_partition_key(sys.argv[1])
schedule = defs.resolve_schedule_def("daily_attempts_schedule")
tick = datetime(2025, 3, 6, 3, tzinfo=moscow)
context = dg.build_schedule_context(scheduled_execution_time=tick)
(request,) = schedule.evaluate_tick(context).run_requests
result = dg.materialize(
    PIPELINE[:4], resources=dict(defs.resources), partition_key=sys.argv[1], raise_on_error=False
)
print(json.dumps({
    "window": [window.start.isoformat(), window.end.isoformat()],
    "cron": [schedule.cron_schedule, schedule.execution_timezone],
    "range": [request.tags["dagster/asset_partition_range_start"],
              request.tags["dagster/asset_partition_range_end"]],
    "success": result.success,
}))
"""


def attempt(user: str, created_at: str) -> dict[str, object]:
    return {
        "lti_user_id": user,
        "passback_params": PASSBACK,
        "is_correct": 1,
        "attempt_type": "submit",
        "created_at": created_at,
    }


def test_a_moscow_deployment_uses_moscow_days_offsets_and_schedule(
    database_dsn: str, bamboo_home: Path, tmp_path: Path
) -> None:
    answers = Answers()
    answers.by_day[DAY] = answer_of(
        [attempt(f"user-{n}", text) for n, text in enumerate(CREATED_AT)]
    )
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("ITRESUME", "SMTP", "DASHBOARD", "GOOGLE", "DIGEST", "BAMBOO"))
        and name not in ("DB_DSN_bamboo", "CLIENT_KEY_Skillfactory", "PGTZ")
    }
    with FakeStatisticsApi(answers, client_key="sk-moscow") as api:
        env |= {
            "BAMBOO_TIMEZONE": "Europe/Moscow",
            "BAMBOO_HOME": str(bamboo_home),
            "BAMBOO_DB_DSN": database_dsn,
            "ITRESUME_URL": api.url,
            "ITRESUME_CLIENT": "acme",
            "ITRESUME_CLIENT_KEY": "sk-moscow",
            "DAGSTER_HOME": str(tmp_path),
        }
        probe = subprocess.run(
            [sys.executable, "-c", PROBE, DAY],
            env=env,
            capture_output=True,
            text=True,
            timeout=180,
        )
        requests = api.requests
    assert probe.returncode == 0, probe.stderr[-3000:]
    seen = json.loads(probe.stdout.strip().splitlines()[-1])

    assert seen["success"], probe.stderr[-3000:]
    # The partition is Moscow's day; the API is asked for that calendar day.
    assert seen["window"] == ["2025-03-05T00:00:00+03:00", "2025-03-06T00:00:00+03:00"]
    assert [(r["start"], r["end"]) for r in requests] == [
        ("2025-03-05 00:00:00.000000", "2025-03-05 23:59:59.999999")
    ]
    # Offsets are converted to Moscow time before they are stored; naive times are kept.
    stored = query(database_dsn, "SELECT user_id, created_at FROM public.solutions ORDER BY 1")
    assert stored == [(f"user-{n}", moment) for n, moment in enumerate(CREATED_AT.values())]
    metrics = query(
        database_dsn,
        "SELECT study_date::text, attempts_per_day_total FROM public.daily_metrics ORDER BY 1",
    )
    assert metrics == [("2025-03-05", 4), ("2025-03-06", 1)]
    # The schedule ticks at 03:00 Moscow time; then it loads the last complete Moscow day and
    # the one before it.
    assert seen["cron"] == ["0 3 * * *", "Europe/Moscow"]
    assert seen["range"] == ["2025-03-04", "2025-03-05"]
