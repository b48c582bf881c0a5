"""Environment → settings and the implementation of each resource.

Each outside system is real when its variables are present and local otherwise; a partial
setting fails at definitions load with a message naming what is missing. With
`BAMBOO_ENV=production` no system may fall back to its local stand-in. Secrets are handed
to resources as `EnvVar`s, so their values are read in the run and never stored in run
config or event metadata. README's "Configuration" lists every variable.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import NamedTuple
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import dagster as dg
import psycopg

from bamboo_assets.checks import VolumeRule
from bamboo_assets.resources.dashboard import CsvDashboard, Dashboard, GoogleSheetsDashboard
from bamboo_assets.resources.mail import Mailer, OutboxMailer, SmtpMailer
from bamboo_assets.resources.raw_answers import RawAnswerStore
from bamboo_assets.resources.statistics_api import (
    DEFAULT_URL,
    ItresumeStatisticsApi,
    SimulatedStatisticsApi,
    StatisticsApi,
)
from bamboo_assets.resources.warehouse import EmbeddedWarehouse, PostgresWarehouse, Warehouse


class SettingsError(ValueError):
    """The environment describes a system only in part, or with a value that cannot work."""


ENVIRONMENTS = ("local", "production")
# What makes each outside system real, first name first, then the notebook's spellings. In
# production a missing one would silently mean a stand-in (simulated API, embedded PostgreSQL,
# CSV dashboard, outbox) whose digest reports success.
PRODUCTION_VARIABLES: tuple[tuple[str, ...], ...] = (
    ("ITRESUME_CLIENT",),
    ("ITRESUME_CLIENT_KEY", "CLIENT_KEY_Skillfactory"),
    ("BAMBOO_DB_DSN", "DB_DSN_bamboo"),
    ("GOOGLE_SERVICE_ACCOUNT_FILE",),
    ("DASHBOARD_SPREADSHEET_ID",),
    ("SMTP_HOST",),
    ("DIGEST_SENDER",),
    ("DIGEST_RECIPIENTS",),
)


@dataclass(frozen=True)
class Settings:
    """What shapes the pipeline itself (as opposed to where its systems are)."""

    home: Path
    timezone: str
    start_date: str
    schedule_cron: str
    refetch_days: int
    max_rejected_share: float
    webserver_url: str
    volume: VolumeRule = VolumeRule()
    raw_retention_days: int | None = None  # None: raw answers are kept for ever

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)


class PipelineSettings(dg.ConfigurableResource):
    """The settings a run reads (as opposed to the partitions and the schedule, which Dagster
    needs when the definitions load): one resource, so a test or a deployment sets them in
    one place and every asset and sensor sees the same values."""

    timezone: str = "UTC"
    refetch_days: int = 1
    max_rejected_share: float = 0.05
    volume_low_ratio: float = VolumeRule.low_ratio
    volume_high_ratio: float = VolumeRule.high_ratio
    volume_min_weeks: int = VolumeRule.min_weeks
    webserver_url: str = "http://127.0.0.1:3000"

    @property
    def tz(self) -> ZoneInfo:
        """Where offsets in `created_at` are converted to (BAMBOO_TIMEZONE)."""
        return ZoneInfo(self.timezone)

    @property
    def volume(self) -> VolumeRule:
        """The band of the record-volume check (BAMBOO_VOLUME_*)."""
        return VolumeRule(self.volume_low_ratio, self.volume_high_ratio, self.volume_min_weeks)

    def run_url(self, run_id: str) -> str:
        """The run's page in the Dagster UI (DAGSTER_WEBSERVER_URL)."""
        return f"{self.webserver_url.rstrip('/')}/runs/{run_id}"


class Variable(NamedTuple):
    """An environment variable that is set: its name (for messages and `EnvVar`) and value."""

    name: str
    value: str


def _get(env: Mapping[str, str], *names: str) -> Variable | None:
    """The first of `names` that is set (non-empty)."""
    for name in names:
        if env.get(name, "").strip():
            return Variable(name, env[name].strip())
    return None


def _number(
    env: Mapping[str, str], name: str, default: float | None, kind: type = int
) -> float | None:
    raw = env.get(name, "").strip()
    try:
        return kind(raw) if raw else default
    except ValueError:
        raise SettingsError(f"{name} must be a number, got {raw!r}") from None


def missing_for_production(env: Mapping[str, str]) -> list[str]:
    """The variables production needs that `env` leaves unset (empty counts as unset)."""
    return [names[0] for names in PRODUCTION_VARIABLES if not _get(env, *names)]


