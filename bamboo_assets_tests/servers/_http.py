"""What both HTTP fakes share: a threaded server on 127.0.0.1 that can really be stopped."""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Self

from bamboo_assets_tests.servers._lifetime import BoundedLifetime


class TrackedServer(ThreadingHTTPServer):
    """ThreadingHTTPServer that remembers its connections so stop() can cut them.

    Without this, a keep-alive connection from a pooled requests.Session would still be
    served by its handler thread after the server "stopped".
    """

    daemon_threads = True

    def __init__(self, owner: object, handler: type[BaseHTTPRequestHandler]) -> None:
        super().__init__(("127.0.0.1", 0), handler)
        self.owner = owner
        self._live_lock = threading.Lock()
        self._live: dict[socket.socket, threading.Thread] = {}

    def process_request(self, request: socket.socket, client_address: object) -> None:  # type: ignore[override]
        thread = threading.Thread(
            target=self.process_request_thread, args=(request, client_address), daemon=True
        )
        with self._live_lock:
            self._live[request] = thread
        thread.start()

    def shutdown_request(self, request: socket.socket) -> None:  # type: ignore[override]
        with self._live_lock:
            self._live.pop(request, None)
        super().shutdown_request(request)

    def cut_connections(self, deadline: float) -> None:
        """Shut every open connection down and wait (until `deadline`) for its thread."""
        with self._live_lock:
            live = list(self._live.items())
        for sock, _ in live:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
        for _, thread in live:
            thread.join(max(0.0, deadline - time.monotonic()))


class HttpFake(BoundedLifetime):
    """Serves `handler` in a background thread for the life of a `with` block."""

    handler: type[BaseHTTPRequestHandler]

    def __init__(self, max_lifetime_seconds: float) -> None:
        super().__init__(max_lifetime_seconds)
        self._server: TrackedServer | None = None
        self._thread: threading.Thread | None = None

    def __enter__(self) -> Self:
        with self._lifecycle_lock:
            if self._server is not None:
                raise RuntimeError(f"{type(self).__name__} can be started only once")
            self._server = TrackedServer(self, self.handler)
            self._thread = threading.Thread(
                target=self._server.serve_forever,
                kwargs={"poll_interval": 0.05},
                name=type(self).__name__,
                daemon=True,
            )
            self._thread.start()
            self._start_watchdog()
        return self

    def _interrupt(self) -> None:
        """Wake whatever a handler is waiting on; called first by stop()."""

    def stop(self) -> None:
        """Stop serving and cut open connections within ~1 s; safe to call twice."""
        with self._lifecycle_lock:
            server, thread, self._thread = self._server, self._thread, None
        if server is None or thread is None:
            return
        self._interrupt()
        self._cancel_watchdog()
        server.shutdown()
        server.server_close()
        server.cut_connections(time.monotonic() + 1.0)
        thread.join(1.0)

    def _started(self) -> TrackedServer:
        if self._server is None:
            raise RuntimeError(f"{type(self).__name__} is not started; use it in a `with` block")
        return self._server
