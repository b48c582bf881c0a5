"""A fake ITResume statistics API on a real socket, with scripted faults.

Why a real server: the production client's timeouts, urllib3 retries, streaming and
Content-Length checks only get exercised against real HTTP, never against a mock.
"""

from __future__ import annotations

import json
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from urllib.parse import parse_qs, urlsplit

from bamboo_assets_tests.servers._http import HttpFake, TrackedServer

STATISTICS_PATH = "/api/statistics"
CHUNK_SIZE = 1 << 20  # bodies reach ~350 MB in benchmarks: never write them in one call


@dataclass(frozen=True)
class Reply:
    """Answer this status/body/headers instead of the normal answer (503, 200 with junk...)."""

    status: int
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Hang:
    """Read the request, send nothing for `seconds`, then answer normally (a stalled upstream)."""

    seconds: float


@dataclass(frozen=True)
class Truncated:
    """Announce the full Content-Length, send only the first `keep_bytes`, then hang up.

    If `keep_bytes` is not less than the body, the body arrives whole.
    """

    keep_bytes: int


Fault = Reply | Hang | Truncated


@dataclass(frozen=True)
class StreamedBody:
    """An answer too big to hold in memory; `chunks` must add up to `length` bytes.

    Fewer bytes than `length` reach the client as a truncated body; extra bytes are dropped.
    """

    length: int
    chunks: Iterable[bytes]


Answer = Callable[[dict[str, str]], bytes | StreamedBody]


class _Handler(BaseHTTPRequestHandler):
    """HTTP/1.1 with keep-alive, like the real API behind nginx; all logic lives in the owner."""

    disable_nagle_algorithm = True  # headers and body go in two sends: no 40 ms stall
    protocol_version = "HTTP/1.1"
    timeout = 60  # an idle or stuck client cannot hold a thread forever
    server: TrackedServer

    def do_GET(self) -> None:
        self.server.owner._serve(self)

    def log_message(self, format: str, *args: object) -> None:
        """Stay quiet: pytest output is for assertions, not access logs."""


