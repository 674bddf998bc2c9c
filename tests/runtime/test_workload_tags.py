"""Workload tags: stored with the spec for the carbon report, checked at the door."""

from __future__ import annotations

import boto3
import pytest
from tests.runtime.conftest import HOME, AwsEnv
from tests.runtime.events import submission, submit


def test_tags_are_stored_with_the_spec(aws: AwsEnv) -> None:
    tags = {"team": "ml-training", "cost-centre": "42"}
    status, body = submit(submission(aws.targets[HOME]["lambda"], tags=tags))
    assert status == 201, body
    table = boto3.resource("dynamodb", region_name=HOME).Table("workloads")
    item = table.get_item(Key={"workload_id": body["id"]})["Item"]
    assert item["spec"]["tags"] == tags


@pytest.mark.parametrize(
    ("tags", "field"),
    [
        ({"team": 7}, "tags.team"),
        ({"team": "x" * 257}, "tags.team"),
        ({f"k{i}": "v" for i in range(51)}, "tags"),
        ({"": "v"}, "tags"),
        (["team"], "tags"),
    ],
)
def test_bad_tags_are_rejected_naming_the_field(aws: AwsEnv, tags: object, field: str) -> None:
    status, body = submit(submission(aws.targets[HOME]["lambda"], tags=tags))
    assert status == 400, body
    assert body["errors"][0]["field"] == field, body
