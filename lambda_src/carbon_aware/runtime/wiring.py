"""Builds the handlers' collaborators from the environment, once per Lambda container.

:func:`reset` drops everything built so far (and can install another clock): the local stack runs
the real handlers on a virtual clock this way.

Each function's bundle ships only what its handler module imports (see ``scripts/build.py``), so
collaborators only some functions use (the numpy-backed planner and monitor; the dispatcher,
completion, watchdog and canceller) are imported inside the function that builds them, and each
handler that uses one imports its module itself: a cold start loads only its own function's code.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from functools import cache
from typing import TYPE_CHECKING, Any

import boto3
from botocore.config import Config

from carbon_aware.engine.accounting import ProviderClass, Series, Span
from carbon_aware.engine.signal_type import SignalType
from carbon_aware.runtime.client_table import ClientTable
from carbon_aware.runtime.config import (
    SIGNAL_TYPE,
    SIGNALS_TABLE,
    WORKLOADS_TABLE,
    WorkloadSettings,
)
from carbon_aware.runtime.export_config import ExportSettings
from carbon_aware.runtime.migrations.settings import MIGRATIONS_TABLE
from carbon_aware.runtime.repository import WorkloadRepository
from carbon_aware.runtime.schedules import ScheduleGateway
from carbon_aware.signals.cache import DAY, SignalCache
from carbon_aware.signals.catalog import load_catalog
from carbon_aware.signals.clock import SYSTEM_CLOCK, Clock
from carbon_aware.signals.profiles import profile_series
from carbon_aware.signals.reader import CarbonReader

if TYPE_CHECKING:
    from carbon_aware.engine.signal import SignalSet
    from carbon_aware.runtime.cancel import Canceller
    from carbon_aware.runtime.completion import Completer
    from carbon_aware.runtime.dispatcher import Dispatcher
    from carbon_aware.runtime.fleet.instances import InstancePower
    from carbon_aware.runtime.fleet.optimizer import FleetOptimizer
    from carbon_aware.runtime.fleet.repository import FleetRepository
    from carbon_aware.runtime.fleet.settings import FleetSettings
    from carbon_aware.runtime.interruptions.responder import Responder
    from carbon_aware.runtime.interruptions.settings import InterruptionSettings
    from carbon_aware.runtime.migrations.orchestrator import Orchestrator
    from carbon_aware.runtime.migrations.repository import MigrationRepository
    from carbon_aware.runtime.migrations.settings import MigrationSettings
    from carbon_aware.runtime.migrations.triggers import Triggers
    from carbon_aware.runtime.monitor import Monitor
    from carbon_aware.runtime.oracle import OracleSettler
    from carbon_aware.runtime.planner import Planner
    from carbon_aware.runtime.pricing import PriceBook
    from carbon_aware.runtime.watchdog import Watchdog

BOTO_CONFIG = Config(
    retries={"mode": "standard", "max_attempts": 3},
    connect_timeout=3,
    read_timeout=10,
    max_pool_connections=64,  # the sweep's worker and shard-reader threads share clients
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
    """The workloads repository (on a client: the sweep's worker threads share it)."""
    s = settings()
    table = ClientTable(client("dynamodb"), s.workloads_table)
    return WorkloadRepository(table, retention_seconds=s.workload_ttl_days * DAY)


class ProfileSignalSource:
    """Signals from the built-in regional profiles (estimated): the last-resort source."""

    def signal_set(self, regions: Sequence[str], start: float, end: float) -> SignalSet:
        """Profile signals for ``regions`` over ``[start, end)``."""
        from carbon_aware.engine.signal import SignalSet
        from carbon_aware.signals.profiles import profile_signal

        return SignalSet.of(profile_signal(r, start, end) for r in regions)

    def comparable(self, spans: Sequence[Span]) -> list[Series]:
        """Profile series for each span: one signal type and provider class by construction."""
        return [profile_series(s.region, s.start, s.end) for s in spans]

    def observed(
        self, spans: Sequence[Span], signal_type: SignalType, provider_class: ProviderClass
    ) -> list[Series | None]:
        """The profile for profile accounting (the only kind without a signals cache)."""
        if provider_class is not ProviderClass.PROFILE:
            return [None for _ in spans]
        return self.comparable(spans)


_clock: list[Clock] = [SYSTEM_CLOCK]


@cache
def export_settings() -> ExportSettings:
    """The exporter's settings (bucket and prefix)."""
    return ExportSettings.from_env(os.environ)


def clock() -> Clock:
    """The handlers' clock (the system clock outside the local stack)."""
    return _clock[0]


def reset(new_clock: Clock = SYSTEM_CLOCK) -> None:
    """Forget every cached client and setting and use ``new_clock`` from now on."""
    _clock[0] = new_clock
    for built in (
        client,
        settings,
        repository,
        signal_source,
        monitor,
        price_book,
        export_settings,
        fleet_settings,
        fleet_repository,
        instance_power,
        migration_settings,
    ):
        built.cache_clear()


@cache
def signal_source() -> CarbonReader | ProfileSignalSource:
    """Where planning and accounting read carbon signals: the cache the monitor fills, falling
    back to the built-in profiles where it has nothing; only the profiles without a cache table."""
    table = os.environ.get(SIGNALS_TABLE, "").strip()
    if not table:
        return ProfileSignalSource()
    kind = SignalType(os.environ.get(SIGNAL_TYPE, "").strip() or SignalType.AVERAGE)
    cache_ = SignalCache(client("dynamodb"), table)
    return CarbonReader(cache_, load_catalog(), clock(), signal_type=kind)


@cache
def price_book() -> PriceBook | None:
    """Where planning reads cached prices (the signals table), or None without one."""
    from carbon_aware.runtime.pricing import PriceBook
    from carbon_aware.signals.prices.store import PriceStore

    table = os.environ.get(SIGNALS_TABLE, "").strip()
    return PriceBook(PriceStore(client("dynamodb"), table)) if table else None


@cache
def monitor() -> Monitor:
    """The carbon-data monitor (built on first use, reused while warm)."""
    from carbon_aware.runtime.monitor import Monitor
    from carbon_aware.runtime.monitor_config import MonitorSettings
    from carbon_aware.signals.secrets import SecretResolver

    config = MonitorSettings.from_env()
    return Monitor.build(
        config,
        dynamodb=client("dynamodb"),
        secrets=SecretResolver(client),
        clock=clock(),
        pricing=client("pricing", config.price_list_region) if config.price_list_region else None,
    )


def schedules() -> ScheduleGateway:
    """The executor's schedule gateway."""
    s = settings()
    return ScheduleGateway(
        client("scheduler"),
        s.schedule_group,
        s.executor_arn,
        s.scheduler_role_arn,
        kms_key_arn=s.schedule_kms_key_arn,
    )


def planner() -> Planner:
    """The planner wired to the environment."""
    from carbon_aware.runtime.planner import Planner

    return Planner(repository(), signal_source(), schedules(), settings(), price_book())


def dispatcher() -> Dispatcher:
    """The dispatcher wired to the environment."""
    from carbon_aware.runtime.dispatcher import Dispatcher, sqs_dead_letters

    s = settings()
    return Dispatcher(
        repository(), s, client, sqs_dead_letters(client("sqs"), s.dead_letter_queue_url)
    )


def completer() -> Completer:
    """The completion recorder wired to the environment."""
    from carbon_aware.runtime.completion import Completer

    return Completer(repository(), signal_source())


def watchdog() -> Watchdog:
    """The watchdog of overdue RUNNING workloads, wired to the environment."""
    from carbon_aware.runtime.watchdog import Watchdog

    return Watchdog(repository(), completer(), settings(), client)


def oracle_settler() -> OracleSettler:
    """Settles the oracle of finished workloads once their window is observed."""
    from carbon_aware.runtime.oracle import OracleSettler

    return OracleSettler(repository(), signal_source(), settings())


def canceller() -> Canceller:
    """Cancels workloads, stopping running targets."""
    from carbon_aware.runtime.cancel import Canceller

    return Canceller(repository(), completer(), client)


@cache
def fleet_settings() -> FleetSettings:
    """Fleet settings from the environment (read once)."""
    from carbon_aware.runtime.fleet.settings import FleetSettings

    return FleetSettings.from_env()


@cache
def fleet_repository() -> FleetRepository:
    """The fleets table's repository."""
    from carbon_aware.runtime.fleet.repository import FleetRepository

    return FleetRepository(client("dynamodb"), fleet_settings().fleet_table)


@cache
def instance_power() -> InstancePower:
    """Watts per instance type, described once per process (the specs never change)."""
    from carbon_aware.runtime.fleet.instances import InstancePower

    return InstancePower(lambda region: client("ec2", region))


def fleet_optimizer(emit: Any = None) -> FleetOptimizer:
    """The fleet optimizer wired to the environment."""
    from carbon_aware.runtime.fleet.optimizer import FleetOptimizer
    from carbon_aware.runtime.fleet.sources import (
        NeutralMarket,
        cached_sources,
    )
    from carbon_aware.signals.prices.store import PriceStore
    from carbon_aware.signals.prices.unavailable import CapacityMarks
    from carbon_aware.signals.renewables import ProfileRenewables

    config = fleet_settings()
    prices: Any = NeutralMarket()
    scores: Any = prices
    renewables: Any = ProfileRenewables()
    marks = None
    if config.signals_table:
        store = PriceStore(client("dynamodb"), config.signals_table)
        marks = CapacityMarks(store)
        prices, scores, renewables = cached_sources(
            store,
            lambda region: client("ec2", region),
            call_region=os.environ.get("AWS_REGION", "us-east-1"),
            daily_budget=config.placement_score_daily_budget,
        )
    hold = None
    if os.environ.get(MIGRATIONS_TABLE):
        from carbon_aware.runtime.migrations.repository import fleet_subject

        migrations_table = migration_repository()
        hold = lambda fleet: migrations_table.holder(fleet_subject(fleet))  # noqa: E731
    return FleetOptimizer(
        config,
        autoscaling=lambda region: client("autoscaling", region),
        repository=fleet_repository(),
        carbon=signal_source(),
        prices=prices,
        scores=scores,
        renewables=renewables,
        marks=marks,
        emit=emit,
        hold=hold,
        power=instance_power(),
    )


@cache
def migration_settings() -> MigrationSettings:
    """Migration settings from the environment (read once)."""
    from carbon_aware.runtime.migrations.settings import MigrationSettings

    return MigrationSettings.from_env()


def migration_repository() -> MigrationRepository:
    """The migrations table's repository."""
    from carbon_aware.runtime.migrations.repository import MigrationRepository

    return MigrationRepository(client("dynamodb"), migration_settings().table)


def migrations(emit: Any = None) -> Orchestrator:
    """The migration orchestrator with its strategies, wired to the environment; a strategy
    whose settings are absent (no fleets, no workloads table, no services) takes no migrations,
    and ``live`` refuses starts unless enabled."""
    from carbon_aware.runtime.migrations.orchestrator import Orchestrator
    from carbon_aware.runtime.migrations.strategies.blue_green import BlueGreen
    from carbon_aware.runtime.migrations.strategies.checkpoint_restore import CheckpointRestore
    from carbon_aware.runtime.migrations.strategies.drain_and_shift import DrainAndShift
    from carbon_aware.runtime.migrations.strategies.live import LivePreCopy

    config = migration_settings()
    strategies: dict[str, Any] = {}
    fleets = fleet_settings()
    if fleets.fleets:
        strategies["drain_and_shift"] = DrainAndShift(
            fleets.fleets, lambda region: client("autoscaling", region), fleet_repository()
        )
    if os.environ.get(WORKLOADS_TABLE):
        strategies["checkpoint_restore"] = CheckpointRestore(repository(), settings(), client)
        strategies["live"] = LivePreCopy(repository(), settings(), client, enabled=config.live)
    if config.services:
        strategies["blue_green"] = BlueGreen(
            config.services, client, config.timeouts, config.poll_seconds
        )
    return Orchestrator(
        migration_repository(),
        strategies,
        timeouts=config.timeouts,
        poll_seconds=config.poll_seconds,
        emit=emit,
    )


def migration_triggers(orchestrator: Orchestrator, emit: Any = None) -> Triggers | None:
    """The trigger pass over ``orchestrator``, or None when it is off (``auto`` false) or there is
    nothing it could move (no workloads table)."""
    from carbon_aware.runtime.migrations.triggers import Triggers
    from carbon_aware.signals.prices.store import PriceStore
    from carbon_aware.signals.renewables import CachedRenewables, ProfileRenewables

    config = migration_settings()
    if not config.auto or "checkpoint_restore" not in orchestrator.strategies:
        return None
    table = os.environ.get(SIGNALS_TABLE, "").strip()
    renewables = (
        ProfileRenewables(CachedRenewables(PriceStore(client("dynamodb"), table)))
        if table
        else ProfileRenewables()
    )
    return Triggers(
        orchestrator,
        orchestrator.repo,
        repository(),
        settings(),
        config.policy,
        signal_source(),
        renewables,
        emit,
    )


def interruption_responder(
    interruption: InterruptionSettings, emit: Any, drain_budget: Any
) -> Responder:
    """The interruption responder wired to the environment."""
    from carbon_aware.runtime.interruptions.checkpoint import SsmCheckpoint
    from carbon_aware.runtime.interruptions.responder import Responder, invoke_optimizer
    from carbon_aware.signals.prices.store import PriceStore
    from carbon_aware.signals.prices.unavailable import CapacityMarks

    fleets = fleet_settings()
    s = settings()
    table = os.environ.get(SIGNALS_TABLE, "").strip()
    marks = CapacityMarks(PriceStore(client("dynamodb"), table)) if table else None
    optimizer_arn = interruption.fleet_optimizer_arn
    return Responder(
        settings=interruption,
        fleets=fleets.fleets,
        ec2=lambda region: client("ec2", region),
        autoscaling=lambda region: client("autoscaling", region),
        checkpoint=SsmCheckpoint(
            lambda region: client("ssm", region), interruption.checkpoint_document
        ),
        marks=marks,
        planner=planner(),
        run_fleets=invoke_optimizer(client("lambda"), optimizer_arn)
        if optimizer_arn
        else (lambda names: None),
        prefix=s.name_prefix,
        drain_budget=drain_budget,
        emit=emit,
    )
