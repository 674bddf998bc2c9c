"""Drift between the Terraform module and the runtime it deploys: table keys, indexes and TTL
attributes and the IAM actions granted (read with python-hcl2); the environment each function gets
(rendered by Terraform and loaded with the runtime's settings loaders, values checked)."""

from __future__ import annotations

import ast
import inspect
import json
import os
import re
import shutil
import subprocess
from dataclasses import dataclass, fields
from pathlib import Path
from types import ModuleType
from typing import Any

import botocore.session
import hcl2
import pytest
from botocore import xform_name

from carbon_aware.engine.migration import MigrationPolicy
from carbon_aware.runtime import config, export, export_config, monitor_config, tables
from carbon_aware.runtime.fleet import settings as fleet_settings
from carbon_aware.runtime.interruptions import settings as interruption_settings
from carbon_aware.runtime.migrations import settings as migration_settings
from carbon_aware.signals import cache, catalog

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "lambda_src" / "carbon_aware"


HCL_OPTIONS = hcl2.SerializationOptions(strip_string_quotes=True, explicit_blocks=False)


def _locals() -> dict:
    """Every ``locals`` entry of the root module, whichever of its files declares it."""
    entries: dict = {}
    for path in sorted(ROOT.glob("*.tf")):
        with path.open() as f:
            parsed = hcl2.load(f, serialization_options=HCL_OPTIONS)
        for block in parsed.get("locals", []):
            entries.update(block)
    return entries


LOCALS = _locals()
# Every function the module may deploy (`local.functions` drops fleet_optimizer without fleets).
FUNCTIONS = LOCALS["function_definitions"]

# ---------------------------------------------------------------------------------------------
# Tables


def _as_hcl(definition: dict, ttl_attribute: str) -> dict:
    """A boto3 CreateTable definition in the shape of the module's `local.tables` entries."""

    def keys(schema: list[dict]) -> tuple[str, str | None]:
        by_type = {k["KeyType"]: k["AttributeName"] for k in schema}
        return by_type["HASH"], by_type.get("RANGE")

    hash_key, range_key = keys(definition["KeySchema"])
    indexes = {}
    for index in definition.get("GlobalSecondaryIndexes", []):
        assert index["Projection"] == {"ProjectionType": "ALL"}, "the module projects ALL"
        index_hash, index_range = keys(index["KeySchema"])
        indexes[index["IndexName"]] = {"hash_key": index_hash, "range_key": index_range}
    assert definition["BillingMode"] == "PAY_PER_REQUEST", "the module bills on demand"
    return {
        "hash_key": hash_key,
        "range_key": range_key,
        "attributes": {
            a["AttributeName"]: a["AttributeType"] for a in definition["AttributeDefinitions"]
        },
        "indexes": indexes,
        "ttl_attribute": ttl_attribute,
    }


RUNTIME_TABLES = {
    "signals": (cache.TABLE_DEFINITION, cache.TTL_ATTRIBUTE),
    "workloads": (tables.WORKLOADS_TABLE, tables.WORKLOADS_TTL_ATTRIBUTE),
    "idempotency": (tables.IDEMPOTENCY_TABLE, tables.IDEMPOTENCY_TTL_ATTRIBUTE),
    "fleets": (tables.FLEETS_TABLE, tables.FLEETS_TTL_ATTRIBUTE),
    "migrations": (tables.MIGRATIONS_TABLE, tables.MIGRATIONS_TTL_ATTRIBUTE),
}


def test_the_module_creates_exactly_the_runtime_tables():
    assert set(LOCALS["tables"]) == set(RUNTIME_TABLES)


@pytest.mark.parametrize("table", sorted(RUNTIME_TABLES))
def test_table_keys_indexes_and_ttl_match_the_runtime(table):
    # python-hcl2 keeps `indexes = {}` as an empty object and `range_key = null` as None.
    assert LOCALS["tables"][table] == _as_hcl(*RUNTIME_TABLES[table])


# ---------------------------------------------------------------------------------------------
# Environment: rendered by Terraform (tests/environment.tftest.hcl, mock-applied with `terraform
# test -json -verbose`), read back from each function's state and loaded with the runtime's own
# settings loaders.

