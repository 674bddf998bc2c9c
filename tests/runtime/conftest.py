"""A whole runtime environment in moto (in-process): tables, schedule group, DLQ and real targets.

DynamoDB applies each request atomically; moto in-process does not lock its backends, so the
``aws`` fixture serialises moto's request handling the way the service does. Our own code still
runs concurrently (the race tests use real threads).

Every runtime test also checks least privilege per function: the AWS calls each Lambda handler
makes while the test runs must be granted to that function by the Terraform module (and
test_least_privilege.py checks the converse: each function uses every action it is granted).
"""

from __future__ import annotations

import contextvars
import functools
import io
import json
import os
import threading
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import boto3
import pytest
from botocore.client import BaseClient
from botocore.credentials import Credentials
from moto import mock_aws
from moto.core.botocore_stubber import BotocoreStubber

from carbon_aware.runtime import config, monitor_config, wiring
from carbon_aware.runtime.handlers import (
    api,
    completion,
    executor,
    exporter,
    fleet_optimizer,
    intake,
    interruptions,
    migrations,
    monitor,
    scheduler,
)
from carbon_aware.runtime.tables import IDEMPOTENCY_TABLE, WORKLOADS_TABLE
from fakes.price_apis import PricingApp, ec2_product, fargate_product
from fakes.signed_api import SignedApi
from terraform.test_drift import ACTION_NAMES, ALSO_AUTHORISED_AS, LOCAL_STACK_ONLY, granted_to

HOME = "eu-west-1"
OTHER = "eu-north-1"
REGIONS = (HOME, OTHER)


@dataclass
class AwsEnv:
    """Names and ARNs of everything the fixture created."""

    dlq_url: str
    executor_arn: str
    scheduler_role: str
    rejects_url: str = ""
    targets: dict[str, dict[str, Any]] = field(default_factory=dict)

    def dead_letters(self) -> list[dict[str, Any]]:
        return _messages(self.dlq_url)

    def rejected_submissions(self) -> list[dict[str, Any]]:
        return _messages(self.rejects_url)


def _messages(queue_url: str) -> list[dict[str, Any]]:
    sqs = boto3.client("sqs", region_name=HOME)
    messages = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10)
    return [json.loads(m["Body"]) for m in messages.get("Messages", [])]


def _serialised(process_request: Any) -> Any:
    lock = threading.Lock()

    def locked(self: Any, request: Any) -> Any:
        with lock:
            return process_request(self, request)

    return locked


HANDLERS = {
    "api": api,
    "intake": intake,
    "scheduler": scheduler,
    "executor": executor,
    "completion": completion,
    "monitor": monitor,
    "exporter": exporter,
    "fleet_optimizer": fleet_optimizer,
    "interruptions": interruptions,
    "migrations": migrations,
}
_running = contextvars.ContextVar[str | None]("running_function", default=None)


def _as(function: str, handler: Any) -> Any:
    @functools.wraps(handler)
    def run(event: Any, context: Any) -> Any:
        token = _running.set(function)
        try:
            return handler(event, context)
        finally:
            _running.reset(token)

    return run


@pytest.fixture(autouse=True)
def least_privilege(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, set[str]]]:
    """Record each handler's AWS calls; afterwards, each must be granted to that function."""
    calls: dict[str, set[str]] = {}
    original = BaseClient._make_api_call

    def record(client: BaseClient, operation: str, params: dict) -> Any:
        function = _running.get()
        if function is not None:
            action = f"{client.meta.service_model.signing_name}:{operation}"
            authorised = {action, *ALSO_AUTHORISED_AS.get(action, ())}
            calls.setdefault(function, set()).update(ACTION_NAMES.get(a, a) for a in authorised)
        return original(client, operation, params)

    monkeypatch.setattr(BaseClient, "_make_api_call", record)
    for function, module in HANDLERS.items():
        monkeypatch.setattr(module, "handler", _as(function, module.handler))
    yield calls
    for function, actions in calls.items():
        missing = actions - granted_to(function) - LOCAL_STACK_ONLY
        assert not missing, f"{function} calls {sorted(missing)}, not granted by the module"


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[AwsEnv]:
    monkeypatch.setattr(
        BotocoreStubber, "process_request", _serialised(BotocoreStubber.process_request)
    )
    monkeypatch.setenv("AWS_REGION", HOME)
    monkeypatch.setenv("AWS_DEFAULT_REGION", HOME)
    monkeypatch.setenv("POWERTOOLS_TRACE_DISABLED", "true")
    monkeypatch.setenv("POWERTOOLS_METRICS_NAMESPACE", "CarbonAwareTest")
    with mock_aws(config={"lambda": {"use_docker": False}, "batch": {"use_docker": False}}):
        env = _create(monkeypatch)
        _clear_caches()
        yield env
        _clear_caches()