def check_environment(env: Mapping[str, str]) -> None:
    """`BAMBOO_ENV` is local (the default) or production; production lacks nothing."""
    name = (env.get("BAMBOO_ENV") or "local").strip()
    if name not in ENVIRONMENTS:
        raise SettingsError(f"BAMBOO_ENV must be local or production, got {name!r}")
    missing = missing_for_production(env) if name == "production" else []
    if missing:
        raise SettingsError(
            f"BAMBOO_ENV is production but {', '.join(missing)} "
            f"{'is' if len(missing) == 1 else 'are'} not set: production never falls back to "
            "a local stand-in. Set them (see .env.example), or BAMBOO_ENV=local for a local run"
        )


def load_settings(env: Mapping[str, str] = os.environ) -> Settings:
    home = Path(env.get("BAMBOO_HOME") or ".bamboo").resolve()
    timezone = env.get("BAMBOO_TIMEZONE") or "UTC"
    try:
        ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise SettingsError(f"BAMBOO_TIMEZONE {timezone!r} is not an IANA time zone") from None
    start_date = env.get("BAMBOO_START_DATE") or "2024-01-01"
    try:
        date.fromisoformat(start_date)
    except ValueError:
        raise SettingsError(f"BAMBOO_START_DATE must be YYYY-MM-DD, got {start_date!r}") from None
    volume = VolumeRule(
        low_ratio=_number(env, "BAMBOO_VOLUME_LOW_RATIO", VolumeRule.low_ratio, float),
        high_ratio=_number(env, "BAMBOO_VOLUME_HIGH_RATIO", VolumeRule.high_ratio, float),
        min_weeks=int(_number(env, "BAMBOO_VOLUME_MIN_WEEKS", VolumeRule.min_weeks)),
    )
    if not 0 <= volume.low_ratio < volume.high_ratio:
        raise SettingsError(
            "BAMBOO_VOLUME_LOW_RATIO must be at least 0 and below BAMBOO_VOLUME_HIGH_RATIO, "
            f"got {volume.low_ratio:g} and {volume.high_ratio:g}"
        )
    if not 1 <= volume.min_weeks <= volume.weeks:
        raise SettingsError(
            f"BAMBOO_VOLUME_MIN_WEEKS must be 1 to {volume.weeks}, got {volume.min_weeks}"
        )
    retention = _number(env, "BAMBOO_RAW_RETENTION_DAYS", None)
    if retention is not None and retention < 1:
        raise SettingsError(
            f"BAMBOO_RAW_RETENTION_DAYS must be at least 1 (days), got {retention}; "
            "leave it unset to keep raw answers"
        )
    return Settings(
        home=home,
        timezone=timezone,
        start_date=start_date,
        schedule_cron=env.get("BAMBOO_SCHEDULE_CRON") or "0 3 * * *",
        refetch_days=int(_number(env, "BAMBOO_REFETCH_DAYS", 1)),
        max_rejected_share=_number(env, "BAMBOO_MAX_REJECTED_SHARE", 0.05, float),
        webserver_url=env.get("DAGSTER_WEBSERVER_URL") or "http://127.0.0.1:3000",
        volume=volume,
        raw_retention_days=retention,
    )


def statistics_api(env: Mapping[str, str], settings: Settings) -> StatisticsApi:
    key = _get(env, "ITRESUME_CLIENT_KEY", "CLIENT_KEY_Skillfactory")
    client = _get(env, "ITRESUME_CLIENT")
    parallel = int(_number(env, "ITRESUME_PARALLEL_REQUESTS", 4))
    if not key and not client:
        return SimulatedStatisticsApi(
            parallel_requests=parallel,
            records_per_day=int(_number(env, "BAMBOO_SIMULATED_RECORDS_PER_DAY", 8500)),
        )
    if not key:
        raise SettingsError("ITRESUME_CLIENT is set but ITRESUME_CLIENT_KEY is missing")
    if not client:
        raise SettingsError(f"{key.name} is set but ITRESUME_CLIENT (the client name) is missing")
    return ItresumeStatisticsApi(
        url=env.get("ITRESUME_URL") or DEFAULT_URL,
        client=client.value,
        client_key=dg.EnvVar(key.name),
        parallel_requests=parallel,
        connect_timeout_seconds=_number(env, "ITRESUME_CONNECT_TIMEOUT_SECONDS", 10.0, float),
        read_timeout_seconds=_number(env, "ITRESUME_READ_TIMEOUT_SECONDS", 75.0, float),
        retries=int(_number(env, "ITRESUME_RETRIES", 2)),
    )


