"""An HTTP API on 127.0.0.1 that, like API Gateway with IAM auth, serves only SigV4-signed requests.

Each request's signature is recomputed with botocore from the same credentials, service and
Region; an unsigned or wrongly signed request gets a 403 and never reaches the app. A signed one
goes to ``app(method, path, query, headers, body)``, which answers ``(status, body text)``.
"""

from __future__ import annotations

import hmac
import re
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler
from urllib.parse import parse_qsl, urlsplit

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from fakes.server import LoopbackServer

App = Callable[[str, str, dict[str, str], dict[str, str], str | None], tuple[int, str]]
_AUTHORIZATION = re.compile(
    r"AWS4-HMAC-SHA256 Credential=(?P<key>[^/]+)/(?P<date>\d{8})/(?P<region>[^/]+)/"
    r"(?P<service>[^/]+)/aws4_request, SignedHeaders=(?P<signed>[a-z0-9;-]+), "
    r"Signature=(?P<signature>[0-9a-f]{64})"
)


def signature_matches(
    method: str,
    url: str,
    headers: dict[str, str],
    body: bytes,
    credentials: Credentials,
    service: str,
    region: str,
) -> bool:
    """Whether the request's Authorization header is the SigV4 signature botocore computes."""
    match = _AUTHORIZATION.fullmatch(headers.get("authorization", ""))
    if not match or (match["key"], match["service"], match["region"]) != (
        credentials.access_key,
        service,
        region,
    ):
        return False
    signed = match["signed"].split(";")
    if "host" not in signed or "x-amz-date" not in signed or any(h not in headers for h in signed):
        return False
    request = AWSRequest(method=method, url=url, data=body, headers={h: headers[h] for h in signed})
    request.context["timestamp"] = headers["x-amz-date"]
    signer = SigV4Auth(credentials, service, region)
    expected = signer.signature(
        signer.string_to_sign(request, signer.canonical_request(request)), request
    )
    return hmac.compare_digest(expected, match["signature"])


class SignedApi(LoopbackServer):
    """Serves ``app`` behind SigV4 verification; use as a context manager."""

    def __init__(self, app: App, credentials: Credentials, service: str, region: str) -> None:
        self.app = app
        self.credentials = credentials
        self.service = service
        self.region = region
        self.verified: list[str] = []
        self.refused: list[str] = []
        super().__init__()

    def _answer(self, method: str, target: str, headers: dict[str, str], body: bytes) -> tuple:
        line = f"{method} {target}"
        if not signature_matches(
            method, self.url + target, headers, body, self.credentials, self.service, self.region
        ):
            self.refused.append(line)
            return 403, '{"message": "Forbidden"}'
        self.verified.append(line)
        parts = urlsplit(target)
        text = body.decode() if body else None
        return self.app(method, parts.path, dict(parse_qsl(parts.query)), headers, text)

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _serve(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                headers = {k.lower(): v for k, v in self.headers.items()}
                status, text = server._answer(self.command, self.path, headers, body)
                data = text.encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_DELETE = _serve

            def log_message(self, *args: object) -> None:
                pass

        return Handler
