"""The exporter on moto: real workloads driven through the handlers write the workloads table, its
DynamoDB stream (moto's GetRecords) gives the records, wrapped in the Lambda event shape (each
record with its ``eventSourceARN``); the exporter writes them to S3 as JSON lines."""

from __future__ import annotations

import json
import re
import time
from datetime import UTC, datetime
from typing import Any

import boto3
import pytest
from tests.runtime.conftest import HOME, AwsEnv
from tests.runtime.events import Context, http, submission, submit
from tests.runtime.test_least_privilege import uses_every_grant
from tests.runtime.test_result_accounting import run_to_completion

from carbon_aware.runtime import wiring
from carbon_aware.runtime.export_config import EXPORT_BUCKET, EXPORT_PREFIX
from carbon_aware.runtime.handlers import api, exporter

BUCKET = "carbon-export"
PREFIX = "audit/carbon"
KEY = re.compile(rf"^{PREFIX}/workloads/dt=(\d{{4}}-\d{{2}}-\d{{2}})/(\d+)-(\d+)\.jsonl$")
TTL_IDENTITY = {"type": "Service", "principalId": "dynamodb.amazonaws.com"}


@pytest.fixture
def stream(aws: AwsEnv, monkeypatch: pytest.MonkeyPatch) -> str:
    """The workloads table streaming both images (as the module sets it); the export bucket."""
    ddb = boto3.client("dynamodb", region_name=HOME)
    spec = {"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"}
    table = ddb.update_table(TableName="workloads", StreamSpecification=spec)
    location = {"LocationConstraint": HOME}
    boto3.client("s3", region_name=HOME).create_bucket(
        Bucket=BUCKET, CreateBucketConfiguration=location
    )
    monkeypatch.setenv(EXPORT_BUCKET, BUCKET)
    monkeypatch.setenv(EXPORT_PREFIX, PREFIX)
    wiring.reset()
    return table["TableDescription"]["LatestStreamArn"]


def stream_records(stream_arn: str) -> list[dict[str, Any]]:
    """Every record of the stream so far, as Lambda delivers them: ``eventSourceARN`` added and
    ``ApproximateCreationDateTime`` in epoch seconds."""
    # botocore sends ARN calls to the account endpoint (<account>.streams-ddb…), which moto lacks.
    endpoint = f"https://streams.dynamodb.{HOME}.amazonaws.com"
    streams = boto3.client("dynamodbstreams", region_name=HOME, endpoint_url=endpoint)
    records = []
    for shard in streams.describe_stream(StreamArn=stream_arn)["StreamDescription"]["Shards"]:
        iterator = streams.get_shard_iterator(
            StreamArn=stream_arn, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON"
        )["ShardIterator"]
        for record in streams.get_records(ShardIterator=iterator)["Records"]:
            change = record["dynamodb"]
            created = change["ApproximateCreationDateTime"]
            if isinstance(created, datetime):
                change["ApproximateCreationDateTime"] = created.timestamp()
            records.append({**record, "eventSourceARN": stream_arn})
    return records


def exported() -> dict[str, list[dict[str, Any]]]:
    """Object key -> its parsed lines."""
    s3 = boto3.client("s3", region_name=HOME)
    listed = s3.list_objects_v2(Bucket=BUCKET).get("Contents", [])
    return {
        o["Key"]: [
            json.loads(line)
            for line in s3.get_object(Bucket=BUCKET, Key=o["Key"])["Body"].read().splitlines()
        ]
        for o in listed
    }


def get(workload_id: str) -> dict[str, Any]:
    return json.loads(api.handler(http("GET", f"/workloads/{workload_id}"), Context())["body"])


def cancelled(aws: AwsEnv) -> dict[str, Any]:
    status, body = submit(submission(aws.targets[HOME]["lambda"]))
    assert status == 201, body
    api.handler(http("DELETE", f"/workloads/{body['id']}"), Context())
    return get(body["id"])


