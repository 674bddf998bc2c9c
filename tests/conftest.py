"""Shared fixtures: a fake clock, fake provider APIs on 127.0.0.1, and in-process moto.

Having this file here puts ``tests/`` on ``sys.path``, so tests import the doubles as ``fakes``.
"""

from __future__ import annotations

import inspect
import os
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest
from moto import mock_aws

from carbon_aware.signals.cache import create_table
from fakes.aws import SIGNALS_TABLE
from fakes.clock import FakeClock
from fakes.providers import ElectricityMapsApp, NesoApp, WattTimeApp
from fakes.server import FakeServer

# No test reads moto's ~1,300 default Amazon images per Region; loading them costs about 0.2 s
# per Region each time an EC2 backend starts (every in-process moto test touching EC2).
os.environ.setdefault("MOTO_EC2_LOAD_DEFAULT_AMIS", "false")

TERRAFORM_TESTS = Path(__file__).resolve().parent / "terraform"
# The longest groups, started first so the two workers finish together.
LONGEST_GROUPS = ("tests/bundles/test_build.py", "local_demo", "terraform")


def _group(item: pytest.Item) -> str:
    """The xdist group ``item`` runs in: its file, the shared demo run, or the Terraform tests
    (with every test using a fixture of theirs: they run terraform in the same directories)."""
    if "local_demo" in getattr(item, "fixturenames", ()):
        return "local_demo"
    path = item.path.relative_to(item.config.rootpath)
    info = getattr(item, "_fixtureinfo", None)
    fixtures = [d for defs in info.name2fixturedefs.values() for d in defs] if info else []
    if path.parts[:2] == ("tests", "terraform") or any(
        TERRAFORM_TESTS in Path(inspect.getfile(d.func)).parents for d in fixtures
    ):
        return "terraform"
    return path.as_posix()


def pytest_itemcollected(item: pytest.Item) -> None:
    """Group tests for ``--dist loadgroup`` (as each is collected: pytest-xdist reads the groups
    in its own collection hook): a group runs on one worker, so a module- or session-scoped
    fixture is built once. The demo run is shared by two files, and the Terraform tests init the
    same configurations, so each of those is one group."""
    item.add_marker(pytest.mark.xdist_group(_group(item)))


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The longest groups first, so the two workers finish together."""
    items.sort(key=lambda item: _group(item) not in LONGEST_GROUPS)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def loopback(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy", "ALL_PROXY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")


@pytest.fixture
def em_server(clock: FakeClock, loopback: None) -> Iterator[FakeServer]:
    with FakeServer(ElectricityMapsApp(clock), clock.now) as server:
        yield server


@pytest.fixture
def wt_server(clock: FakeClock, loopback: None) -> Iterator[FakeServer]:
    with FakeServer(WattTimeApp(clock), clock.now) as server:
        yield server


@pytest.fixture
def neso_server(clock: FakeClock, loopback: None) -> Iterator[FakeServer]:
    with FakeServer(NesoApp(clock), clock.now) as server:
        yield server


@pytest.fixture
def moto_aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")
    monkeypatch.setenv("AWS_REGION", "eu-west-1")
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    with mock_aws():
        yield


@pytest.fixture
def dynamodb(moto_aws: None) -> object:
    client = boto3.client("dynamodb", region_name="eu-west-1")
    create_table(client, SIGNALS_TABLE)
    return client
