"""``carbon-aware workloads`` against the real api handler behind a SigV4-verifying HTTP server on
127.0.0.1 (moto in-process behind the handler): a client that stops signing, or signs for the
wrong service, Region or key, gets 403s and fails these tests."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from botocore.credentials import Credentials
from tests.runtime.conftest import HOME, AwsEnv
from tests.runtime.events import Context, http, submission

from carbon_aware.cli.main import main
from carbon_aware.cli.workloads import EXIT_HTTP_ERROR, Endpoint, signed_request
from carbon_aware.runtime.handlers import api
from fakes.signed_api import SignedApi

KEY, SECRET = "AKIDCARBONAWARETEST", "carbon-aware-test-secret"


def _serve_api(method: str, path: str, query: dict, headers: dict, body: str | None) -> tuple:
    """Relay one HTTP request to the api handler as an HTTP API payload v2 event."""
    event = http(method, path, headers=headers, query=query or None, raw_body=body)
    response = api.handler(event, Context())
    return response["statusCode"], response["body"]


@pytest.fixture
def deployed(aws: AwsEnv, monkeypatch: pytest.MonkeyPatch, loopback: None) -> Iterator[SignedApi]:
    """The API as deployed: IAM auth in front of the api function."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", KEY)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", SECRET)
    monkeypatch.delenv("AWS_SESSION_TOKEN", raising=False)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    with SignedApi(_serve_api, Credentials(KEY, SECRET), "execute-api", HOME) as server:
        yield server


def cli(server: SignedApi, *args: str) -> list[str]:
    return ["workloads", *args, "--api", server.url, "--service", "execute-api", "--region", HOME]


def run(capsys: pytest.CaptureFixture, argv: list[str]) -> tuple[int, dict | None, str]:
    """Exit code, JSON printed by the CLI, stderr (the in-process handler's EMF lines aside)."""
    code = main(argv)
    out, err = capsys.readouterr()
    printed = "".join(line for line in out.splitlines(True) if not line.startswith('{"_aws"'))
    return code, (json.loads(printed) if printed.strip() else None), err


def test_submit_get_list_cancel_signed(
    deployed: SignedApi, aws: AwsEnv, tmp_path: Path, capsys
) -> None:
    path = tmp_path / "workload.json"
    path.write_text(json.dumps(submission(aws.targets[HOME]["lambda"])))
    submit = cli(deployed, "submit", "--file", str(path), "--idempotency-key", "k1")

    code, stored, _ = run(capsys, submit)
    assert code == 0 and stored["status"] == "PENDING"
    code, again, _ = run(capsys, submit)
    assert code == 0 and again["id"] == stored["id"]  # the Idempotency-Key header reached it
    code, got, _ = run(capsys, cli(deployed, "get", stored["id"]))
    assert code == 0 and got["spec"] == stored["spec"]
    code, listed, _ = run(capsys, cli(deployed, "list", "--status", "PENDING"))
    assert code == 0 and stored["id"] in [w["id"] for w in listed["workloads"]]
    code, cancelled, _ = run(capsys, cli(deployed, "cancel", stored["id"]))
    assert code == 0 and cancelled["status"] == "CANCELLED"

    assert deployed.refused == []
    assert len(deployed.verified) == 5


def test_api_errors_exit_non_zero_with_the_fields(
    deployed: SignedApi, aws: AwsEnv, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    code, _, err = run(capsys, cli(deployed, "get", "no-such-workload"))
    assert code == EXIT_HTTP_ERROR
    assert "HTTP 404: id: no such workload" in err

    body = submission(aws.targets[HOME]["lambda"], duration_minutes=-5)
    monkeypatch.setattr("sys.stdin", io.StringIO(json.dumps(body)))
    code, out, err = run(capsys, cli(deployed, "submit", "--file", "-"))
    assert code == EXIT_HTTP_ERROR and out is None
    assert "HTTP 400: duration_minutes:" in err


def test_unsigned_and_wrongly_signed_requests_are_refused(
    deployed: SignedApi, monkeypatch, capsys
) -> None:
    assert requests.get(f"{deployed.url}/workloads", timeout=5).status_code == 403
    endpoint = Endpoint(deployed.url, "execute-api", HOME)
    assert signed_request(endpoint, "GET", "/workloads?status=PENDING").status_code == 200
    wrong_region = Endpoint(deployed.url, "execute-api", "us-east-1")
    assert signed_request(wrong_region, "GET", "/workloads").status_code == 403
    wrong_service = Endpoint(deployed.url, "lambda", HOME)
    assert signed_request(wrong_service, "GET", "/workloads").status_code == 403
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "not-the-secret")
    code, _, err = run(capsys, cli(deployed, "list"))
    assert code == EXIT_HTTP_ERROR and "HTTP 403" in err
    assert len(deployed.refused) == 4


def test_bad_input_exits_2_without_a_request(deployed: SignedApi, tmp_path: Path, capsys) -> None:
    missing = tmp_path / "missing.json"
    assert main(cli(deployed, "submit", "--file", str(missing))) == 2
    (tmp_path / "list.json").write_text("[]")
    assert main(cli(deployed, "submit", "--file", str(tmp_path / "list.json"))) == 2
    assert main(["workloads", "list", "--api", deployed.url]) == 2  # service not in the host
    assert main(cli(deployed, "get", "../etc")) == 2
    assert "--service" in capsys.readouterr().err
    assert deployed.verified == deployed.refused == []


@pytest.mark.parametrize(
    ("url", "service", "region"),
    [
        ("https://a1b2c3.execute-api.eu-north-1.amazonaws.com", "execute-api", "eu-north-1"),
        ("https://abc.lambda-url.us-west-2.on.aws/", "lambda", "us-west-2"),
    ],
)
def test_service_and_region_come_from_the_host(url: str, service: str, region: str) -> None:
    assert Endpoint.of(url, None, None) == Endpoint(url.rstrip("/"), service, region)
