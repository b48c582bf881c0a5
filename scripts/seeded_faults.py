"""Faults seeded by hand into the code that mutation testing does not reach (the assets, the
resources, the wiring, the deployment files), each run against the tests that should catch it.

    .venv/bin/python scripts/seeded_faults.py            # every fault
    .venv/bin/python scripts/seeded_faults.py mail-      # the faults whose name starts so

Each fault is one plausible mistake: a line a hurried change could write. It is applied to the
working tree, the tests run (stopping at the first failure), and the file is put back whatever
happens. A fault is caught when a test fails or errors (pytest names it FAILED or ERROR); a
run that passes, or skips what would have caught it, counts as not caught. Run it on a clean
tree, with nothing else writing to it.
"""

from __future__ import annotations

import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
FAST = [
    "-n",
    "2",
    "-m",
    "not docker and not browser and not slow",
    "--hypothesis-profile=inner-loop",
]
DOCKER = ["bamboo_assets_tests/deployment/test_shared_ui.py"]


@dataclass(frozen=True)
class Fault:
    name: str
    path: str
    before: str
    after: str
    tests: tuple[str, ...] = ("bamboo_assets_tests", *FAST)


FAULTS = [
    # The pipeline and its report to Dagster
    Fault("report-failed-days-materialized", "bamboo_assets/assets/report.py",
          "good = ledger.done()", "good = ledger.days"),
    Fault("report-no-failed-marks", "bamboo_assets/assets/report.py",
          "        _mark_failed(context, key, failed)", "        pass"),
    Fault("pipeline-run-succeeds-with-failed-days", "bamboo_assets/assets/pipeline.py",
          "    if ledger.failures:\n        raise dg.Failure(",
          "    if False:\n        raise dg.Failure("),
    Fault("pipeline-refetch-tag-ignored", "bamboo_assets/assets/pipeline.py",
          'refetch=config.refetch or tags.get(raw_attempts.REFETCH_TAG) == "true"',
          "refetch=config.refetch"),
    Fault("pipeline-resume-redoes-every-day", "bamboo_assets/assets/pipeline.py",
          'if tags.get(RESUME_TAG) == "true" and context.run.root_run_id:', "if False:"),
    Fault("pipeline-step-failure-drops-earlier-steps", "bamboo_assets/assets/pipeline.py",
          "            yield from report.outcome(context, finished, ledger)\n            for day",
          "            yield from report.outcome(context, [], ledger)\n            for day"),
    Fault("pipeline-lost-connection-not-named", "bamboo_assets/assets/pipeline.py",
          "error = days_run.explain(raised)", "error = raised"),
    # The steps
    Fault("raw-final-answers-fetched-again", "bamboo_assets/assets/raw_attempts.py",
          "if final and not days_run.refetch:", "if False:"),
    Fault("raw-late-records-not-kept", "bamboo_assets/assets/raw_attempts.py",
          "    if late:\n        refetches.record(", "    if False:\n        refetches.record("),
    Fault("validated-broken-answer-not-set-aside", "bamboo_assets/assets/validated_attempts.py",
          "aside = answers.set_aside(day)", "aside = answers.answer_path(day)"),
    Fault("solutions-refused-days-loaded", "bamboo_assets/assets/solutions_table.py",
          "        ledger.fail(day, step, why)", "        pass"),
    Fault("digest-sent-by-every-backfill-run", "bamboo_assets/assets/digest_email.py",
          "    if days_run.backfill_id:", "    if False:"),
    Fault("sensor-backfill-digest-never-sent", "bamboo_assets/sensors.py",
          "        if mailed:\n", "        if False:\n"),
    Fault("check-rejected-share-at-threshold", "bamboo_assets/checks.py",
          "if share > threshold}", "if share >= 2 * threshold}"),
    # The resources and the wiring
    Fault("api-key-not-sent", "bamboo_assets/resources/statistics_api.py",
          '"client_key": self.client_key, ', ""),
    Fault("api-no-retries", "bamboo_assets/resources/statistics_api.py",
          "total=self.retries,", "total=0,"),
    Fault("api-429-not-retried", "bamboo_assets/resources/statistics_api.py",
          "status_forcelist=(429, 500, 502, 503, 504)", "status_forcelist=(500, 502, 503, 504)"),
    Fault("mail-first-recipient-only", "bamboo_assets/resources/mail.py",
          'if address.strip()]', 'if address.strip()][:1]'),
    Fault("mail-no-starttls", "bamboo_assets/resources/mail.py",
          "            server.starttls(context=context)", "            pass"),
    Fault("mail-no-retry", "bamboo_assets/resources/mail.py",
          "if attempt >= self.attempts:", "if True:"),
    Fault("raw-retention-deletes-days-in-use", "bamboo_assets/resources/raw_answers.py",
          "if path not in kept and path.stat().st_mtime < cutoff",
          "if path.stat().st_mtime < cutoff"),
    Fault("warehouse-any-encoding", "bamboo_assets/warehouse/connection.py",
          'if encoding != "UTF8":', "if False:"),
    Fault("systems-api-always-simulated", "bamboo_assets/systems.py",
          "    if not settings.api_client:\n        return SimulatedStatisticsApi(",
          "    if True:\n        return SimulatedStatisticsApi("),
    # The deployment files
    Fault("image-runs-as-root", "Dockerfile", "USER 10001:10001\n", ""),
    Fault("instance-backfills-unlimited", "deploy/dagster.yaml",
          "      - key: dagster/backfill\n        limit: 1",
          "      - key: dagster/backfill\n        limit: 3"),
    Fault("helm-more-runs", "deploy/helm/values.yaml",
          "maxConcurrentRuns: 3", "maxConcurrentRuns: 10"),
    Fault("compose-ui-on-every-address", "deploy/compose/compose.yaml",
          '"${BAMBOO_UI_ADDRESS:-127.0.0.1}:${BAMBOO_UI_PORT:-3000}:8080"',
          '"${BAMBOO_UI_PORT:-3000}:8080"'),
    Fault("ui-login-never-asked", "deploy/compose/ui/40-bamboo-ui.sh",
          "    printf '%s\\n' 'auth_basic \"Bamboo\";' \"auth_basic_user_file $ui_run/htpasswd;\"",
          "    printf '%s\\n' 'auth_basic off;'", DOCKER),
]  # fmt: skip


def run(fault: Fault) -> tuple[bool, float, str]:
    """Apply `fault`, run its tests, put the file back: (caught, seconds, first failure)."""
    path = REPO / fault.path
    original = path.read_text()
    assert original.count(fault.before) == 1, f"{fault.name}: the line to change is not unique"
    started = time.monotonic()
    try:
        path.write_text(original.replace(fault.before, fault.after))
        command = [sys.executable, "-m", "pytest", "-x", "-q", *fault.tests]
        done = subprocess.run(command, cwd=REPO, capture_output=True, text=True, check=False)
    finally:
        path.write_text(original)
    failed = [line for line in done.stdout.splitlines() if line.startswith(("FAILED", "ERROR"))]
    return bool(failed), time.monotonic() - started, (failed or [""])[0][:110]


def main(prefix: str = "") -> int:
    chosen = [fault for fault in FAULTS if fault.name.startswith(prefix)]
    caught = 0
    for fault in chosen:
        found, seconds, failure = run(fault)
        caught += found
        print(f"{'caught' if found else 'MISSED':6} {seconds:5.0f}s  {fault.name:45} {failure}")
    print(f"{caught} of {len(chosen)} seeded faults caught")
    return 0 if caught == len(chosen) else 1


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:]))
