"""The ITResume statistics API, and a simulated one for running without credentials.

Both write a day's answer, byte for byte, to a file the raw-answer store hands them;
everything downstream reads that file, so simulated and real answers take the same parsing
path.
"""

from __future__ import annotations

import logging
import re
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from urllib.parse import urlsplit

import dagster as dg
import requests
import urllib3.exceptions
from requests.adapters import HTTPAdapter

from bamboo_assets.core import simulator
from bamboo_assets.resources.raw_answers import write_answer
from bamboo_assets.resources.retry import ReportingRetry

DEFAULT_URL = "https://b2b.itresume.ru/api/statistics"
_CHUNK = 1 << 20
_SECRET_PARAMETER = re.compile(r"(client_key=)[^&\s'\"]*")


class _RedactClientKey(logging.Filter):
    """urllib3 logs URLs (every retry, at DEBUG every request), query string (the key) included.

    Its logger is silent unless someone routes it somewhere (Dagster's
    `managed_python_loggers`, a root handler): then the key must not be in the record.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        text = record.getMessage()
        if "client_key=" in text:
            record.msg, record.args = _SECRET_PARAMETER.sub(r"\1<redacted>", text), None
        return True


# Filters do not apply to records passed up from child loggers: each urllib3 module that
# logs a URL gets its own.
for _module in ("", ".connectionpool", ".poolmanager", ".connection", ".response", ".util.retry"):
    logging.getLogger(f"urllib3{_module}").addFilter(_RedactClientKey())


@dataclass(frozen=True)
class Download:
    """One day's answer, stored."""

    day: date
    path: Path
    bytes: int
    seconds: float
    attempts: int


class StatisticsApiError(RuntimeError):
    """The API did not give a usable answer; the message never contains the client key."""


def day_window(day: date) -> tuple[str, str]:
    """The notebook's `start`/`end` strings for one whole day."""
    return f"{day} 00:00:00.000000", f"{day} 23:59:59.999999"


class StatisticsApi(dg.ConfigurableResource, ABC):
    """Where a day's attempts come from."""

    parallel_requests: int = 4

    @abstractmethod
    def download(self, day: date, destination: Path, log: Callable[[str], None]) -> Download:
        """Store the answer for `day` at `destination`; raise StatisticsApiError otherwise."""

    @abstractmethod
    def describe(self) -> str:
        """What answers, without secrets."""