TERRAFORM = shutil.which("terraform")
ENVIRONMENT_TEST = ROOT / "tests" / "environment.tftest.hcl"
DAY = 86400
WORKLOAD_FUNCTIONS = ("api", "intake", "scheduler", "executor", "completion")
# Functions that read the region catalog and so apply CARBON_AWARE_REGION_ZONES (the api accounts
# the grams of a cancelled run).
CATALOG_READERS = (
    "api",
    "monitor",
    "scheduler",
    "completion",
    "fleet_optimizer",
    "interruptions",
    "migrations",
)


@dataclass(frozen=True)
class Rendered:
    """The inputs of the environment test run and the state it left."""

    inputs: dict[str, Any]
    resources: dict[str, dict[str, Any]]

    def environment(self, function: str) -> dict[str, str]:
        """The environment variables of one function, as Terraform deployed them."""
        values = self.resources[f'module.function["{function}"].aws_lambda_function.this[0]']
        return values["environment"][0]["variables"]

    def function_arn_points_at(self, arn: str, function: str) -> bool:
        """Whether ``arn`` names the Lambda function deployed for ``function``."""
        deployed = self.resources[f'module.function["{function}"].aws_lambda_function.this[0]']
        prefix = f"arn:aws:lambda:{deployed['region']}:111122223333:function:"
        return arn == prefix + deployed["function_name"]


def _state_resources(module: dict[str, Any]) -> dict[str, dict[str, Any]]:
    found = {r["address"]: r["values"] for r in module.get("resources", [])}
    for child in module.get("child_modules", []):
        found.update(_state_resources(child))
    return found


