"""Bad input through the API: never a 5xx, never a half-written workload, errors name the field."""

from __future__ import annotations

import json
import time

import boto3
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tests.runtime.conftest import HOME, AwsEnv
from tests.runtime.events import Context, http

from carbon_aware.engine.timeutil import iso
from carbon_aware.runtime.handlers import api

VALID_KEYS = [
    "id",
    "duration_minutes",
    "deadline",
    "home_region",
    "regions",
    "interruptible",
    "min_segment_minutes",
    "power_watts",
    "vcpus",
    "memory_gb",
    "strategy",
    "strategy_options",
    "target",
    "targets",
    "prices",
    "use_spot",
    "earliest_start",
    "gpus",
    "gpu_type",
]
json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(10**9), 10**9)
    | st.floats(allow_nan=False)
    | st.text(max_size=30),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=8), children, max_size=3)
    ),
    max_leaves=6,
)


def base(aws: AwsEnv) -> dict:
    return {
        "duration_minutes": 30,
        "deadline": iso(time.time() + 6 * 3600),
        "home_region": HOME,
        "power_watts": 50,
        "target": aws.targets[HOME]["lambda"],
    }


def items() -> list[dict]:
    table = boto3.resource("dynamodb", region_name=HOME).Table("workloads")
    return table.scan()["Items"]  # tests may scan; handlers never do


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"duration_minutes": -1}, "duration_minutes"),
        ({"duration_minutes": "1h"}, "duration_minutes"),
        ({"deadline": "soon"}, "deadline"),
        ({"home_region": "bad region!"}, "home_region"),
        ({"strategy": "fastest"}, "strategy"),
        ({"strategy_options": {"carbon_weight": 3}}, "strategy_options"),
        ({"target": {"type": "ftp", "arn": "x"}}, "target.type"),
        ({"target": {"type": "ecs", "arn": "arn:x"}}, "target.cluster"),
        ({"submitted_at": "2020-01-01T00:00:00Z"}, "submitted_at"),
        ({"colour": "green"}, "colour"),
        ({"power_watts": 0}, "power_watts"),
    ],
)
def test_each_bad_field_is_named_in_a_400(aws: AwsEnv, change: dict, field: str) -> None:
    response = api.handler(http("POST", "/workloads", {**base(aws), **change}), Context())
    assert response["statusCode"] == 400
    errors = json.loads(response["body"])["errors"]
    assert errors[0]["field"] == field and errors[0]["message"]
    assert items() == []


@pytest.mark.parametrize("raw", ["", "{", "[1,2]", '"text"', '{"duration_minutes": NaN}'])
def test_malformed_bodies_are_400(aws: AwsEnv, raw: str) -> None:
    response = api.handler(http("POST", "/workloads", raw_body=raw), Context())
    assert response["statusCode"] == 400
    assert items() == []


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    changes=st.dictionaries(
        st.sampled_from([*VALID_KEYS, "extra", "submitted_at"]), json_values, max_size=4
    ),
    drop=st.lists(
        st.sampled_from(["duration_minutes", "deadline", "home_region", "target"]), max_size=2
    ),
)
def test_generated_payloads_never_5xx_nor_half_write(
    aws: AwsEnv, changes: dict, drop: list
) -> None:
    body = {**base(aws), **changes}
    for key in drop:
        body.pop(key, None)
    before = len(items())
    response = api.handler(http("POST", "/workloads", body), Context())
    status = response["statusCode"]
    assert status in (201, 400, 409), response
    stored = items()
    if status == 201:
        record = json.loads(response["body"])
        assert len(stored) == before + 1
        assert record["status"] == "PENDING" and record["spec"]["submitted_at"]
        assert {"decision", "history", "version"} <= set(record)
    else:
        assert len(stored) == before
        assert json.loads(response["body"])["errors"][0]["field"]
