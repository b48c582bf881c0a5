"""Bamboo's settings: one object, read from the environment once per process and validated.

Each field names the environment variable(s) it comes from, so adding a setting is one field
here plus its line in docs/configuration.md. `Settings.from_env` is what the definitions, the
`bamboo` command and the tests call; a value that cannot work fails there with a message that
names the variable. Every outside system is real when its variables are set and local
otherwise; a system set only in part is an error, and `BAMBOO_ENV=production` forbids the
local stand-ins. Secrets are never held here: for them the field keeps the *name* of the
variable that holds the value, which the resources read at run time through `EnvVar`.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from datetime import date
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import dagster as dg
import psycopg
from pydantic import Field, ValidationError, field_validator, model_validator

from bamboo_assets.core.volume import VolumeRule


class SettingsError(ValueError):
    """The environment describes a system only in part, or with a value that cannot work."""


def variable(*names: str, default: Any = None, secret: bool = False, doc: str = "") -> Any:
    """A setting read from the first of `names` that is set (later names are the notebook's
    spellings). For a secret the setting holds the variable's name, never its value."""
    return Field(default, description=doc, json_schema_extra={"env": list(names), "secret": secret})


class Settings(dg.ConfigurableResource):
    """Everything that shapes a Bamboo deployment; also the `settings` resource runs read."""

    environment: str = variable("BAMBOO_ENV", default="local", doc="local or production")
    home: str = variable("BAMBOO_HOME", default=".bamboo", doc="local state")
    timezone: str = variable("BAMBOO_TIMEZONE", default="UTC")
    start_date: str = variable("BAMBOO_START_DATE", default="2024-01-01")
    schedule_cron: str = variable("BAMBOO_SCHEDULE_CRON", default="0 3 * * *")
    refetch_days: int = variable("BAMBOO_REFETCH_DAYS", default=1)
    max_rejected_share: float = variable("BAMBOO_MAX_REJECTED_SHARE", default=0.05)
    volume_low_ratio: float = variable("BAMBOO_VOLUME_LOW_RATIO", default=VolumeRule.low_ratio)
    volume_high_ratio: float = variable("BAMBOO_VOLUME_HIGH_RATIO", default=VolumeRule.high_ratio)
    volume_min_weeks: int = variable("BAMBOO_VOLUME_MIN_WEEKS", default=VolumeRule.min_weeks)
    raw_retention_days: int | None = variable("BAMBOO_RAW_RETENTION_DAYS")
    simulated_records_per_day: int = variable("BAMBOO_SIMULATED_RECORDS_PER_DAY", default=8500)
    webserver_url: str = variable("DAGSTER_WEBSERVER_URL", default="http://127.0.0.1:3000")

    api_url: str = variable("ITRESUME_URL", default="https://b2b.itresume.ru/api/statistics")
    api_client: str | None = variable("ITRESUME_CLIENT")
    api_key_variable: str | None = variable(
        "ITRESUME_CLIENT_KEY", "CLIENT_KEY_Skillfactory", secret=True
    )
    api_parallel_requests: int = variable("ITRESUME_PARALLEL_REQUESTS", default=4)
    api_connect_timeout_seconds: float = variable("ITRESUME_CONNECT_TIMEOUT_SECONDS", default=10.0)
    api_read_timeout_seconds: float = variable("ITRESUME_READ_TIMEOUT_SECONDS", default=75.0)
    api_retries: int = variable("ITRESUME_RETRIES", default=2)

    dsn_variable: str | None = variable("BAMBOO_DB_DSN", "DB_DSN_bamboo", secret=True)

    sheets_credentials_file: str | None = variable("GOOGLE_SERVICE_ACCOUNT_FILE")
    sheets_spreadsheet_id: str | None = variable("DASHBOARD_SPREADSHEET_ID")
    sheets_worksheet: str = variable("DASHBOARD_WORKSHEET_NAME", default="Sheet1")
    sheets_api_url: str = variable("GOOGLE_SHEETS_API_URL", default="https://sheets.googleapis.com")

    smtp_host: str | None = variable("SMTP_HOST")
    smtp_port: int | None = variable("SMTP_PORT")
    smtp_security: str | None = variable("SMTP_SECURITY", doc="ssl, starttls or none")
    smtp_user: str | None = variable("SMTP_USER")
    smtp_password_variable: str | None = variable("SMTP_PASSWORD", "GOOGLE_APP_PASS", secret=True)
    smtp_ca_file: str | None = variable("SMTP_CA_FILE")
    digest_sender: str | None = variable("DIGEST_SENDER")
    digest_recipients: str | None = variable("DIGEST_RECIPIENTS")

    @classmethod
    def from_env(cls, env: Mapping[str, str] = os.environ) -> Settings:
        """The settings `env` describes, validated; SettingsError names what is wrong."""
        values: dict[str, str] = {}
        for field, (names, secret) in _VARIABLES.items():
            found = next((name for name in names if env.get(name, "").strip()), None)
            if found:
                values[field] = found if secret else env[found].strip()
        try:
            settings = cls(**values)
        except ValidationError as error:
            raise SettingsError(_explain(error, values)) from None
        if settings.dsn_variable:
            try:
                psycopg.conninfo.conninfo_to_dict(env[settings.dsn_variable])
            except psycopg.ProgrammingError:  # its text may quote the password: not shown
                raise SettingsError(
                    f"{settings.dsn_variable} is not a valid PostgreSQL connection string"
                ) from None
        return settings

    @field_validator("home")
    @classmethod
    def _absolute(cls, home: str) -> str:
        return str(Path(home).resolve())

    @field_validator("timezone")
    @classmethod
    def _zone(cls, timezone: str) -> str:
        try:
            ZoneInfo(timezone)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"{timezone!r} is not an IANA time zone") from None
        return timezone

    @field_validator("start_date")
    @classmethod
    def _day(cls, start_date: str) -> str:
        try:
            date.fromisoformat(start_date)
        except ValueError:
            raise ValueError(f"must be YYYY-MM-DD, got {start_date!r}") from None
        return start_date

    @model_validator(mode="after")
    def _consistent(self) -> Settings:
        # Production's gaps first: they name every variable missing at once.
        if self.environment == "production" and self.local_stand_ins():
            missing = self.local_stand_ins()
            raise ValueError(
                f"BAMBOO_ENV is production but {', '.join(missing)} "
                f"{'is' if len(missing) == 1 else 'are'} not set: production never falls back "
                "to a local stand-in. Set them (see .env.example), or BAMBOO_ENV=local for a "
                "local run"
            )
        problems = [*self._range_problems(), *self._partial_systems()]
        if problems:
            raise ValueError("; ".join(problems))
        return self

    def _range_problems(self) -> list[str]:
        problems = []
        if self.environment not in ("local", "production"):
            problems.append(f"BAMBOO_ENV must be local or production, got {self.environment!r}")
        if not 0 <= self.volume_low_ratio < self.volume_high_ratio:
            problems.append(
                "BAMBOO_VOLUME_LOW_RATIO must be at least 0 and below BAMBOO_VOLUME_HIGH_RATIO, "
                f"got {self.volume_low_ratio:g} and {self.volume_high_ratio:g}"
            )
        if not 1 <= self.volume_min_weeks <= VolumeRule.weeks:
            problems.append(
                f"BAMBOO_VOLUME_MIN_WEEKS must be 1 to {VolumeRule.weeks}, "
                f"got {self.volume_min_weeks}"
            )
        if self.raw_retention_days is not None and self.raw_retention_days < 1:
            problems.append(
                f"BAMBOO_RAW_RETENTION_DAYS must be at least 1 (days), got "
                f"{self.raw_retention_days}; leave it unset to keep raw answers"
            )
        if self.smtp_security not in (None, "ssl", "starttls", "none"):
            problems.append(
                f"SMTP_SECURITY must be ssl, starttls or none, got {self.smtp_security!r}"
            )
        return problems

    def _partial_systems(self) -> list[str]:
        problems = []
        if self.api_client and not self.api_key_variable:
            problems.append("ITRESUME_CLIENT is set but ITRESUME_CLIENT_KEY is missing")
        if self.api_key_variable and not self.api_client:
            problems.append(
                f"{self.api_key_variable} is set but ITRESUME_CLIENT (the client name) is missing"
            )
        sheet, credentials = self.sheets_spreadsheet_id, self.sheets_credentials_file
        if credentials and not sheet:
            problems.append(
                "GOOGLE_SERVICE_ACCOUNT_FILE is set but DASHBOARD_SPREADSHEET_ID is missing"
            )
        elif sheet and not credentials:
            problems.append(
                "DASHBOARD_SPREADSHEET_ID is set but GOOGLE_SERVICE_ACCOUNT_FILE is missing"
            )
        elif credentials and not os.access(credentials, os.R_OK):
            problems.append(f"GOOGLE_SERVICE_ACCOUNT_FILE {credentials!r} cannot be read")
        if self.smtp_host:
            missing = [
                name
                for name, value in (
                    ("DIGEST_SENDER", self.digest_sender),
                    ("DIGEST_RECIPIENTS", self.digest_recipients),
                )
                if not value
            ]
            if missing:
                problems.append(f"SMTP_HOST is set but {' and '.join(missing)} missing")
            if bool(self.smtp_user) != bool(self.smtp_password_variable):
                problems.append("SMTP_USER and SMTP_PASSWORD must be set together (or neither)")
        return problems

    def local_stand_ins(self) -> list[str]:
        """The variables production needs that are unset: each would mean a local stand-in."""
        needed = {
            "ITRESUME_CLIENT": self.api_client,
            "ITRESUME_CLIENT_KEY": self.api_key_variable,
            "BAMBOO_DB_DSN": self.dsn_variable,
            "GOOGLE_SERVICE_ACCOUNT_FILE": self.sheets_credentials_file,
            "DASHBOARD_SPREADSHEET_ID": self.sheets_spreadsheet_id,
            "SMTP_HOST": self.smtp_host,
            "DIGEST_SENDER": self.digest_sender,
            "DIGEST_RECIPIENTS": self.digest_recipients,
        }
        return [name for name, value in needed.items() if not value]

    @property
    def tz(self) -> ZoneInfo:
        """Where day partitions lie and offsets in `created_at` are converted to."""
        return ZoneInfo(self.timezone)

    @property
    def first_day(self) -> date:
        return date.fromisoformat(self.start_date)

    @property
    def volume(self) -> VolumeRule:
        """The band of the record-volume check (BAMBOO_VOLUME_*)."""
        return VolumeRule(self.volume_low_ratio, self.volume_high_ratio, self.volume_min_weeks)

    @property
    def home_path(self) -> Path:
        return Path(self.home)

    def run_url(self, run_id: str) -> str:
        """The run's page in the Dagster UI (DAGSTER_WEBSERVER_URL)."""
        return f"{self.webserver_url.rstrip('/')}/runs/{run_id}"


# field → (its variables, whether it is a secret), from the declarations above.
_VARIABLES: dict[str, tuple[list[str], bool]] = {
    name: (field.json_schema_extra["env"], field.json_schema_extra["secret"])  # type: ignore[index]
    for name, field in Settings.model_fields.items()
}


def variable_names() -> list[str]:
    """Every environment variable Bamboo reads, in declaration order."""
    return [name for names, _ in _VARIABLES.values() for name in names]


def _explain(error: ValidationError, values: Mapping[str, str]) -> str:
    """pydantic's findings in the environment's words: each with the variable it is about."""
    lines = []
    for problem in error.errors():
        field = str(problem["loc"][0]) if problem["loc"] else ""
        message = problem["msg"].removeprefix("Value error, ")
        if field in _VARIABLES:
            names = _VARIABLES[field][0]
            given = values.get(field)
            if problem["type"].endswith("_parsing"):
                message = f"must be a number, got {given!r}"
            lines.append(f"{names[0]} {message}")
        else:
            lines.append(message)
    return "; ".join(lines)