class FakeStatisticsApi(HttpFake):
    """`GET /api/statistics?client=&client_key=&start=&end=` answering what `answer` returns.

    Faults queued with fail_next() are consumed one per request, in order, before the
    normal answer; a fault set with fail_day() answers every request for that day until
    cleared (a day that always fails, or always answers `[]`). The server stops itself after
    `max_lifetime_seconds` if never exited.
    """

    handler = _Handler

    def __init__(
        self,
        answer: Answer,
        client_key: str = "test-key",
        delay_seconds: float = 0.0,
        *,
        max_lifetime_seconds: float = 600.0,
    ) -> None:
        if delay_seconds < 0:
            raise ValueError("delay_seconds must be >= 0")
        self._answer = answer
        self._client_key = client_key
        self._delay_seconds = delay_seconds
        super().__init__(max_lifetime_seconds)
        self._lock = threading.Lock()
        self._faults: deque[Fault] = deque()
        self._day_faults: dict[str, Fault] = {}
        self._requests: list[dict[str, str]] = []
        self._request_times: list[float] = []
        self._stopping = threading.Event()

    def _interrupt(self) -> None:
        self._stopping.set()  # wakes Hang/delay waits and stops body streaming

    # -- public API --------------------------------------------------------------------------

    @property
    def url(self) -> str:
        """Full URL of the statistics endpoint, e.g. http://127.0.0.1:PORT/api/statistics."""
        host, port = self._started().server_address[:2]
        return f"http://{host}:{port}{STATISTICS_PATH}"

    @property
    def requests(self) -> list[dict[str, str]]:
        """Query parameters of every request received, in arrival order (copies)."""
        with self._lock:
            return [dict(params) for params in self._requests]

    @property
    def request_times(self) -> list[float]:
        """time.monotonic() at arrival of each request, to check how many ran in parallel."""
        with self._lock:
            return list(self._request_times)

    @property
    def pending_faults(self) -> int:
        """Faults queued but not consumed yet; lets a test assert all were exercised."""
        with self._lock:
            return len(self._faults)

    def fail_next(self, *faults: Fault) -> None:
        """Queue faults for the next requests, one per request, first in first out."""
        for fault in faults:
            if not isinstance(fault, Reply | Hang | Truncated):
                raise TypeError(f"not a fault: {fault!r}")
        with self._lock:
            self._faults.extend(faults)

    def fail_day(self, day: str, fault: Fault | None) -> None:
        """Answer every request whose `start` is on `day` (YYYY-MM-DD) with `fault`, after
        the queued faults; None clears it."""
        with self._lock:
            if fault is None:
                self._day_faults.pop(day, None)
            else:
                self._day_faults[day] = fault

    # -- serving -----------------------------------------------------------------------------

    def _serve(self, handler: _Handler) -> None:
        split = urlsplit(handler.path)
        if split.path != STATISTICS_PATH:
            self._send_json(handler, 404, {"errors": "not found"})
            return
        query = parse_qs(split.query, keep_blank_values=True)
        params = {name: values[0] for name, values in query.items()}
        with self._lock:
            self._requests.append(params)
            self._request_times.append(time.monotonic())
            fault = (
                self._faults.popleft()
                if self._faults
                else self._day_faults.get(params.get("start", "")[:10])
            )

        if isinstance(fault, Reply):
            self._send_reply(handler, fault)
            return
        if isinstance(fault, Hang) and self._stopping.wait(fault.seconds):
            handler.close_connection = True
            return
        if params.get("client_key") != self._client_key:
            self._send_json(handler, 401, {"errors": "invalid client_key"})
            return
        if self._delay_seconds and self._stopping.wait(self._delay_seconds):
            handler.close_connection = True
            return
        try:
            body = self._answer(params)
        except Exception as error:  # a broken answer callable must show up in the test
            self._send_json(handler, 500, {"errors": f"fake answer failed: {error!r}"})
            return
        keep = fault.keep_bytes if isinstance(fault, Truncated) else None
        self._send_body(handler, body, keep)

    def _send_json(self, handler: _Handler, status: int, payload: object) -> None:
        data = json.dumps(payload).encode()
        self._send_reply(handler, Reply(status, data, {"Content-Type": "application/json"}))

    def _send_reply(self, handler: _Handler, reply: Reply) -> None:
        headers = {name.lower(): (name, value) for name, value in reply.headers.items()}
        headers.setdefault("content-type", ("Content-Type", "application/json"))
        headers.setdefault("content-length", ("Content-Length", str(len(reply.body))))
        try:
            handler.send_response(reply.status)
            for name, value in headers.values():
                handler.send_header(name, value)
            handler.end_headers()
            handler.wfile.write(reply.body)
        except OSError:
            handler.close_connection = True

    def _send_body(self, handler: _Handler, body: bytes | StreamedBody, keep: int | None) -> None:
        if isinstance(body, StreamedBody):
            total, chunks = body.length, body.chunks
        else:
            total, chunks = len(body), (body,)
        budget = total if keep is None else max(0, min(keep, total))
        sent = 0
        try:
            handler.send_response(200)
            handler.send_header("Content-Type", "application/json")
            handler.send_header("Content-Length", str(total))
            handler.end_headers()
            for piece in _pieces(chunks):
                if sent >= budget or self._stopping.is_set():
                    break
                piece = piece[: budget - sent]
                handler.wfile.write(piece)
                sent += len(piece)
        except OSError:  # the client gave up (timeout, retry): nothing left to do
            handler.close_connection = True
            return
        if sent < total:
            # Closing after a short body is what makes the client see an incomplete read.
            handler.close_connection = True


def _pieces(chunks: Iterable[bytes]) -> Iterator[memoryview]:
    """Re-slice chunks to at most CHUNK_SIZE without copying, so stop() is noticed quickly."""
    for chunk in chunks:
        view = memoryview(chunk)
        for start in range(0, len(view), CHUNK_SIZE):
            yield view[start : start + CHUNK_SIZE]
