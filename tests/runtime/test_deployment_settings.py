"""Module inputs that reach the runtime through the environment: how long finished workloads stay
(workload_ttl_days) and the customer managed key of the one-time schedules (kms_key_arn)."""

from __future__ import annotations

import boto3
import pytest
from tests.runtime.conftest import HOME, AwsEnv
from tests.runtime.events import Context, http, submission, submit

from carbon_aware.runtime import config
from carbon_aware.runtime.handlers import api, scheduler

DAY = 86400
KEY = "arn:aws:kms:eu-west-1:123456789012:key/0a1b2c3d-0000-4000-8000-000000000000"


def scheduled(aws: AwsEnv) -> str:
    """Submit and plan a workload; its id."""
    status, body = submit(submission(aws.targets[HOME]["lambda"]))
    assert status == 201, body
    assert scheduler.handler({"workload_id": body["id"]}, Context())["status"] == "SCHEDULED"
    return body["id"]


def stored(workload_id: str) -> dict:
    table = boto3.resource("dynamodb", region_name=HOME).Table("workloads")
    return table.get_item(Key={"workload_id": workload_id})["Item"]


def test_a_finished_workload_expires_after_the_configured_days(
    aws: AwsEnv, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(config.WORKLOAD_TTL_DAYS, "7")
    workload_id = scheduled(aws)
    assert "expires_at" not in stored(workload_id), "live work does not expire"
    assert api.handler(http("DELETE", f"/workloads/{workload_id}"), Context())["statusCode"] == 200
    item = stored(workload_id)
    assert item["status"] == "CANCELLED"
    assert int(item["expires_at"]) - float(item["updated_at"]) == pytest.approx(7 * DAY, abs=1)


def test_a_bad_workload_ttl_is_an_error_naming_the_variable() -> None:
    env = {config.WORKLOADS_TABLE: "workloads", config.REGIONS: HOME}
    with pytest.raises(config.ConfigError, match=config.WORKLOAD_TTL_DAYS):
        config.WorkloadSettings.from_env({**env, config.WORKLOAD_TTL_DAYS: "a week"})


def test_schedules_are_created_with_the_configured_key(
    aws: AwsEnv, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(config.SCHEDULE_KMS_KEY_ARN, KEY)
    workload_id = scheduled(aws)
    name = stored(workload_id)["decision"]["schedule"]
    schedule = boto3.client("scheduler", region_name=HOME).get_schedule(
        Name=name, GroupName="carbon-aware"
    )
    assert schedule["KmsKeyArn"] == KEY


def test_schedules_use_the_aws_owned_key_by_default(aws: AwsEnv) -> None:
    workload_id = scheduled(aws)
    name = stored(workload_id)["decision"]["schedule"]
    schedule = boto3.client("scheduler", region_name=HOME).get_schedule(
        Name=name, GroupName="carbon-aware"
    )
    assert not schedule.get("KmsKeyArn")
