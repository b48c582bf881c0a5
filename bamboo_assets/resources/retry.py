"""The retry policy both HTTP clients (statistics API, Google Sheets) share."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import urllib3.exceptions
from urllib3.response import BaseHTTPResponse
from urllib3.util.retry import Retry


class ReportingRetry(Retry):
    """urllib3's retry policy, telling the run log about every retry it makes.

    A `Retry-After` longer than `retry_after_cap` seconds is shortened to it, so a server
    cannot stall a run for hours (urllib3 alone honours up to six hours).
    """

    def __init__(
        self,
        *args: Any,
        report: Callable[[str], None] | None = None,
        label: str = "HTTP",
        retry_after_cap: float = 15.0,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.report = report
        self.label = label
        self.retry_after_cap = retry_after_cap

    def new(self, **kwargs: Any) -> ReportingRetry:
        retry = super().new(**kwargs)
        retry.report, retry.label = self.report, self.label
        retry.retry_after_cap = self.retry_after_cap
        return retry

    def parse_retry_after(self, retry_after: str) -> float:
        return min(super().parse_retry_after(retry_after), self.retry_after_cap)

    def get_retry_after(self, response: BaseHTTPResponse) -> float | None:
        try:
            return super().get_retry_after(response)
        except urllib3.exceptions.InvalidHeader:  # unreadable: fall back to the backoff
            return None

    def increment(self, method=None, url=None, response=None, error=None, **kwargs) -> Retry:
        retry = super().increment(method, url, response, error, **kwargs)
        if self.report:
            cause = f"HTTP {response.status}" if response is not None else type(error).__name__
            wait = retry.get_backoff_time()
            if response is not None:
                wait = retry.get_retry_after(response) or wait
            self.report(
                f"{self.label}: {cause}; retrying (attempt {len(retry.history) + 1} of "
                f"{len(retry.history) + 1 + (retry.total or 0)}, waiting {wait:.1f}s)"
            )
        return retry