@pytest.fixture(scope="module")
def rendered() -> Rendered:
    if TERRAFORM is None:
        pytest.skip("no terraform on PATH: source ../shared/tools/terraform-offline/env.sh")
    env = {
        **os.environ,
        "TF_DATA_DIR": str(ROOT / "build" / "terraform" / "drift"),
        "TF_IN_AUTOMATION": "1",
    }
    for args in (
        ["init", "-backend=false", "-input=false", "-no-color"],
        ["test", "-json", "-verbose", f"-filter={ENVIRONMENT_TEST.relative_to(ROOT)}"],
    ):
        done = subprocess.run(
            [TERRAFORM, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=600
        )
        assert done.returncode == 0, f"terraform {args[0]}:\n{done.stdout}{done.stderr}"
    states = [
        message["test_state"]
        for message in map(json.loads, done.stdout.splitlines())
        if message.get("type") == "test_state"
    ]
    assert len(states) == 1, done.stdout
    with ENVIRONMENT_TEST.open() as f:
        (run,) = hcl2.load(f, serialization_options=HCL_OPTIONS)["run"][0].values()
    (inputs,) = run["variables"]
    return Rendered(inputs, _state_resources(states[0]["root_module"]))


# The settings module of each function that has its own (the others read runtime.config).
SETTINGS: dict[str, ModuleType] = {"monitor": monitor_config, "exporter": export_config}
# Where each function's required variables are read (the optimizer's from the fleets' settings).
REQUIRED_FROM: dict[str, ModuleType] = {**SETTINGS, "fleet_optimizer": fleet_settings}


# Functions that read settings of their own besides runtime.config.
EXTRA_SETTINGS: dict[str, ModuleType] = {
    "interruptions": interruption_settings,
    "migrations": migration_settings,
    "api": migration_settings,
    "fleet_optimizer": migration_settings,
}


def declared_env(function: str) -> set[str]:
    """Every CARBON_AWARE_* name the function's settings loaders know."""
    settings = SETTINGS.get(function, config)
    names = {v for v in vars(settings).values() if isinstance(v, str)}
    if function in EXTRA_SETTINGS:
        names |= {v for v in vars(EXTRA_SETTINGS[function]).values() if isinstance(v, str)}
    if function in CATALOG_READERS:
        names.add(catalog.ZONES_ENV_VAR)
    return {n for n in names if n.startswith("CARBON_AWARE_")}


def required_env(settings: ModuleType) -> set[str]:
    """Names the settings module reads with ``required(env, NAME)`` or ``names(env, NAME)``."""
    calls = ast.walk(ast.parse(inspect.getsource(settings)))
    return {
        getattr(settings, call.args[1].id)
        for call in calls
        if isinstance(call, ast.Call)
        and getattr(call.func, "id", None) in {"required", "names"}
        and len(call.args) == 2
        and isinstance(getattr(settings, getattr(call.args[1], "id", ""), None), str)
    }


@pytest.mark.parametrize("function", sorted(FUNCTIONS))
def test_terraform_sets_only_variables_the_function_reads(rendered: Rendered, function: str):
    ours = {n for n in rendered.environment(function) if n.startswith("CARBON_AWARE_")}
    unread = ours - declared_env(function)
    assert not unread, f"{function}: Terraform sets {sorted(unread)} that the runtime does not read"


@pytest.mark.parametrize("function", sorted(FUNCTIONS))
def test_terraform_sets_every_required_variable(rendered: Rendered, function: str):
    missing = required_env(REQUIRED_FROM.get(function, config)) - set(
        rendered.environment(function)
    )
    assert not missing, f"{function}: the runtime requires {sorted(missing)}"


@pytest.mark.parametrize("function", WORKLOAD_FUNCTIONS)
def test_workload_settings_carry_the_module_inputs(rendered: Rendered, function: str):
    inputs, resources = rendered.inputs, rendered.resources
    settings = config.WorkloadSettings.from_env(rendered.environment(function))
    assert settings.workloads_table == resources['aws_dynamodb_table.this["workloads"]']["name"]
    assert settings.regions == tuple(inputs["regions"])
    assert settings.home_region == inputs["regions"][0]
    assert settings.name_prefix == inputs["name"]
    assert settings.workload_ttl_days == inputs["workload_ttl_days"]


def test_scheduler_settings_carry_the_module_inputs(rendered: Rendered):
    inputs, resources = rendered.inputs, rendered.resources
    settings = config.WorkloadSettings.from_env(rendered.environment("scheduler"))
    assert settings.replan_threshold == pytest.approx(inputs["replan_threshold_percent"] / 100)
    assert rendered.function_arn_points_at(settings.executor_arn, "executor")
    assert settings.scheduler_role_arn == resources['aws_iam_role.service["schedules"]']["arn"]
    assert settings.schedule_group == resources["aws_scheduler_schedule_group.this"]["name"]
    assert settings.schedule_kms_key_arn == inputs["kms_key_arn"]
    weights = {name: pair["carbon"] for name, pair in inputs["strategy_weights"].items()}
    assert settings.blend_weights == pytest.approx(weights)
    assert settings.sweeper_workers == inputs["sweeper_workers"]


@pytest.mark.parametrize("function", ["scheduler", "executor"])
def test_dispatch_settings_carry_the_module_inputs(rendered: Rendered, function: str):
    inputs, resources = rendered.inputs, rendered.resources
    settings = config.WorkloadSettings.from_env(rendered.environment(function))
    assert settings.dispatch_timeout == inputs["dispatch_timeout_seconds"]
    assert settings.running_grace == inputs["running_grace_minutes"] * 60
    assert settings.run_timeout == inputs["run_timeout_minutes"] * 60
    assert settings.dead_letter_queue_url == resources['aws_sqs_queue.dlq["executor"]']["url"]
    runner_buses = {
        values["arn"]
        for address, values in resources.items()
        if address.endswith("aws_cloudwatch_event_bus.runner[0]")
    }
    allowed = set(inputs["execution_targets"]["lambda_function_arns"]) | runner_buses
    assert len(runner_buses) == len(inputs["regions"])
    assert set(settings.target_allowlist) == allowed


@pytest.mark.parametrize("function", ["api", "fleet_optimizer"])
def test_fleet_settings_carry_the_module_inputs(rendered: Rendered, function: str):
    inputs, resources = rendered.inputs, rendered.resources
    settings = fleet_settings.FleetSettings.from_env(rendered.environment(function))
    assert settings.errors == {}
    assert settings.fleet_table == resources['aws_dynamodb_table.this["fleets"]']["name"]
    assert settings.signals_table == resources['aws_dynamodb_table.this["signals"]']["name"]
    assert set(settings.fleets) == set(inputs["fleets"])
    for name, given in inputs["fleets"].items():
        fleet = settings.fleets[name]
        groups = {
            values["region"]: values["name"]
            for address, values in resources.items()
            if address.startswith(f'module.fleet["{name}"].aws_autoscaling_group.this[')
        }
        assert dict(fleet.groups) == groups and set(groups) == set(given["regions"])
        assert fleet.instance_types == tuple(given["instance_types"])
        assert (fleet.policy.min_total, fleet.policy.max_total) == (
            given["min_total"],
            given["max_total"],
        )
        assert fleet.desired_total == given["desired_total"]
        assert fleet.policy.strategy == given["strategy"]
        assert fleet.policy.dwell_minutes == given["dwell_minutes"]
        assert fleet.policy.max_step == given["max_step"]
        assert fleet.policy.move_cost_minutes == given["move_cost_minutes"]
        assert fleet.policy.lookahead_hours == given["lookahead_hours"]
        assert dict(fleet.policy.max_share) == {
            r: c.get("max_share", 1) for r, c in given["regions"].items()
        }
        policies = {
            values["name"]
            for address, values in resources.items()
            if address.startswith(f'module.fleet["{name}"].aws_autoscaling_policy.this[')
        }
        assert policies == {fleet.scaling_policy_name}


def test_interruption_settings_carry_the_module_inputs(rendered: Rendered):
    env = rendered.environment("interruptions")
    settings = interruption_settings.InterruptionSettings.from_env(env)
    handling = rendered.inputs["interruption_handling"]
    assert settings.rebalance_action == handling["rebalance_action"]
    assert settings.unavailable_seconds == handling["unavailable_minutes"] * 60
    assert settings.checkpoint_document == handling["checkpoint_ssm_document"]
    assert settings.max_replacements == handling["max_replacements"]
    assert rendered.function_arn_points_at(settings.fleet_optimizer_arn, "fleet_optimizer")
    wiring = settings.wiring
    assert set(wiring["regional_rules"]) == set(rendered.inputs["regions"])
    queue = rendered.resources["aws_sqs_queue.interruptions"]
    assert (wiring["queue_url"], wiring["queue_arn"]) == (queue["url"], queue["arn"])
    mapping = rendered.resources["aws_lambda_event_source_mapping.interruptions"]
    assert mapping["event_source_arn"] == queue["arn"]
    assert mapping["function_response_types"] == ["ReportBatchItemFailures"]


@pytest.mark.parametrize("function", ["migrations", "api"])
def test_migration_settings_carry_the_module_inputs(rendered: Rendered, function: str):
    inputs = rendered.inputs["migrations"]
    settings = migration_settings.MigrationSettings.from_env(rendered.environment(function))
    table = rendered.resources['aws_dynamodb_table.this["migrations"]']["name"]
    assert settings.table == table
    assert settings.poll_seconds == inputs["poll_seconds"]
    for state, seconds in inputs["state_timeouts"].items():
        assert settings.timeouts[migration_settings.MigrationState(state)] == seconds
    if function == "migrations":  # the trigger pass runs there only
        assert settings.auto == inputs["auto"]
        # Every guard of the engine's policy can be set from Terraform and reaches the function.
        policy = json.loads(rendered.environment(function)[migration_settings.MIGRATION_POLICY])
        assert set(policy) == {f.name for f in fields(MigrationPolicy)}
        for name, value in inputs["policy"].items():
            assert getattr(settings.policy, name) == value
    # blue_green's services, every field as given (health_check_id absent: None).
    for name, given in inputs["services"].items():
        service = settings.services[name]
        assert (service.zone_id, service.record_name, service.record_type) == (
            given["zone_id"],
            given["record_name"],
            given["record_type"],
        )
        for region, endpoint in given["regions"].items():
            parsed = service.regions[region]
            assert parsed.group == endpoint["group"]
            assert parsed.set_identifier == endpoint["set_identifier"]
            assert parsed.health_check_id == endpoint.get("health_check_id")
    assert rendered.environment("fleet_optimizer")[migration_settings.MIGRATIONS_TABLE] == table


def test_optimizer_placement_score_budget(rendered: Rendered):
    environment = rendered.environment("fleet_optimizer")
    settings = fleet_settings.FleetSettings.from_env(environment)
    assert settings.placement_score_daily_budget == rendered.inputs["placement_score_daily_budget"]


def test_api_plans_through_the_scheduler_function(rendered: Rendered):
    settings = config.WorkloadSettings.from_env(rendered.environment("api"))
    assert rendered.function_arn_points_at(settings.scheduler_arn, "scheduler")
    idempotency = rendered.resources['aws_dynamodb_table.this["idempotency"]']
    assert settings.idempotency_table == idempotency["name"]


def test_monitor_settings_carry_the_module_inputs(rendered: Rendered):
    inputs = rendered.inputs
    settings = monitor_config.MonitorSettings.from_env(rendered.environment("monitor"))
    assert settings.table == rendered.resources['aws_dynamodb_table.this["signals"]']["name"]
    assert settings.regions == tuple(inputs["regions"])
    assert settings.observation_ttl == inputs["observation_ttl_days"] * DAY
    assert settings.policy.horizon == inputs["forecast_hours"] * 3600
    assert settings.chain == tuple(inputs["provider_chain"])
    assert dict(settings.ukci_regions) == inputs["ukci_regions"]


def test_exporter_settings_carry_the_module_inputs(rendered: Rendered):
    settings = export_config.ExportSettings.from_env(rendered.environment("exporter"))
    assert settings.bucket == rendered.resources["aws_s3_bucket.export[0]"]["bucket"]
    assert settings.prefix == rendered.inputs["export_prefix"]


def test_export_filters_select_what_the_exporter_exports():
    # The stream filters (export.tf) and the exporter's rules (runtime.export.RULES) agree: the
    # same final values, and the same key prefix of the items that are records.
    assert set(LOCALS["final_statuses"]) == export.RULES["workloads"].final[1]
    assert export.RULES["workloads"].final[0] == "status" and export.RULES["fleets"].final is None
    assert set(LOCALS["migration_final_states"]) == export.RULES["migrations"].final[1]
    assert export.RULES["migrations"].final[0] == "state"
    assert set(LOCALS["export_filters"]) == set(export.RULES)
    for table, key in LOCALS["export_record_keys"].items():
        assert (key["attribute"], key["prefix"]) == export.RULES[table].record_key, table
    assert export.RULES["workloads"].record_key is None


@pytest.mark.parametrize("function", CATALOG_READERS)
def test_catalog_readers_apply_the_zone_overrides(
    rendered: Rendered, function: str, monkeypatch: pytest.MonkeyPatch
):
    environment = rendered.environment(function)
    monkeypatch.setenv(catalog.ZONES_ENV_VAR, environment[catalog.ZONES_ENV_VAR])
    loaded = catalog.load_catalog()
    for region, zone in rendered.inputs["region_zones"].items():
        assert loaded.get(region).electricitymaps_zone == zone


@pytest.mark.parametrize("function", sorted(FUNCTIONS))
def test_tracing_is_off_unless_enabled(rendered: Rendered, function: str):
    assert rendered.environment(function)["POWERTOOLS_TRACE_DISABLED"] == "true"


def test_function_handlers_exist():
    for function, entry in FUNCTIONS.items():
        module, _, attr = entry["handler"].rpartition(".")
        path = PACKAGE.parent / (module.replace(".", "/") + ".py")
        assert path.exists(), f"{function}: no module {module}"
        assert f"def {attr}(" in path.read_text(), f"{function}: {module} has no {attr}"


# ---------------------------------------------------------------------------------------------
# IAM

# botocore service -> IAM prefix, for every service the module grants actions on.
SERVICES = {
    "dynamodb": "dynamodb",
    "lambda": "lambda",
    "scheduler": "scheduler",
    "sqs": "sqs",
    "ecs": "ecs",
    "batch": "batch",
    "stepfunctions": "states",
    "events": "events",
    "secretsmanager": "secretsmanager",
    "ssm": "ssm",
    "autoscaling": "autoscaling",
    "ec2": "ec2",
    "s3": "s3",
    "pricing": "pricing",
    "route53": "route53",
}
# API operations whose IAM action has another name.
# CopyObject is authorised as GetObject on the source and PutObject on the destination.
# ListObjectsV2 is authorised as ListBucket. TransactWriteItems is authorised per item (PutItem,
# DeleteItem...): the migrations' transactions put items, and delete a lock only with a put.
ACTION_NAMES = {
    "lambda:Invoke": "lambda:InvokeFunction",
    "s3:CopyObject": "s3:PutObject",
    "s3:ListObjectsV2": "s3:ListBucket",
    "dynamodb:TransactWriteItems": "dynamodb:PutItem",
}
# Operations authorised as more than one action: CopySnapshot with TagSpecifications is also
# authorised as CreateTags on the new snapshot.
ALSO_AUTHORISED_AS = {"ec2:CopySnapshot": {"ec2:CreateTags"}}
# Calls made by libraries on our behalf, keyed by what our code uses.
LIBRARY_CALLS = {
    "batch_writer": {"dynamodb:BatchWriteItem"},
    "DynamoDBPersistenceLayer": {
        "dynamodb:DeleteItem",
        "dynamodb:GetItem",
        "dynamodb:PutItem",
        "dynamodb:UpdateItem",
    },
}
# Calls only the local stack makes (Terraform creates the tables in AWS).
LOCAL_STACK_ONLY = {"dynamodb:CreateTable", "dynamodb:UpdateTimeToLive"}
_STATEMENTS_LOCAL = re.compile(r"\blocal\.(\w+_statements)\b")
# An action is a value; a condition key (route53:ChangeResourceRecordSetsActions) is a key.
_ACTION = re.compile(rf"\b(?:{'|'.join(SERVICES.values())}):[A-Z][A-Za-z]+\b(?!\\?\"\s*[:=])")


def called_actions() -> set[str]:
    """IAM actions of the AWS API operations the Lambda code calls (the CLI and the checkpoint
    agent, which runs inside workloads under their own roles, excluded)."""
    session = botocore.session.get_session()
    operations = {
        xform_name(op): f"{prefix}:{op}"
        for service, prefix in SERVICES.items()
        for op in session.get_service_model(service).operation_names
    }
    names: set[str] = set()
    for path in PACKAGE.rglob("*.py"):
        if {"cli", "agent"} & set(path.relative_to(PACKAGE).parts):
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call) and getattr(node.func, "attr", "") == "get_paginator":
                names.update(a.value for a in node.args if isinstance(a, ast.Constant))
            if isinstance(node, ast.Attribute):
                names.add(node.attr)
            elif isinstance(node, ast.Name | ast.alias):
                names.add(node.id if isinstance(node, ast.Name) else node.name)
    actions = {operations[n] for n in names if n in operations}
    actions |= {a for n, calls in LIBRARY_CALLS.items() if n in names for a in calls}
    actions |= {also for a in actions for also in ALSO_AUTHORISED_AS.get(a, ())}
    return {ACTION_NAMES.get(a, a) for a in actions} - LOCAL_STACK_ONLY