class ItresumeStatisticsApi(StatisticsApi):
    """The real API: one GET per day with `client`, `client_key`, `start`, `end`.

    Transient failures (connection errors, timeouts, 429 and 5xx) are retried by urllib3
    with exponential backoff, honouring `Retry-After` up to `retry_after_max_seconds`. A
    refused key (401/403) fails at once. Defaults keep a silent API under five minutes:
    3 tries x (10 s connect + 75 s read timeout) + at most 2 x 15 s between tries.
    """

    url: str = DEFAULT_URL
    client: str
    client_key: str
    connect_timeout_seconds: float = 10.0
    read_timeout_seconds: float = 75.0
    retries: int = 2
    backoff_seconds: float = 2.0
    backoff_max_seconds: float = 15.0
    retry_after_max_seconds: float = 15.0

    def describe(self) -> str:
        parts = urlsplit(self.url)
        where = parts.hostname or ""
        if parts.port:
            where += f":{parts.port}"
        return f"statistics API {parts.scheme}://{where}{parts.path} (client {self.client})"

    def _session(self, log: Callable[[str], None]) -> requests.Session:
        retry = ReportingRetry(
            total=self.retries,
            connect=self.retries,
            read=self.retries,
            status=self.retries,
            backoff_factor=self.backoff_seconds,
            backoff_max=self.backoff_max_seconds,
            status_forcelist=(429, 500, 502, 503, 504),
            respect_retry_after_header=True,
            raise_on_status=False,
            report=log,
            label="statistics API",
            retry_after_cap=self.retry_after_max_seconds,
        )
        session = requests.Session()
        session.mount("http://", HTTPAdapter(max_retries=retry))
        session.mount("https://", HTTPAdapter(max_retries=retry))
        return session

    def download(self, day: date, destination: Path, log: Callable[[str], None]) -> Download:
        start, end = day_window(day)
        params = {"client": self.client, "client_key": self.client_key, "start": start, "end": end}
        began = time.monotonic()
        retries: list[str] = []
        received: list[int] = []  # byte counts of the body as it arrives; empty before it

        def report(line: str) -> None:
            retries.append(line)
            log(line)

        # Exceptions from requests quote the URL, query string (the key) included: re-raise
        # in our own words, without the cause.
        try:
            with (
                self._session(report) as session,
                session.get(
                    self.url,
                    params=params,
                    timeout=(self.connect_timeout_seconds, self.read_timeout_seconds),
                    stream=True,
                ) as response,
            ):
                self._check_status(response.status_code, day, len(retries) + 1)
                announced = response.headers.get("Content-Length")
                received.append(0)
                size = _write(destination, response.iter_content(_CHUNK), received)
        except requests.RequestException as error:
            tries = len(retries) + 1
            if received:
                of = f" of {announced}" if announced else ""
                how = "stopped sending" if _timed_out(error) else "cut off"
                kept = f"; the bytes received are kept at {destination}" if received[0] else ""
                raise StatisticsApiError(
                    f"{self.describe()} {how} the answer for {day} after {received[0]:,}{of} "
                    f"bytes ({type(error).__name__}); nothing was loaded for {day}{kept}"
                ) from None
            if _timed_out(error):
                raise StatisticsApiError(
                    f"{self.describe()} did not answer for {day} within the "
                    f"{self.connect_timeout_seconds:g}s connect / {self.read_timeout_seconds:g}s "
                    f"read timeout ({tries} tries)"
                ) from None
            raise StatisticsApiError(
                f"{self.describe()} failed for {day}: {type(error).__name__} ({tries} tries)"
            ) from None
        return Download(day, destination, size, time.monotonic() - began, len(retries) + 1)

    def _check_status(self, status: int, day: date, tries: int) -> None:
        if status in (401, 403):
            raise StatisticsApiError(
                f"{self.describe()} refused the client key (HTTP {status}); "
                "check ITRESUME_CLIENT and ITRESUME_CLIENT_KEY"
            )
        if status != 200:
            raise StatisticsApiError(
                f"{self.describe()} answered HTTP {status} for {day} after {tries} tries"
            )


def _timed_out(error: BaseException) -> bool:
    """Whether a requests error was a timeout, also when urllib3's retries wrapped it."""
    if isinstance(error, requests.Timeout):
        return True
    cause = error.args[0] if error.args else None
    if isinstance(cause, urllib3.exceptions.MaxRetryError):
        cause = cause.reason
    return isinstance(cause, urllib3.exceptions.TimeoutError | TimeoutError)


class SimulatedStatisticsApi(StatisticsApi):
    """The deterministic simulated API (core/simulator.py): the same bytes for the same day."""

    records_per_day: int = 8500
    seed: int = 0

    def describe(self) -> str:
        return f"simulated statistics API (~{self.records_per_day} records/day, seed {self.seed})"

    def download(self, day: date, destination: Path, log: Callable[[str], None]) -> Download:
        began = time.monotonic()
        records = simulator.records_for(day, self.records_per_day, self.seed)
        size = _write(destination, simulator.simulated_answer(day, records, self.seed))
        return Download(day, destination, size, time.monotonic() - began, 1)


def _write(destination: Path, chunks: Iterable[bytes], progress: list[int] | None = None) -> int:
    """Write `chunks` to `destination` (compressed as they arrive); `progress[0]` follows the
    bytes written so far."""
    size = 0
    with write_answer(destination) as out:
        for chunk in chunks:
            out.write(chunk)
            size += len(chunk)
            if progress:
                progress[0] = size
    return size
