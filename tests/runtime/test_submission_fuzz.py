"""A seeded mutation fuzz of the submit route: ~600 submissions mutated from valid ones.

Every response is a 2xx or 4xx with a JSON body (never an exception); nothing accepted names a
region outside the deployment or a target outside the allow-list; and a sweep over whatever was
accepted runs cleanly (before validation at the door, 38 of 600 were accepted and some, naming
regions such as "Infinity", broke every later sweep).
"""

from __future__ import annotations

import copy
import json
import random
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

import boto3
from tests.runtime.conftest import HOME, OTHER, REGIONS, AwsEnv
from tests.runtime.events import Context, http, submission

from carbon_aware.runtime import wiring
from carbon_aware.runtime.handlers import api
from carbon_aware.runtime.states import State
from carbon_aware.runtime.sweeper import Sweeper
from carbon_aware.runtime.targets import allowed, resolve_target, target_resources

SUBMISSIONS = 600
SEED = 20261202
ODD_REGIONS = [
    "Infinity",
    "eu-wset-9",
    "us-east-1",
    "",
    "EU-WEST-1",
    "eu-west-1 ",
    "NaN",
    "a" * 70,
    "eu-west-1\u0000",
    1,
    None,
    HOME,
    OTHER,
]
ODD_VALUES: list[Any] = [
    None,
    True,
    -1,
    0,
    1e300,
    -1e-300,
    10**40,
    "",
    "x" * 5000,
    [],
    {},
    [HOME],
    {"type": "lambda"},
    "2030-01-01T00:00:00Z",
    "\udcff",
]
FIELDS = [
    "id",
    "duration_minutes",
    "deadline",
    "earliest_start",
    "home_region",
    "regions",
    "power_watts",
    "vcpus",
    "memory_gb",
    "gpus",
    "gpu_type",
    "prices",
    "use_spot",
    "strategy",
    "strategy_options",
    "target",
    "targets",
    "interruptible",
]


def valid(aws: AwsEnv, rng: random.Random) -> dict[str, Any]:
    """One of several valid submissions (templated, per-region, home-only, priced)."""
    ecs = copy.deepcopy(aws.targets[HOME]["ecs"])
    ecs["arn"] = ecs["arn"].replace(HOME, "{region}")
    ecs["cluster"] = ecs["cluster"].replace(HOME, "{region}")
    per_region = {r: aws.targets[r]["stepfunctions"] for r in REGIONS}
    choices = [
        submission(ecs),
        submission(aws.targets[HOME]["lambda"], strategy="time_shift", regions=[HOME]),
        {**submission(ecs, strategy="balanced"), "prices": {HOME: {"on_demand": 1.0}}},
        {**submission(None, strategy="carbon_first", targets=per_region)},
    ]
    body = copy.deepcopy(rng.choice(choices))
    if body.get("target") is None:
        body.pop("target", None)
    body["id"] = f"fuzz-{rng.randrange(10**9)}"
    return body


def _region_list(body: dict, rng: random.Random) -> None:
    regions = body.get("regions", [body.get("home_region")])
    regions = list(regions) if isinstance(regions, list) and regions else [HOME]
    regions[rng.randrange(len(regions))] = rng.choice(ODD_REGIONS)
    if rng.random() < 0.3:
        regions.append(rng.choice(ODD_REGIONS))
    body["regions"] = regions


def _home(body: dict, rng: random.Random) -> None:
    body["home_region"] = rng.choice(ODD_REGIONS)


def _target_arn(body: dict, rng: random.Random) -> None:
    targets = body.get("targets")
    target = body.get("target")
    if target is None and isinstance(targets, dict) and targets:
        target = next(iter(targets.values()))
    if isinstance(target, dict) and isinstance(target.get("arn"), str):
        arn = target["arn"]
        target["arn"] = rng.choice(
            [arn + "x", arn.replace("123456789012", "999999999999"), arn.replace(HOME, OTHER)]
        )


