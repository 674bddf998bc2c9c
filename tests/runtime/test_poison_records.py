"""One bad record never stops a sweep: poison records written straight into the table (bypassing
the API) beside 100 good ones. The good ones are all planned in the same sweep; the poison ones
are counted, retried a bounded number of times across invocations, then FAILED with the reason.
"""

from __future__ import annotations

import json
import time
from decimal import Decimal

import boto3
import pytest
from tests.runtime.conftest import HOME, AwsEnv
from tests.runtime.events import Context, http, stored_spec

from carbon_aware.runtime import wiring
from carbon_aware.runtime.handlers import api, scheduler
from carbon_aware.runtime.repository import due_shard
from carbon_aware.runtime.states import State
from carbon_aware.runtime.sweeper import POISON_LIMIT

GOOD = 100


def spec(aws: AwsEnv, workload_id: str, **extra: object) -> dict:
    return stored_spec(aws.targets[HOME]["ecs"], workload_id, **extra)


def write_raw(workload_id: str, **attributes: object) -> None:
    """A PENDING item put straight into the table, as an older version or a hand might."""
    now = Decimal(str(round(time.time(), 3)))
    item = {
        "workload_id": workload_id,
        "status": "PENDING",
        "version": 1,
        "due_key": f"PENDING#{due_shard(workload_id)}",
        "due_at": now,
        "history": [],
        **attributes,
    }
    boto3.resource("dynamodb", region_name=HOME).Table("workloads").put_item(Item=item)


def sweep(capsys: pytest.CaptureFixture) -> tuple[dict, str]:
    """One timer invocation of the scheduler: its counts and the EMF metrics it printed."""
    capsys.readouterr()
    counts = scheduler.handler({}, Context())["sweep"]
    return counts, capsys.readouterr().out


def test_poison_records_do_not_stop_the_sweep_and_fail_after_the_bound(
    aws: AwsEnv, capsys: pytest.CaptureFixture
) -> None:
    repo = wiring.repository()
    for i in range(GOOD):
        repo.create(f"good-{i:03d}", spec(aws, f"good-{i:03d}"), time.time())
    write_raw("poison-spec", spec="not a workload")  # unreadable: the spec is no map
    write_raw("poison-nospec")  # no spec at all
    legacy = spec(aws, "legacy", regions=[HOME, "eu-wset-9"])
    write_raw("legacy", spec=json.loads(json.dumps(legacy), parse_float=Decimal))

    counts, emitted = sweep(capsys)
    assert counts[f"planned:{State.SCHEDULED}"] == GOOD, counts
    assert counts["record_error"] == 2, counts
    assert '"Sweep_record_error"' in emitted and '"Sweep_planned_SCHEDULED"' in emitted
    assert all(repo.get(f"good-{i:03d}").status == State.SCHEDULED for i in range(GOOD))
    # Stored before validation at the door: failed at once, with the reason, not retried.
    assert counts[f"planned:{State.FAILED}"] == 1
    failed = repo.get("legacy")
    assert failed.status == State.FAILED and "eu-wset-9" in failed.history[-1]["reason"]

    for _ in range(2, POISON_LIMIT + 1):
        counts, emitted = sweep(capsys)
        assert counts["record_error"] == 2, counts
    assert counts["poison_failed"] == 2 and '"Sweep_poison_failed"' in emitted
    for wid, words in [("poison-spec", "spec is no"), ("poison-nospec", "spec")]:
        item = (
            boto3.resource("dynamodb", region_name=HOME)
            .Table("workloads")
            .get_item(Key={"workload_id": wid})["Item"]
        )
        assert item["status"] == "FAILED", item
        assert "due_key" not in item
        reason = item["history"][-1]["reason"]
        assert "gave up" in reason and words in reason, reason
    counts, _ = sweep(capsys)
    assert "record_error" not in counts, counts


def test_a_poison_record_that_recovers_starts_a_clean_count(
    aws: AwsEnv, capsys: pytest.CaptureFixture
) -> None:
    write_raw("flaky", spec="not yet")
    for _ in range(POISON_LIMIT - 1):
        counts, _ = sweep(capsys)
        assert counts["record_error"] == 1
    table = boto3.resource("dynamodb", region_name=HOME).Table("workloads")
    good = json.loads(json.dumps(spec(aws, "flaky")), parse_float=Decimal)
    table.update_item(
        Key={"workload_id": "flaky"},
        UpdateExpression="SET spec = :s",
        ExpressionAttributeValues={":s": good},
    )
    counts, _ = sweep(capsys)
    assert counts[f"planned:{State.SCHEDULED}"] == 1 and "record_error" not in counts
    assert "poison" not in table.get_item(Key={"workload_id": "flaky"})["Item"]


def test_listing_skips_an_unreadable_record(aws: AwsEnv) -> None:
    wiring.repository().create("fine", spec(aws, "fine"), time.time())
    write_raw("broken", spec=[1, 2])
    response = api.handler(http("GET", "/workloads", query={"status": "PENDING"}), Context())
    assert response["statusCode"] == 200, response
    assert [w["id"] for w in json.loads(response["body"])["workloads"]] == ["fine"]