def granted_to(function: str) -> set[str]:
    """IAM actions the module grants one function for its code: its statements and the shared
    statement locals it uses. The function module's own grants serve the Lambda service (logs,
    traces, network interfaces, the dead-letter queue of async invocations), not our code."""
    entry = FUNCTIONS[function]
    names: set[str] = set()
    pending = set(_STATEMENTS_LOCAL.findall(json.dumps(entry)))
    while pending:  # statement locals may use other statement locals
        names |= pending
        pending = set(_STATEMENTS_LOCAL.findall(json.dumps([LOCALS[n] for n in pending]))) - names
    return set(_ACTION.findall(json.dumps([entry, [LOCALS[n] for n in sorted(names)]])))


def test_granted_iam_actions_equal_the_operations_the_code_calls():
    called, granted = called_actions(), set().union(*map(granted_to, FUNCTIONS))
    assert granted - called == set(), "granted but never called"
    assert called - granted == set(), "called but never granted"


def _alarmed_and_charted_metrics() -> set[str]:
    """Metric names the alarms and the dashboard read (SEARCH expressions, alarm metrics,
    Metrics Insights queries)."""
    text = (ROOT / "alarms.tf").read_text() + (ROOT / "modules/dashboard/main.tf").read_text()
    names = set()
    for match in re.finditer(r'MetricName=\(?((?:\\"\w+\\"(?: OR )?)+)', text):
        names |= set(re.findall(r'\\"(\w+)\\"', match.group(1)))
    names |= set(re.findall(r'\bmetric\s*=\s*"(\w+)"', text))
    names |= set(re.findall(r"SELECT \w+\((\w+)\)", text))
    return names


def test_every_metric_the_alarms_and_dashboard_read_is_emitted_by_the_runtime() -> None:
    from carbon_aware.runtime.states import State

    source = "\n".join(p.read_text() for p in PACKAGE.rglob("*.py"))
    # names the handlers compose: f"Dispatch{status.title()}" and the like, f"Sweep_{count}"
    composed = {f"{p}{s.title()}" for p in ("Dispatch", "Planned", "Workload") for s in State}
    composed |= {f"Sweep_{n}" for n in re.findall(r'counts\.add\("(\w+)"\)', source)}
    names = _alarmed_and_charted_metrics()
    assert {"FleetEmissionsGrams", "CarbonIntensity", "Migrations"} <= names  # the parser reads
    missing = sorted(n for n in names if f'"{n}"' not in source and n not in composed)
    assert not missing, f"alarmed or charted but never emitted: {missing}"
