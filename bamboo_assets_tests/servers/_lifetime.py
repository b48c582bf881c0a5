"""What every test server shares: used in a `with` block, and never alive for longer than
`max_lifetime_seconds` (a forgotten server stops by itself)."""

from __future__ import annotations

import threading
from types import TracebackType


class BoundedLifetime:
    def __init__(self, max_lifetime_seconds: float) -> None:
        self._max_lifetime_seconds = max_lifetime_seconds
        self._lifecycle_lock = threading.Lock()
        self._watchdog: threading.Timer | None = None

    def _start_watchdog(self) -> None:
        self._watchdog = threading.Timer(self._max_lifetime_seconds, self.stop)
        self._watchdog.daemon = True
        self._watchdog.start()

    def _cancel_watchdog(self) -> None:
        if self._watchdog is not None:
            self._watchdog.cancel()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def stop(self) -> None:
        raise NotImplementedError
