"""Validation at the door: regions this deployment serves, allow-listed targets, bodies of any
shape, and fields the runtime does not run yet. Every rejection is a 4xx naming the field, and
nothing is stored."""

from __future__ import annotations

import base64
import copy
import json
from pathlib import Path

import boto3
import pytest
from tests.runtime.conftest import HOME, OTHER, AwsEnv
from tests.runtime.events import Context, http, submission, submit

from carbon_aware.runtime.handlers import api

SAMPLES = Path(__file__).resolve().parents[3] / "shared" / "data" / "aws_events"
IAM_REQUEST = SAMPLES / "apigw_http_v2_iam_authorizer_powertools_ts.json"


def stored() -> int:
    table = boto3.resource("dynamodb", region_name=HOME).Table("workloads")
    return len(table.scan()["Items"])  # tests may scan; handlers never do


def rejected(status: int, body: dict, field: str) -> None:
    assert status == 400, body
    assert body["errors"][0]["field"] == field and body["errors"][0]["message"], body
    assert stored() == 0


@pytest.mark.parametrize(
    ("change", "field", "words"),
    [
        ({"regions": [HOME, "eu-wset-9"]}, "regions[1]", "not a region this deployment serves"),
        ({"regions": [HOME, "Infinity"]}, "regions[1]", "not a region this deployment serves"),
        ({"regions": [HOME, "us-east-1"]}, "regions[1]", "not a region this deployment serves"),
        ({"home_region": "ap-south-1", "regions": [HOME]}, "home_region", "serves"),
    ],
)
def test_regions_must_be_served_by_this_deployment(
    aws: AwsEnv, change: dict, field: str, words: str
) -> None:
    status, body = submit(submission(aws.targets[HOME]["lambda"], **change))
    rejected(status, body, field)
    assert words in body["errors"][0]["message"]


def test_regions_must_be_known_to_the_catalog(aws: AwsEnv, monkeypatch: pytest.MonkeyPatch) -> None:
    # A deployment may list a region the catalog does not know (a typo in `regions`).
    monkeypatch.setenv("CARBON_AWARE_REGIONS", f"{HOME},{OTHER},eu-wset-9")
    from carbon_aware.runtime import wiring

    wiring.reset()
    status, body = submit(submission(aws.targets[HOME]["lambda"], regions=[HOME, "eu-wset-9"]))
    rejected(status, body, "regions[1]")
    assert "region catalog" in body["errors"][0]["message"]


def test_target_must_be_allowed_in_every_region_the_placement_may_choose(aws: AwsEnv) -> None:
    # The ECS task definition exists in both regions, but the allow-list names only HOME's.
    target = copy.deepcopy(aws.targets[HOME]["ecs"])
    target["arn"] = target["arn"].replace(HOME, "{region}")
    target["cluster"] = target["cluster"].replace(HOME, "{region}")
    allowed = submission(target)
    status, body = submit(allowed)
    assert status == 201, body  # both regions' resources are in the fixture's allow-list
    outside = copy.deepcopy(target)
    outside["cluster"] = "arn:aws:ecs:{region}:123456789012:cluster/elsewhere"
    status, body = submit(submission(outside))
    assert status == 400 and body["errors"][0]["field"] == "target.cluster", body
    assert "allow-list" in body["errors"][0]["message"] and HOME in body["errors"][0]["message"]


def test_per_region_targets_are_checked_each(aws: AwsEnv) -> None:
    foreign = {**aws.targets[OTHER]["lambda"], "arn": "arn:aws:lambda:eu-north-1:1:function:x"}
    body = submission(None, targets={HOME: aws.targets[HOME]["lambda"], OTHER: foreign})
    del body["target"]
    status, answer = submit(body)
    rejected(status, answer, f"targets.{OTHER}.arn")


def test_time_shift_needs_the_target_only_in_its_home_region(aws: AwsEnv) -> None:
    body = submission(None, strategy="time_shift", targets={HOME: aws.targets[HOME]["lambda"]})
    del body["target"]
    body["regions"] = [HOME]
    status, answer = submit(body)
    assert status == 201, answer


