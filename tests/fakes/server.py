"""A tiny threaded HTTP server on 127.0.0.1 that routes to an app object and records requests.

Failure injection: ``server.script(prefix, *replies)`` queues replies that requests whose path
starts with ``prefix`` get before the app answers again (statuses, ``Retry-After``, malformed
bodies, delays longer than the client's timeout).
"""

from __future__ import annotations

import json
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self
from urllib.parse import parse_qsl, urlsplit


@dataclass
class Reply:
    """What the server sends: JSON (``body``) or raw text (``raw``)."""

    status: int = 200
    body: Any = None
    raw: str | None = None
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0


@dataclass(frozen=True)
class Request:
    """A request as the server saw it; ``at`` is the fake clock's time when it arrived."""

    path: str
    query: dict[str, str]
    headers: dict[str, str]
    at: float


App = Callable[[Request], Reply]


class LoopbackServer:
    """A threaded HTTP server on an ephemeral 127.0.0.1 port serving ``_handler()``; use as a
    context manager."""

    def __init__(self) -> None:
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )

    @property
    def url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}"

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        raise NotImplementedError


class FakeServer(LoopbackServer):
    """Serves ``app`` on an ephemeral loopback port; use as a context manager."""

    def __init__(self, app: App, now: Callable[[], float] = time.time) -> None:
        self.app = app
        self.now = now
        self.requests: list[Request] = []
        self._scripts: list[tuple[str, deque[Reply]]] = []
        self._lock = threading.Lock()
        super().__init__()

    def script(self, prefix: str, *replies: Reply) -> None:
        with self._lock:
            self._scripts.append((prefix, deque(replies)))

    def paths(self, prefix: str = "") -> list[str]:
        return [r.path for r in self.requests if r.path.startswith(prefix)]

    def _next(self, request: Request) -> Reply:
        with self._lock:
            self.requests.append(request)
            for prefix, queue in self._scripts:
                if request.path.startswith(prefix) and queue:
                    return queue.popleft()
        return self.app(request)

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, as real APIs do
            disable_nagle_algorithm = True  # headers and body go out in two writes

            def do_GET(self) -> None:
                parts = urlsplit(self.path)
                request = Request(
                    parts.path,
                    dict(parse_qsl(parts.query)),
                    {k.lower(): v for k, v in self.headers.items()},
                    server.now(),
                )
                reply = server._next(request)
                if reply.delay:
                    time.sleep(reply.delay)
                text = reply.raw if reply.raw is not None else json.dumps(reply.body)
                data = text.encode()
                try:
                    self.send_response(reply.status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    for key, value in reply.headers.items():
                        self.send_header(key, value)
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass

            def log_message(self, *args: object) -> None:
                pass

        return Handler