def _clear_caches() -> None:
    wiring.reset()


def _create(monkeypatch: pytest.MonkeyPatch) -> AwsEnv:
    ddb = boto3.client("dynamodb", region_name=HOME)
    ddb.create_table(TableName="workloads", **WORKLOADS_TABLE)
    ddb.create_table(TableName="idempotency", **IDEMPOTENCY_TABLE)
    iam = boto3.client("iam", region_name=HOME)
    role = iam.create_role(RoleName="role", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    boto3.client("scheduler", region_name=HOME).create_schedule_group(Name="carbon-aware")
    dlq = boto3.client("sqs", region_name=HOME).create_queue(QueueName="dlq")["QueueUrl"]
    rejects = boto3.client("sqs", region_name=HOME).create_queue(QueueName="rejects")["QueueUrl"]
    executor = _function(HOME, role, "executor")
    scheduler = _function(HOME, role, "scheduler")
    env = AwsEnv(dlq_url=dlq, executor_arn=executor, scheduler_role=role, rejects_url=rejects)
    for region in REGIONS:
        env.targets[region] = _targets(region, role)
    allow = [arn for t in env.targets.values() for target in t.values() for arn in _arns(target)]
    monkeypatch.setenv(config.WORKLOADS_TABLE, "workloads")
    monkeypatch.setenv(config.IDEMPOTENCY_TABLE, "idempotency")
    monkeypatch.setenv(config.REGIONS, ",".join(REGIONS))
    monkeypatch.setenv(config.HOME_REGION, HOME)
    monkeypatch.setenv(config.SCHEDULE_GROUP, "carbon-aware")
    monkeypatch.setenv(config.SCHEDULER_ROLE_ARN, role)
    monkeypatch.setenv(config.EXECUTOR_ARN, executor)
    monkeypatch.setenv(config.SCHEDULER_ARN, scheduler)
    monkeypatch.setenv(config.TARGET_ALLOWLIST, json.dumps(allow))
    monkeypatch.setenv(config.DEAD_LETTER_QUEUE_URL, dlq)
    monkeypatch.setenv(config.REJECTS_QUEUE_URL, rejects)
    return env


def _arns(target: dict[str, Any]) -> list[str]:
    return [target[k] for k in ("arn", "cluster", "job_queue") if k in target]


def _function(region: str, role: str, name: str) -> str:
    code = io.BytesIO()
    with zipfile.ZipFile(code, "w") as archive:
        archive.writestr("handler.py", "def handler(event, context):\n    return event\n")
    return boto3.client("lambda", region_name=region).create_function(
        FunctionName=name,
        Runtime="python3.13",
        Role=role,
        Handler="handler.handler",
        Code={"ZipFile": code.getvalue()},
    )["FunctionArn"]


def _targets(region: str, role: str) -> dict[str, dict[str, Any]]:
    ecs = boto3.client("ecs", region_name=region)
    cluster = ecs.create_cluster(clusterName="jobs", capacityProviders=["FARGATE", "FARGATE_SPOT"])
    task = ecs.register_task_definition(
        family="job",
        containerDefinitions=[{"name": "job", "image": "busybox", "memory": 512, "cpu": 256}],
    )
    ec2 = boto3.client("ec2", region_name=region)
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.0.0.0/24")["Subnet"]["SubnetId"]
    group = ec2.create_security_group(GroupName="jobs", Description="jobs", VpcId=vpc)["GroupId"]
    batch = boto3.client("batch", region_name=region)
    environment = batch.create_compute_environment(
        computeEnvironmentName="jobs",
        type="MANAGED",
        state="ENABLED",
        computeResources={
            "type": "FARGATE",
            "maxvCpus": 4,
            "subnets": [subnet],
            "securityGroupIds": [group],
        },
        serviceRole=role,
    )["computeEnvironmentArn"]
    queue = batch.create_job_queue(
        jobQueueName="jobs",
        state="ENABLED",
        priority=1,
        computeEnvironmentOrder=[{"order": 1, "computeEnvironment": environment}],
    )["jobQueueArn"]
    definition = batch.register_job_definition(
        jobDefinitionName="job",
        type="container",
        containerProperties={"image": "busybox", "vcpus": 1, "memory": 128},
    )["jobDefinitionArn"]
    machine = boto3.client("stepfunctions", region_name=region).create_state_machine(
        name="job",
        definition=json.dumps({"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}}),
        roleArn=role,
    )["stateMachineArn"]
    bus = boto3.client("events", region_name=region).create_event_bus(Name="jobs")["EventBusArn"]
    return {
        "lambda": {"type": "lambda", "arn": _function(region, role, "job")},
        "ecs": {
            "type": "ecs",
            "arn": task["taskDefinition"]["taskDefinitionArn"],
            "cluster": cluster["cluster"]["clusterArn"],
            "spot": True,
        },
        "batch": {"type": "batch", "arn": definition, "job_queue": queue},
        "stepfunctions": {"type": "stepfunctions", "arn": machine},
        "eventbridge": {"type": "eventbridge", "arn": bus},
        "task_token": {
            "type": "task_token",
            "arn": machine,
            "task_token": f"token-of-a-waiting-step-in-{region}",
            "execution": machine.replace(":stateMachine:", ":execution:") + ":nightly",
        },
    }


# Price List usage-type prefixes of the two Regions (EU: eu-west-1, EUN1: eu-north-1).
PRICE_PREFIX = {HOME: "EU", OTHER: "EUN1"}
# eu-west-1's Fargate and Fargate Spot rates (USD per vCPU-hour, per GB-hour).
FARGATE_USD = {
    "Fargate-vCPU-Hours:perCPU": 0.04048,
    "Fargate-GB-Hours": 0.004445,
    "SpotUsage-Fargate-vCPU-Hours:perCPU": 0.0129,
    "SpotUsage-Fargate-GB-Hours": 0.001416,
}


@pytest.fixture
def price_list_server(
    aws: AwsEnv, loopback: None, monkeypatch: pytest.MonkeyPatch
) -> Iterator[PricingApp]:
    """A loopback Price List where eu-north-1 costs twice eu-west-1, and the monitor set to
    refresh from it (m7g.large on demand; boto3's service endpoint variable points there)."""
    app = PricingApp(page_size=3)
    for region, factor in ((HOME, 1), (OTHER, 2)):
        prefix = PRICE_PREFIX[region]
        app.products += [
            fargate_product(region, f"{prefix}-{usage}", f"{usd * factor:.6f}")
            for usage, usd in FARGATE_USD.items()
        ]
        app.products.append(
            ec2_product(region, "m7g.large", f"{0.0816 * factor:.4f}", prefix=prefix)
        )
    credentials = Credentials(os.environ["AWS_ACCESS_KEY_ID"], os.environ["AWS_SECRET_ACCESS_KEY"])
    with SignedApi(app, credentials, "pricing", "us-east-1") as server:
        monkeypatch.setenv(monitor_config.PRICE_LIST_REGION, "us-east-1")
        monkeypatch.setenv(monitor_config.PRICED_INSTANCE_TYPES, "m7g.large")
        monkeypatch.setenv("AWS_ENDPOINT_URL_PRICING", server.url)
        wiring.reset()
        yield app
    wiring.reset()
