"""Builds the handlers' collaborators from the environment, once per Lambda container."""

from __future__ import annotations

import os
from collections.abc import Sequence
from functools import cache
from typing import Any

import boto3
from botocore.config import Config

from carbon_aware.engine import SignalSet
from carbon_aware.runtime.completion import Completer
from carbon_aware.runtime.config import WorkloadSettings
from carbon_aware.runtime.dispatcher import Dispatcher, sqs_dead_letters
from carbon_aware.runtime.planner import Planner, SignalSource
from carbon_aware.runtime.repository import WorkloadRepository
from carbon_aware.runtime.schedules import ScheduleGateway

BOTO_CONFIG = Config(
    retries={"mode": "standard", "max_attempts": 3}, connect_timeout=3, read_timeout=10
)


@cache
def client(service: str, region: str | None = None) -> Any:
    """A cached boto3 client (standard retries, explicit timeouts)."""
    return boto3.client(
        service, region_name=region or os.environ.get("AWS_REGION"), config=BOTO_CONFIG
    )


@cache
def settings() -> WorkloadSettings:
    """Settings from the environment (read once)."""
    return WorkloadSettings.from_env()


@cache
def repository() -> WorkloadRepository:
    """The workloads repository."""
    table = boto3.resource("dynamodb", config=BOTO_CONFIG).Table(settings().workloads_table)
    return WorkloadRepository(table)


class ProfileSignalSource:
    """Signals from the built-in regional profiles (estimated): the last-resort source."""

    def signal_set(self, regions: Sequence[str], start: float, end: float) -> SignalSet:
        """Profile signals for ``regions`` over ``[start, end)``."""
        from carbon_aware.signals.profiles import profile_signal

        return SignalSet.of(profile_signal(r, start, end) for r in regions)


@cache
def signal_source() -> SignalSource:
    """Where planning and accounting read carbon signals."""
    return ProfileSignalSource()


def schedules() -> ScheduleGateway:
    """The executor's schedule gateway."""
    s = settings()
    return ScheduleGateway(
        client("scheduler"), s.schedule_group, s.executor_arn, s.scheduler_role_arn
    )


def planner() -> Planner:
    """The planner wired to the environment."""
    return Planner(repository(), signal_source(), schedules(), settings())


def dispatcher() -> Dispatcher:
    """The dispatcher wired to the environment."""
    s = settings()
    return Dispatcher(
        repository(), s, client, sqs_dead_letters(client("sqs"), s.dead_letter_queue_url)
    )


def completer() -> Completer:
    """The completion recorder wired to the environment."""
    return Completer(repository(), signal_source())
