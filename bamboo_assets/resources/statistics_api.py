"""The ITResume statistics API, and a simulated one for running without credentials.

Both write a day's answer, byte for byte, to a file the raw-answer store hands them;
everything downstream reads that file, so simulated and real answers take the same parsing
path.
"""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from urllib.parse import urlsplit

import dagster as dg
import requests
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

from bamboo_assets import simulator

DEFAULT_URL = "https://b2b.itresume.ru/api/statistics"
_CHUNK = 1 << 20


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


class _ReportingRetry(Retry):
    """urllib3's retry policy, telling the run log about every retry it makes."""

    def __init__(self, *args, report: Callable[[str], None] | None = None, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.report = report

    def new(self, **kwargs) -> _ReportingRetry:
        retry = super().new(**kwargs)
        retry.report = self.report
        return retry

    def increment(self, method=None, url=None, response=None, error=None, **kwargs) -> Retry:
        retry = super().increment(method, url, response, error, **kwargs)
        if self.report:
            cause = f"HTTP {response.status}" if response is not None else type(error).__name__
            wait = retry.get_backoff_time()
            self.report(
                f"statistics API: {cause}; retrying (attempt {len(retry.history) + 1}, "
                f"backoff {wait:.1f}s or Retry-After)"
            )
        return retry


class ItresumeStatisticsApi(StatisticsApi):
    """The real API: one GET per day with `client`, `client_key`, `start`, `end`.

    Transient failures (connection errors, timeouts, 429 and 5xx) are retried by urllib3
    with exponential backoff, honouring `Retry-After`. A refused key (401/403) fails at once.
    Defaults keep a hanging API under five minutes: 3 tries x 75 s read timeout + backoff.
    """

    url: str = DEFAULT_URL
    client: str
    client_key: str
    connect_timeout_seconds: float = 10.0
    read_timeout_seconds: float = 75.0
    retries: int = 2
    backoff_seconds: float = 2.0

    def describe(self) -> str:
        parts = urlsplit(self.url)
        return f"statistics API {parts.scheme}://{parts.netloc}{parts.path} (client {self.client})"

    def _session(self, log: Callable[[str], None]) -> requests.Session:
        retry = _ReportingRetry(
            total=self.retries,
            connect=self.retries,
            read=self.retries,
            status=self.retries,
            backoff_factor=self.backoff_seconds,
            backoff_max=60,
            status_forcelist=(429, 500, 502, 503, 504),
            respect_retry_after_header=True,
            raise_on_status=False,
            report=log,
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
                size = _write(destination, response.iter_content(_CHUNK))
        except requests.Timeout:
            raise StatisticsApiError(
                f"{self.describe()} did not answer for {day} within "
                f"{self.read_timeout_seconds:.0f}s ({len(retries) + 1} tries)"
            ) from None
        except requests.RequestException as error:
            raise StatisticsApiError(
                f"{self.describe()} failed for {day}: {type(error).__name__} "
                f"({len(retries) + 1} tries)"
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


class SimulatedStatisticsApi(StatisticsApi):
    """The deterministic simulated API (bamboo_assets.simulator): same bytes for the same day."""

    records_per_day: int = 8500
    seed: int = 0

    def describe(self) -> str:
        return f"simulated statistics API (~{self.records_per_day} records/day, seed {self.seed})"

    def download(self, day: date, destination: Path, log: Callable[[str], None]) -> Download:
        began = time.monotonic()
        records = simulator.records_for(day, self.records_per_day, self.seed)
        size = _write(destination, simulator.simulated_answer(day, records, self.seed))
        return Download(day, destination, size, time.monotonic() - began, 1)


def _write(destination: Path, chunks: Iterable[bytes]) -> int:
    size = 0
    with destination.open("wb") as out:
        for chunk in chunks:
            out.write(chunk)
            size += len(chunk)
    return size
