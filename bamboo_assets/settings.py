"""Environment → settings and the implementation of each resource.

Each outside system is real when its variables are present and local otherwise; a partial
setting fails at definitions load with a message naming what is missing. Secrets are handed
to resources as `EnvVar`s, so their values are read in the run and never stored in run
config or event metadata. README's "Configuration" lists every variable.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import dagster as dg
import psycopg

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


@dataclass(frozen=True)
class Settings:
    """What shapes the pipeline itself (as opposed to where its systems are)."""

    home: Path
    timezone: str
    start_date: str
    schedule_cron: str
    refetch_days: int
    max_rejected_share: float
    raw_retention_days: int | None = None  # None: raw answers are kept for ever

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)


def _get(env: Mapping[str, str], *names: str) -> tuple[str, str] | None:
    """The first of `names` that is set (non-empty), as (name, value)."""
    for name in names:
        if env.get(name, "").strip():
            return name, env[name].strip()
    return None


def _number(
    env: Mapping[str, str], name: str, default: float | None, kind: type = int
) -> float | None:
    raw = env.get(name, "").strip()
    try:
        return kind(raw) if raw else default
    except ValueError:
        raise SettingsError(f"{name} must be a number, got {raw!r}") from None


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
        raise SettingsError(f"{key[0]} is set but ITRESUME_CLIENT (the client name) is missing")
    return ItresumeStatisticsApi(
        url=env.get("ITRESUME_URL") or DEFAULT_URL,
        client=client[1],
        client_key=dg.EnvVar(key[0]),
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
        psycopg.conninfo.conninfo_to_dict(dsn[1])
    except psycopg.ProgrammingError:
        raise SettingsError(f"{dsn[0]} is not a valid PostgreSQL connection string") from None
    return PostgresWarehouse(dsn=dg.EnvVar(dsn[0]))


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
    if not os.access(credentials[1], os.R_OK):
        raise SettingsError(f"GOOGLE_SERVICE_ACCOUNT_FILE {credentials[1]!r} cannot be read")
    return GoogleSheetsDashboard(
        credentials_file=credentials[1],
        spreadsheet_id=spreadsheet[1],
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
        host=host[1],
        port=port or {"ssl": 465, "starttls": 587, "none": 25}[security],
        security=security,
        user=user[1] if user else None,
        password=dg.EnvVar(password[0]) if password else None,
        ca_file=env.get("SMTP_CA_FILE") or None,
        sender=env["DIGEST_SENDER"].strip(),
        recipients=recipients,
    )


def build_resources(
    env: Mapping[str, str], settings: Settings
) -> dict[str, dg.ConfigurableResource]:
    """Every resource the definitions need, chosen by the environment."""
    return {
        "statistics_api": statistics_api(env, settings),
        "raw_answers": RawAnswerStore(
            directory=str(settings.home / "raw"), retention_days=settings.raw_retention_days
        ),
        "warehouse": warehouse(env, settings),
        "dashboard": dashboard(env, settings),
        "mailer": mailer(env, settings),
    }