@pytest.mark.parametrize(
    ("change", "field", "words"),
    [
        ({"interruptible": True}, "target.type", "ecs or batch"),
        ({"min_segment_minutes": 30}, "min_segment_minutes", "interruptible runs only"),
        ({"checkpoint_gb": 2}, "checkpoint_gb", "interruptible runs only"),
    ],
)
def test_interruptible_fields_need_a_stoppable_interruptible_run(
    aws: AwsEnv, change: dict, field: str, words: str
) -> None:
    status, body = submit(submission(aws.targets[HOME]["lambda"], **change))
    rejected(status, body, field)
    assert words in body["errors"][0]["message"]


def test_max_cost_without_prices_is_rejected(aws: AwsEnv) -> None:
    options = {"strategy": "balanced", "strategy_options": {"max_cost": 1.0}}
    status, body = submit(submission(aws.targets[HOME]["lambda"], **options))
    rejected(status, body, "strategy_options.max_cost")


def nested(depth: int) -> str:
    return '{"a":' * depth + "1" + "}" * depth


@pytest.mark.parametrize(
    ("raw", "status", "field"),
    [
        (nested(9_000), 400, "body"),  # a RecursionError out of json.loads before
        ("[" * 20_000 + "]" * 20_000, 400, "body"),
        ('{"duration_minutes": 1e400}', 400, "duration_minutes"),  # parses as inf
        ('{"duration_minutes": ' + "9" * 5000 + "}", 400, "body"),
        ("\ud800", 400, "body"),  # a lone surrogate: not encodable UTF-8
        ("x" * (2 * 1024 * 1024), 413, "body"),
        ("null", 400, "body"),
        ("[]", 400, "body"),
    ],
)
def test_any_body_gets_a_4xx(aws: AwsEnv, raw: str, status: int, field: str) -> None:
    response = api.handler(http("POST", "/workloads", raw_body=raw), Context())
    assert response["statusCode"] == status, response
    assert json.loads(response["body"])["errors"][0]["field"] == field
    assert stored() == 0


def test_deep_nesting_inside_a_valid_submission_is_400(aws: AwsEnv) -> None:
    target = {**aws.targets[HOME]["lambda"], "payload": json.loads(nested(40))}
    status, body = submit(submission(target))
    rejected(status, body, "target.payload" + ".a" * 11)


def iam_request(body: bytes, *, encoded: bool) -> dict:
    """The real HTTP API IAM-auth request sample, re-pointed at POST /workloads with ``body``."""
    if not IAM_REQUEST.exists():
        pytest.skip(f"{IAM_REQUEST} is absent: the real API Gateway event samples are needed")
    event = json.loads(IAM_REQUEST.read_text(encoding="utf-8"))
    event["routeKey"] = "POST /workloads"
    event["rawPath"] = event["requestContext"]["http"]["path"] = "/workloads"
    event["requestContext"]["routeKey"] = "POST /workloads"
    event["headers"]["content-length"] = str(len(body))
    event["isBase64Encoded"] = encoded
    event["body"] = base64.b64encode(body).decode() if encoded else body.decode("latin-1")
    return event


def test_base64_bodies_are_decoded_as_api_gateway_sends_them(aws: AwsEnv) -> None:
    body = json.dumps(submission(aws.targets[HOME]["lambda"], id="encoded")).encode()
    response = api.handler(iam_request(body, encoded=True), Context())
    assert response["statusCode"] == 201, response
    assert json.loads(response["body"])["id"] == "encoded"


@pytest.mark.parametrize(
    ("body", "encoded"),
    [(b"\xff\xfe{}", True), (b"not base64!", False), (b"{\x80}", True)],
)
def test_non_utf8_and_bad_base64_bodies_are_400(aws: AwsEnv, body: bytes, encoded: bool) -> None:
    event = iam_request(body, encoded=encoded)
    if body == b"not base64!":
        event["isBase64Encoded"] = True  # says base64, is not
    response = api.handler(event, Context())
    assert response["statusCode"] == 400, response
    assert json.loads(response["body"])["errors"][0]["field"] == "body"
    assert stored() == 0