def test_records_are_exported_when_they_become_final(
    stream: str, aws: AwsEnv, least_privilege: dict
) -> None:
    succeeded, gone = run_to_completion(aws), cancelled(aws)
    records = stream_records(stream)
    answer = exporter.handler({"Records": records}, Context())
    uses_every_grant(least_privilege, "exporter")

    objects = exported()
    assert sorted(objects) == sorted(answer["objects"]) and len(objects) == 1
    (key, lines), today = next(iter(objects.items())), datetime.now(UTC).strftime("%Y-%m-%d")
    day, first, last = KEY.match(key).groups()
    assert day == today and int(first) <= int(last)
    by_id = {line["workload_id"]: line for line in lines}
    assert len(lines) == 2 and set(by_id) == {succeeded["id"], gone["id"]}
    for record in (succeeded, gone):
        line = by_id[record["id"]]
        assert line["_event"] == "final" and line["status"] == record["status"]
        assert line["_exported_at"].endswith("Z")
        for field in ("spec", "decision", "dispatch", "result", "history", "version"):
            assert line.get(field) == record[field], field
    result = by_id[succeeded["id"]]["result"]
    assert isinstance(result["emissions_g"], float) and result["emissions_g"] > 0
    # Every transition before the final one was streamed too, and skipped.
    assert answer["skipped"] == len(records) - 2 > 0 and answer["unreadable"] == 0


def test_a_ttl_removal_is_exported_as_expired_and_a_user_deletion_is_not(
    stream: str, aws: AwsEnv
) -> None:
    record = cancelled(aws)
    boto3.client("dynamodb", region_name=HOME).delete_item(
        TableName="workloads", Key={"workload_id": {"S": record["id"]}}
    )
    (removal,) = [r for r in stream_records(stream) if r["eventName"] == "REMOVE"]
    assert "userIdentity" not in removal  # deleted by a user: not an expiry
    by_ttl = {**removal, "eventID": "ttl", "userIdentity": TTL_IDENTITY}
    answer = exporter.handler({"Records": [removal, by_ttl]}, Context())
    assert (answer["exported"], answer["skipped"]) == (1, 1)
    ((line,),) = exported().values()
    assert line["_event"] == "expired" and line["workload_id"] == record["id"]
    assert line["history"] == record["history"] and line["status"] == "CANCELLED"


def test_an_unreadable_record_is_counted_and_the_batch_goes_on(stream: str, aws: AwsEnv) -> None:
    record = cancelled(aws)
    records = stream_records(stream)
    broken = [
        {**records[-1], "eventName": "UPSERT"},
        {**records[-1], "eventSourceARN": "arn:aws:sqs:eu-west-1:123456789012:not-a-table"},
        {**records[-1], "dynamodb": {**records[-1]["dynamodb"], "NewImage": {"status": "x"}}},
    ]
    answer = exporter.handler({"Records": [*broken, *records]}, Context())
    assert answer["unreadable"] == 3 and answer["exported"] == 1
    ((line,),) = exported().values()
    assert line["workload_id"] == record["id"]


def test_a_retried_batch_overwrites_its_own_objects(stream: str, aws: AwsEnv) -> None:
    cancelled(aws)
    event = {"Records": stream_records(stream)}
    first = exporter.handler(event, Context())
    time.sleep(0.01)
    again = exporter.handler(event, Context())
    assert first["objects"] == again["objects"] and len(exported()) == 1


def test_numbers_are_json_numbers_and_sets_lists(stream: str, aws: AwsEnv) -> None:
    record = cancelled(aws)
    boto3.client("dynamodb", region_name=HOME).update_item(
        TableName="workloads",
        Key={"workload_id": {"S": record["id"]}},
        UpdateExpression="SET tags_set = :s, ratio = :r, payload = :b",
        ExpressionAttributeValues={
            ":s": {"SS": ["b", "a"]},
            ":r": {"N": "0.125"},
            ":b": {"B": b"\x00\x01"},
        },
    )
    exporter.handler({"Records": stream_records(stream)}, Context())
    lines = [line for lines in exported().values() for line in lines]
    latest = max(lines, key=lambda line: "ratio" in line)
    assert latest["tags_set"] == ["a", "b"] and latest["ratio"] == 0.125
    assert latest["payload"] == "AAE=" and latest["version"] == record["version"]
    assert isinstance(latest["version"], int)