def warehouse(env: Mapping[str, str], settings: Settings) -> Warehouse:
    dsn = _get(env, "BAMBOO_DB_DSN", "DB_DSN_bamboo")
    if not dsn:
        return EmbeddedWarehouse(data_dir=str(settings.home / "postgres"))
    try:
        psycopg.conninfo.conninfo_to_dict(dsn.value)
    except psycopg.ProgrammingError:
        raise SettingsError(f"{dsn.name} is not a valid PostgreSQL connection string") from None
    return PostgresWarehouse(dsn=dg.EnvVar(dsn.name))


def dashboard(env: Mapping[str, str], settings: Settings) -> Dashboard:
    credentials = _get(env, "GOOGLE_SERVICE_ACCOUNT_FILE")
    spreadsheet = _get(env, "DASHBOARD_SPREADSHEET_ID")
    if not credentials and not spreadsheet:
        return CsvDashboard(path=str(settings.home / "dashboard.csv"))
    if not spreadsheet:
        raise SettingsError(
            "GOOGLE_SERVICE_ACCOUNT_FILE is set but DASHBOARD_SPREADSHEET_ID is missing"
        )
    if not credentials:
        raise SettingsError(
            "DASHBOARD_SPREADSHEET_ID is set but GOOGLE_SERVICE_ACCOUNT_FILE is missing"
        )
    if not os.access(credentials.value, os.R_OK):
        raise SettingsError(f"GOOGLE_SERVICE_ACCOUNT_FILE {credentials.value!r} cannot be read")
    return GoogleSheetsDashboard(
        credentials_file=credentials.value,
        spreadsheet_id=spreadsheet.value,
        worksheet_name=env.get("DASHBOARD_WORKSHEET_NAME") or "Sheet1",
        api_url=env.get("GOOGLE_SHEETS_API_URL") or "https://sheets.googleapis.com",
    )


def mailer(env: Mapping[str, str], settings: Settings) -> Mailer:
    recipients = env.get("DIGEST_RECIPIENTS", "").strip()
    host = _get(env, "SMTP_HOST")
    if not host:
        return OutboxMailer(
            directory=str(settings.home / "outbox"),
            sender=env.get("DIGEST_SENDER") or "bamboo@localhost",
            recipients=recipients or "data-team@localhost",
        )
    missing = [name for name in ("DIGEST_SENDER", "DIGEST_RECIPIENTS") if not _get(env, name)]
    if missing:
        raise SettingsError(f"SMTP_HOST is set but {' and '.join(missing)} missing")
    port = int(_number(env, "SMTP_PORT", 0))
    security = env.get("SMTP_SECURITY") or ("starttls" if port == 587 else "ssl")
    if security not in ("ssl", "starttls", "none"):
        raise SettingsError(f"SMTP_SECURITY must be ssl, starttls or none, got {security!r}")
    user = _get(env, "SMTP_USER")
    password = _get(env, "SMTP_PASSWORD", "GOOGLE_APP_PASS")
    if bool(user) != bool(password):
        raise SettingsError("SMTP_USER and SMTP_PASSWORD must be set together (or neither)")
    return SmtpMailer(
        host=host.value,
        port=port or {"ssl": 465, "starttls": 587, "none": 25}[security],
        security=security,
        user=user.value if user else None,
        password=dg.EnvVar(password.name) if password else None,
        ca_file=env.get("SMTP_CA_FILE") or None,
        sender=env["DIGEST_SENDER"].strip(),
        recipients=recipients,
    )


def build_resources(
    env: Mapping[str, str], settings: Settings
) -> dict[str, dg.ConfigurableResource]:
    """Every resource the definitions need, chosen by the environment."""
    check_environment(env)
    return {
        "pipeline_settings": PipelineSettings(
            timezone=settings.timezone,
            refetch_days=settings.refetch_days,
            max_rejected_share=settings.max_rejected_share,
            volume_low_ratio=settings.volume.low_ratio,
            volume_high_ratio=settings.volume.high_ratio,
            volume_min_weeks=settings.volume.min_weeks,
            webserver_url=settings.webserver_url,
        ),
        "statistics_api": statistics_api(env, settings),
        "raw_answers": RawAnswerStore(
            directory=str(settings.home / "raw"), retention_days=settings.raw_retention_days
        ),
        "warehouse": warehouse(env, settings),
        "dashboard": dashboard(env, settings),
        "mailer": mailer(env, settings),
    }
