"""Credentials from Secrets Manager and SSM (moto): reference forms, caching, clear errors."""

from __future__ import annotations

import json

import boto3
import pytest

from carbon_aware.signals.secrets import SecretError, SecretResolver
from fakes.clock import FakeClock


@pytest.fixture
def aws(moto_aws):
    sm = boto3.client("secretsmanager")
    ssm = boto3.client("ssm")
    arn = sm.create_secret(Name="em-key", SecretString="em-secret-value")["ARN"]
    sm.create_secret(Name="wt", SecretString=json.dumps({"username": "u", "password": "p"}))
    ssm.put_parameter(Name="/carbon/em-key", Value="ssm-secret-value", Type="SecureString")
    return {"arn": arn}


@pytest.fixture
def calls(aws):
    seen: list[str] = []

    def client(service: str):
        made = boto3.client(service)
        made.meta.events.register("before-call", lambda model, **_: seen.append(model.name))
        return made

    return client, seen


@pytest.mark.parametrize(
    ("reference", "value"),
    [
        ("em-key", "em-secret-value"),
        ("secretsmanager:em-key", "em-secret-value"),
        ("/carbon/em-key", "ssm-secret-value"),
        ("ssm:/carbon/em-key", "ssm-secret-value"),
    ],
)
def test_reference_forms(aws, reference, value):
    assert SecretResolver(boto3.client).get(reference) == value


def test_arns(aws):
    resolver = SecretResolver(boto3.client)
    assert resolver.get(aws["arn"]) == "em-secret-value"
    ssm_arn = "arn:aws:ssm:eu-west-1:123456789012:parameter/carbon/em-key"
    assert resolver.get(ssm_arn) == "ssm-secret-value"


def test_values_are_cached_until_max_age(calls):
    client, seen = calls
    clock = FakeClock()
    resolver = SecretResolver(client, clock=clock, max_age=600)
    for _ in range(3):
        resolver.get("em-key")
    assert seen == ["GetSecretValue"]
    clock.advance(600)
    resolver.get("em-key")
    assert seen == ["GetSecretValue", "GetSecretValue"]


def test_json_fields(aws):
    assert SecretResolver(boto3.client).get_fields("wt", "username", "password") == ("u", "p")
    with pytest.raises(SecretError, match="secret em-key: must be a JSON object with username"):
        SecretResolver(boto3.client).get_fields("em-key", "username")


def test_missing_secret_names_the_reference_not_a_value(aws):
    with pytest.raises(SecretError, match="secret nope: ResourceNotFoundException"):
        SecretResolver(boto3.client).get("nope")
    with pytest.raises(SecretError, match="not a Secrets Manager or SSM parameter ARN"):
        SecretResolver(boto3.client).get("arn:aws:s3:::bucket/key")
