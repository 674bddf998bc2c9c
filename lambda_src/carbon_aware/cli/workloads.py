"""``carbon-aware workloads``: submit, get, list and cancel workloads through the deployed API.

Every request is signed with SigV4 (botocore, credentials from the default chain: environment,
profile, SSO, instance role...). The service is ``execute-api`` for an API Gateway URL and
``lambda`` for a Lambda function URL, detected from the host with the Region; ``--service`` and
``--region`` set them for any other host (a custom domain). The API's JSON answer goes to stdout.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

from carbon_aware.cli.inputs import InputError

EXIT_HTTP_ERROR = 3
EXIT_UNREACHABLE = 4
TIMEOUT_SECONDS = (5.0, 30.0)  # connect, read
STATUSES = ("PENDING", "SCHEDULED", "DISPATCHING", "RUNNING")
_HOSTS = {
    "execute-api": re.compile(r"\.execute-api\.([a-z0-9-]+)\.amazonaws\.com(?:\.cn)?$"),
    "lambda": re.compile(r"\.lambda-url\.([a-z0-9-]+)\.on\.aws$"),
}


def add_parser(sub: Any) -> None:
    """Register ``workloads submit|get|list|cancel``."""
    workloads = sub.add_parser(
        "workloads",
        help="submit, get, list and cancel workloads through the deployed API (SigV4)",
        description=f"Exit codes: 0 ok, 2 bad input, {EXIT_HTTP_ERROR} the API answered with an "
        f"error (its errors on stderr), {EXIT_UNREACHABLE} the API could not be reached.",
    )
    commands = workloads.add_subparsers(dest="workloads_command", required=True, metavar="COMMAND")

    submit = commands.add_parser("submit", help="submit a workload (POST /workloads)")
    submit.add_argument(
        "--file", required=True, help="submission JSON file, or - for stdin (README: API)"
    )
    submit.add_argument(
        "--idempotency-key", help="a retried submit with the same key returns the first answer"
    )
    _common(submit)
    submit.set_defaults(handler=_submit)

    for name, text, handler in (
        ("get", "one workload with its decision and result", _get),
        ("cancel", "cancel a workload that has not finished", _cancel),
    ):
        one = commands.add_parser(name, help=text)
        one.add_argument("id", help="workload id")
        _common(one)
        one.set_defaults(handler=handler)

    listing = commands.add_parser("list", help="live workloads in one state")
    listing.add_argument("--status", choices=STATUSES, default="PENDING", help="(default PENDING)")
    _common(listing)
    listing.set_defaults(handler=_list)


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--api", required=True, help="base URL of the API (Terraform output api_endpoint)"
    )
    parser.add_argument(
        "--service",
        choices=tuple(_HOSTS),
        help="SigV4 service (default: from the host; execute-api or lambda)",
    )
    parser.add_argument("--region", help="SigV4 Region (default: from the host)")


@dataclass(frozen=True)
class Endpoint:
    """Where requests go and how they are signed."""

    base_url: str
    service: str
    region: str

    @classmethod
    def of(cls, url: str, service: str | None, region: str | None) -> Endpoint:
        """The endpoint of ``url``; InputError naming the option that cannot be worked out."""
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise InputError(f"--api: not an http(s) URL: {url!r}")
        for name, pattern in _HOSTS.items():
            match = pattern.search(parts.hostname)
            if match:
                service = service or name
                region = region or match.group(1)
        if not service:
            raise InputError("--service: cannot tell from the host; give execute-api or lambda")
        if not region:
            raise InputError("--region: cannot tell from the host; give the API's Region")
        return cls(url.rstrip("/"), service, region)


def signed_request(
    endpoint: Endpoint, method: str, path: str, body: bytes | None = None, **headers: str
) -> Any:
    """Send one SigV4-signed request; the ``requests`` response."""
    import botocore.session
    import requests
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest

    credentials = botocore.session.Session().get_credentials()
    if credentials is None:
        raise InputError("no AWS credentials found (environment, profile or role)")
    request = AWSRequest(
        method=method,
        url=endpoint.base_url + path,
        data=body,
        headers={"content-type": "application/json", **headers} if body else headers,
    )
    SigV4Auth(credentials, endpoint.service, endpoint.region).add_auth(request)
    prepared = request.prepare()
    return requests.request(
        method,
        prepared.url,
        headers=dict(prepared.headers),
        data=body,
        timeout=TIMEOUT_SECONDS,
    )


def _call(args: argparse.Namespace, method: str, path: str, body: bytes | None = None) -> int:
    import requests

    endpoint = Endpoint.of(args.api, args.service, args.region)
    key = getattr(args, "idempotency_key", None)
    extra = {"Idempotency-Key": key} if key else {}
    try:
        response = signed_request(endpoint, method, path, body, **extra)
    except requests.RequestException as exc:
        print(f"carbon-aware: error: {method} {endpoint.base_url}{path}: {exc}", file=sys.stderr)
        return EXIT_UNREACHABLE
    try:
        answer = response.json()
    except ValueError:
        answer = {"errors": [{"field": "response", "message": response.text[:500]}]}
    if response.ok:
        print(json.dumps(answer, indent=2))
        return 0
    errors = answer.get("errors") if isinstance(answer, dict) else None
    for error in errors or [{"field": "response", "message": answer}]:
        print(
            f"carbon-aware: error: HTTP {response.status_code}: "
            f"{error.get('field')}: {error.get('message')}",
            file=sys.stderr,
        )
    return EXIT_HTTP_ERROR


def _submission(source: str) -> bytes:
    try:
        text = sys.stdin.read() if source == "-" else Path(source).read_text(encoding="utf-8")
    except OSError as exc:
        raise InputError(f"{source}: cannot read: {exc.strerror}") from None
    try:
        body = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(f"{source}: line {exc.lineno}: invalid JSON: {exc.msg}") from None
    if not isinstance(body, dict):
        raise InputError(f"{source}: must hold one JSON object (a submission)")
    return json.dumps(body).encode()


def _submit(args: argparse.Namespace) -> int:
    return _call(args, "POST", "/workloads", _submission(args.file))


def _get(args: argparse.Namespace) -> int:
    return _call(args, "GET", f"/workloads/{_id(args.id)}")


def _list(args: argparse.Namespace) -> int:
    return _call(args, "GET", f"/workloads?{urlencode({'status': args.status})}")


def _cancel(args: argparse.Namespace) -> int:
    return _call(args, "DELETE", f"/workloads/{_id(args.id)}")


def _id(workload_id: str) -> str:
    if not re.fullmatch(r"[A-Za-z0-9_-]{1,64}", workload_id):
        raise InputError(f"id: {workload_id!r} is not a workload id (letters, digits, _ and -)")
    return workload_id