def _field(body: dict, rng: random.Random) -> None:
    body[rng.choice(FIELDS)] = copy.deepcopy(rng.choice(ODD_VALUES))


def _drop(body: dict, rng: random.Random) -> None:
    body.pop(rng.choice(sorted(body)), None)


def _unknown(body: dict, rng: random.Random) -> None:
    body[rng.choice(["colour", "submitted_at", "Regions", "__proto__"])] = 1


def _strategy(body: dict, rng: random.Random) -> None:
    body["strategy"] = rng.choice(
        ["combined", "follow_the_sun", "cost_first", "greenest", "location_shift", 7]
    )
    if rng.random() < 0.5:
        body["strategy_options"] = {
            rng.choice(["carbon_weight", "max_cost", "max_carbon", "bogus"]): rng.choice(
                [0.5, -1, 2, 1e9]
            )
        }


def _deep(body: dict, rng: random.Random) -> None:
    value: Any = 1
    for _ in range(rng.choice([5, 20, 40])):
        value = {"k": value}
    body["target" if rng.random() < 0.5 else "prices"] = value


MUTATIONS: list[Callable[[dict, random.Random], None]] = [
    _region_list,
    _region_list,
    _home,
    _target_arn,
    _target_arn,
    _field,
    _field,
    _drop,
    _unknown,
    _strategy,
    _deep,
]


def mutated(aws: AwsEnv, rng: random.Random) -> str:
    body = valid(aws, rng)
    for _ in range(rng.choice([1, 1, 2, 3])):
        rng.choice(MUTATIONS)(body, rng)
    text = json.dumps(body)
    if rng.random() < 0.08:  # damage the text itself
        cut = rng.randrange(len(text))
        text = rng.choice([text[:cut], text[:cut] + "\u00ff" + text[cut + 1 :], text * 2])
    return text


def test_mutated_submissions_are_answered_and_only_valid_ones_are_accepted(aws: AwsEnv) -> None:
    rng = random.Random(SEED)
    accepted: list[dict] = []
    statuses: list[int] = []
    settings = wiring.settings()
    for _ in range(SUBMISSIONS):
        response = api.handler(http("POST", "/workloads", raw_body=mutated(aws, rng)), Context())
        status = response["statusCode"]
        statuses.append(status)
        assert 200 <= status < 300 or 400 <= status < 500, response
        answer = json.loads(response["body"])
        if status == 201:
            accepted.append(answer["spec"])
        else:
            assert answer["errors"][0]["field"], answer
    assert len(statuses) == SUBMISSIONS and 0 < len(accepted) < SUBMISSIONS / 2
    for spec in accepted:
        regions = spec.get("regions", [spec["home_region"]])
        assert set(regions) | {spec["home_region"]} <= set(REGIONS), spec
        home_only = spec.get("strategy") == "time_shift"
        for region in [spec["home_region"]] if home_only else regions:
            arns = target_resources(resolve_target(spec, region)).values()
            assert allowed(list(arns), settings.target_allowlist), (region, spec)
    sweeper = Sweeper(wiring.repository(), wiring.planner(), wiring.dispatcher(), workers=4)
    counts = sweeper.sweep(time.time())
    assert not {"record_error", "poison_failed", "poison_unrecorded"} & set(counts), counts
    table = boto3.resource("dynamodb", region_name=HOME).Table("workloads")
    items = table.scan()["Items"]
    assert len(items) == len(accepted)
    # Accepted means valid: each is placed, or infeasible on the data (never "invalid").
    outcomes = Counter(i["status"] for i in items)
    assert counts[f"planned:{State.SCHEDULED}"] == outcomes["SCHEDULED"] >= 0.9 * len(items)
    for item in items:
        if item["status"] != "SCHEDULED":
            assert item["history"][-1]["reason"].startswith("infeasible:"), item
