"""Drift between the Terraform module (read with python-hcl2) and the runtime it deploys: table
keys, indexes and TTL attributes; the environment each function gets; the IAM actions granted."""

from __future__ import annotations

import ast
import inspect
import json
import re
from pathlib import Path
from types import ModuleType

import botocore.session
import hcl2
import pytest
from botocore import xform_name

from carbon_aware.runtime import config, monitor_config, tables
from carbon_aware.signals import cache

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "lambda_src" / "carbon_aware"


def _locals() -> dict:
    """Every ``locals`` entry of the root module, whichever of its files declares it."""
    options = hcl2.SerializationOptions(strip_string_quotes=True, explicit_blocks=False)
    entries: dict = {}
    for path in sorted(ROOT.glob("*.tf")):
        with path.open() as f:
            parsed = hcl2.load(f, serialization_options=options)
        for block in parsed.get("locals", []):
            entries.update(block)
    return entries


LOCALS = _locals()
FUNCTIONS = LOCALS["functions"]

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
}


def test_the_module_creates_exactly_the_runtime_tables():
    assert set(LOCALS["tables"]) == set(RUNTIME_TABLES)


@pytest.mark.parametrize("table", sorted(RUNTIME_TABLES))
def test_table_keys_indexes_and_ttl_match_the_runtime(table):
    # python-hcl2 keeps `indexes = {}` as an empty object and `range_key = null` as None.
    assert LOCALS["tables"][table] == _as_hcl(*RUNTIME_TABLES[table])


# ---------------------------------------------------------------------------------------------
# Environment

SETTINGS: dict[str, ModuleType] = {
    "api": config,
    "intake": config,
    "scheduler": config,
    "executor": config,
    "completion": config,
    "monitor": monitor_config,
}
_ENV_NAME = re.compile(r"\b(?:CARBON_AWARE|POWERTOOLS)_[A-Z0-9_]+\b")
_ENV_LOCAL = re.compile(r"\blocal\.(\w+_environment)\b")


def _names(value: object) -> set[str]:
    return set(_ENV_NAME.findall(json.dumps(value)))


def terraform_env(function: str) -> set[str]:
    """Variables Terraform sets on ``function``: the common ones, the shared locals its entry
    merges, and its own."""
    environment = FUNCTIONS[function]["environment"]
    shared = _ENV_LOCAL.findall(json.dumps(environment))
    return (
        _names(LOCALS["common_environment"])
        | _names(environment)
        | {name for local in shared for name in _names(LOCALS[local])}
    )


def declared_env(settings: ModuleType) -> set[str]:
    """Every CARBON_AWARE_* name the settings module knows."""
    return {
        v for v in vars(settings).values() if isinstance(v, str) and v.startswith("CARBON_AWARE_")
    }


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


@pytest.mark.parametrize("function", sorted(SETTINGS))
def test_terraform_sets_only_variables_the_function_reads(function):
    ours = {n for n in terraform_env(function) if n.startswith("CARBON_AWARE_")}
    unread = ours - declared_env(SETTINGS[function])
    assert not unread, f"{function}: Terraform sets {sorted(unread)} that the runtime does not read"


@pytest.mark.parametrize("function", sorted(SETTINGS))
def test_terraform_sets_every_required_variable(function):
    missing = required_env(SETTINGS[function]) - terraform_env(function)
    assert not missing, f"{function}: the runtime requires {sorted(missing)}"


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
}
# API operations whose IAM action has another name.
ACTION_NAMES = {"lambda:Invoke": "lambda:InvokeFunction"}
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
_ACTION = re.compile(rf"\b(?:{'|'.join(SERVICES.values())}):[A-Z][A-Za-z]+\b")


def called_actions() -> set[str]:
    """IAM actions of the AWS API operations the Lambda code calls (CLI excluded)."""
    session = botocore.session.get_session()
    operations = {
        xform_name(op): f"{prefix}:{op}"
        for service, prefix in SERVICES.items()
        for op in session.get_service_model(service).operation_names
    }
    names: set[str] = set()
    for path in PACKAGE.rglob("*.py"):
        if "cli" in path.relative_to(PACKAGE).parts:
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Attribute):
                names.add(node.attr)
            elif isinstance(node, ast.Name | ast.alias):
                names.add(node.id if isinstance(node, ast.Name) else node.name)
    actions = {operations[n] for n in names if n in operations}
    actions |= {a for n, calls in LIBRARY_CALLS.items() if n in names for a in calls}
    return {ACTION_NAMES.get(a, a) for a in actions} - LOCAL_STACK_ONLY


def granted_to(function: str) -> set[str]:
    """IAM actions the module grants one function for its code: its statements and the shared
    statement locals it uses. The function module's own grants serve the Lambda service (logs,
    traces, network interfaces, the dead-letter queue of async invocations), not our code."""
    entry = FUNCTIONS[function]
    shared = [LOCALS[name] for name in _STATEMENTS_LOCAL.findall(json.dumps(entry))]
    return set(_ACTION.findall(json.dumps([entry, shared])))


def test_granted_iam_actions_equal_the_operations_the_code_calls():
    called, granted = called_actions(), set().union(*map(granted_to, FUNCTIONS))
    assert granted - called == set(), "granted but never called"
    assert called - granted == set(), "called but never granted"
