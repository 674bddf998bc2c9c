"""A fake EC2 instance metadata service (IMDSv2) on 127.0.0.1.

As the real one: ``PUT /latest/api/token`` with ``X-aws-ec2-metadata-token-ttl-seconds`` returns
a session token (400 without the TTL header); a GET without a valid token is 401; documents not
set are 404. Bodies of ``spot/instance-action`` and ``events/recommendations/rebalance`` are the
documented shapes (``{"action": "terminate", "time": ...}``, ``{"noticeTime": ...}``).
"""

from __future__ import annotations

import json
import secrets
from http.server import BaseHTTPRequestHandler

from fakes.server import LoopbackServer


class FakeImds(LoopbackServer):
    """IMDSv2 with settable documents; records (method, path, token) of each request."""

    def __init__(self) -> None:
        self.documents: dict[str, dict] = {}
        self.tokens: set[str] = set()
        self.requests: list[tuple[str, str, str | None]] = []
        super().__init__()

    def revoke_tokens(self) -> None:
        """Tokens expire: the next GET with an old one is 401."""
        self.tokens.clear()

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        imds = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_PUT(self) -> None:
                imds.requests.append(("PUT", self.path, None))
                if self.path != "/latest/api/token":
                    return self._send(405, b"")
                if not self.headers.get("X-aws-ec2-metadata-token-ttl-seconds"):
                    return self._send(400, b"")
                token = secrets.token_hex(16)
                imds.tokens.add(token)
                self._send(200, token.encode())

            def do_GET(self) -> None:
                token = self.headers.get("X-aws-ec2-metadata-token")
                imds.requests.append(("GET", self.path, token))
                if token not in imds.tokens:
                    return self._send(401, b"")
                document = imds.documents.get(self.path)
                if document is None:
                    return self._send(404, b"")
                self._send(200, json.dumps(document).encode())

            def _send(self, status: int, body: bytes) -> None:
                self.send_response(status)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        return Handler
