"""The trigger pass through the migrations function on moto: the policy's confirmations, threshold,
renewable floor (on shares cached by the monitor's refresh), ``auto`` switch, fleet cap, a broken
subject beside a good one, state kept across invocations and the cooldown doubling after
rollbacks, with only the function's grants (tests/runtime/conftest.py).
"""

from __future__ import annotations

import functools
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import boto3
import pytest
from tests.fleet.fleet_env import Carbon
from tests.runtime.conftest import HOME, OTHER, AwsEnv
from tests.runtime.events import Context

from carbon_aware.cli.demo_migrations import (
    EcsStarted,
    put_checkpoint,
    start_interruptible_run,
    tasks_keep_running,
)
from carbon_aware.engine.signal import SignalType
from carbon_aware.runtime import config, wiring
from carbon_aware.runtime.handlers import migrations
from carbon_aware.runtime.migrations import settings
from carbon_aware.runtime.migrations.orchestrator import AlreadyMigrating, Orchestrator
from carbon_aware.runtime.tables import MIGRATIONS_TABLE
from carbon_aware.signals.cache import create_table
from carbon_aware.signals.catalog import load_catalog
from carbon_aware.signals.prices.store import PriceStore
from carbon_aware.signals.providers.electricitymaps import RenewableShare
from carbon_aware.signals.renewables import refresh_renewables
from carbon_aware.signals.targets import plan_targets

T0 = 1_800_000_000.0
# Renewable shares come from the built-in profile here: a floor of 0 leaves the carbon trigger.
POLICY = {"renewable_floor": 0.0, "min_dwell_minutes": 0}


@dataclass
class Clock:
    t: float = T0

    def now(self) -> float:
        return self.t


@dataclass
class Env:
    aws: AwsEnv
    clock: Clock
    carbon: Carbon
    buckets: dict[str, str]

    def workload(self, workload_id: str, *, checkpoint: bool = True, valid: bool = True) -> None:
        """A running interruptible workload in HOME that may also run in OTHER."""
        extra = {
            "home_region": HOME,
            "regions": [HOME, OTHER],
            "deadline": datetime.fromtimestamp(T0 + 2 * 86400, UTC).isoformat(),
            "power_watts": 2000,
            "submitted_at": datetime.fromtimestamp(T0 - 3600, UTC).isoformat(),
        }
        start_interruptible_run(
            wiring.repository(),
            boto3.client("ecs", region_name=HOME),
            self.aws.targets[HOME]["ecs"],
            workload_id,
            self.clock.t,
            extra if valid else {"deadline": "soon"},
        )
        if checkpoint:
            put_checkpoint(
                boto3.client("s3", region_name=HOME),
                self.buckets[HOME],
                workload_id,
                3,
                self.clock.t,
            )

    def invoke(self, advance: float = 60.0) -> dict[str, Any]:
        """One scheduled invocation, ``advance`` seconds after the last."""
        self.clock.t += advance
        return migrations.handler({}, Context())

    def started(self) -> dict[str, str]:
        """Each migration's workload and state."""
        repo = wiring.migration_repository()
        return {m.spec["workload_id"]: str(m.state) for m in repo.recent()}

    def state(self, workload_id: str) -> dict[str, Any]:
        return wiring.migration_repository().policy_state(f"workload:{workload_id}").body


@pytest.fixture
def env(aws: AwsEnv, monkeypatch: pytest.MonkeyPatch) -> Iterator[Env]:
    buckets, keys = {}, {}
    for region in (HOME, OTHER):
        buckets[region] = f"ckpt-{region}"
        boto3.client("s3", region_name=region).create_bucket(
            Bucket=buckets[region], CreateBucketConfiguration={"LocationConstraint": region}
        )
        keys[region] = boto3.client("kms", region_name=region).create_key()["KeyMetadata"]["Arn"]
    boto3.client("dynamodb", region_name=HOME).create_table(
        TableName="migrations", **MIGRATIONS_TABLE
    )
    monkeypatch.setenv(config.CHECKPOINT_BUCKETS, json.dumps(buckets))
    monkeypatch.setenv(config.CHECKPOINT_KMS_KEYS, json.dumps(keys))
    monkeypatch.setenv(settings.MIGRATIONS_TABLE, "migrations")
    monkeypatch.setenv(settings.MIGRATION_POLL, "0.001")
    monkeypatch.setenv(settings.MIGRATION_AUTO, "true")
    monkeypatch.setenv(settings.MIGRATION_POLICY, json.dumps(POLICY))
    clock = Clock()
    carbon = Carbon({HOME: lambda t: 500.0, OTHER: lambda t: 50.0})
    wiring.reset(clock)
    plain = wiring.client

    @functools.cache  # wiring.reset() clears it like the real one
    def client(service: str, region: str | None = None) -> object:
        raw = plain(service, region)
        return EcsStarted(raw, clock.now) if service == "ecs" else raw

    monkeypatch.setattr(wiring, "client", client)
    monkeypatch.setattr(wiring, "signal_source", functools.cache(lambda: carbon))
    with tasks_keep_running():
        yield Env(aws, clock, carbon, buckets)


def test_a_dirty_region_with_a_clean_alternative_migrates_on_the_second_pass(env: Env) -> None:
    env.workload("train-1")
    first = env.invoke()
    assert first["ok"], first
    assert first["triggers"]["evaluated"] == 1 and first["triggers"]["started"] == {}
    assert env.started() == {}
    assert env.state("train-1")["confirmed"] == 1  # kept across invocations
    second = env.invoke()
    assert list(second["triggers"]["started"]) == ["train-1"]
    assert list(env.started()) == ["train-1"]
    m = wiring.migration_repository().recent()[0]
    assert m.spec["target"] == OTHER
    assert m.spec["basis"] == {
        "source_g_per_kwh": 500.0,
        "target_g_per_kwh": 50.0,
        "power_watts": 2000.0,
        "hours": 24.0,
    }
    assert env.state("train-1")["migration_id"] == m.migration_id


def test_below_the_threshold_nothing_starts(env: Env) -> None:
    env.carbon.intensity[HOME] = lambda t: 250.0
    env.workload("train-1")
    for _ in range(3):
        answer = env.invoke()
        assert answer["triggers"]["evaluated"] == 1 and not answer["triggers"]["started"]
    assert env.started() == {}


@dataclass
class Shares:
    """A renewable-share source answering ``share`` for every zone (the monitor's surface)."""

    share: float

    def supports(self, target: Any) -> bool:
        return True

    def renewable_share(self, target: Any, now: float) -> RenewableShare:
        return RenewableShare(target.zone, self.share, now, False)


@pytest.mark.parametrize(("share", "moves"), [(0.1, True), (0.5, False)])
def test_a_renewable_share_under_the_floor_triggers_below_the_carbon_threshold(
    env: Env, monkeypatch: pytest.MonkeyPatch, share: float, moves: bool
) -> None:
    env.carbon.intensity[HOME] = lambda t: 250.0  # under the 300 g/kWh threshold
    ddb = boto3.client("dynamodb", region_name=HOME)
    create_table(ddb, "signals")
    targets = plan_targets((HOME,), load_catalog(), SignalType.AVERAGE)
    refresh_renewables(
        Shares(share),
        targets,
        PriceStore(ddb, "signals"),
        env.clock.t,
        lambda *m: None,
        interval=900.0,
    )
    monkeypatch.setenv(config.SIGNALS_TABLE, "signals")
    monkeypatch.setenv(settings.MIGRATION_POLICY, json.dumps({**POLICY, "renewable_floor": 0.3}))
    wiring.reset(env.clock)
    env.workload("train-1")
    for _ in range(2):
        assert env.invoke()["triggers"]["evaluated"] == 1
    assert list(env.started()) == (["train-1"] if moves else [])


def test_auto_off_proposes_nothing(env: Env, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(settings.MIGRATION_AUTO, "false")
    wiring.reset(env.clock)
    env.workload("train-1")
    for _ in range(3):
        assert env.invoke()["triggers"] is None
    assert env.started() == {}


def test_a_fleet_already_migrating_gets_no_second_start(env: Env) -> None:
    for workload_id in ("train-1", "train-2"):
        env.workload(workload_id)
    wiring.migrations().start(
        {"kind": "checkpoint_restore", "workload_id": "train-1", "target": OTHER}, env.clock.t
    )
    for _ in range(3):
        answer = env.invoke(advance=0.0)  # the migration stays live
        assert answer["triggers"]["failed"] == 0 and not answer["triggers"]["started"]
    assert list(env.started()) == ["train-1"]
    assert env.state("train-2")["confirmed"] == 2  # held by the fleet cap, not by confirmations


def test_a_broken_subject_is_counted_and_the_good_one_still_starts(env: Env) -> None:
    env.workload("broken-1", valid=False)  # a deadline that is no time: the engine rejects it
    env.workload("train-1")
    first, second = env.invoke(), env.invoke()
    for answer in (first, second):
        assert not answer["ok"]
        assert answer["triggers"]["failed"] == 1 and "broken-1" in answer["triggers"]["errors"]
    assert list(second["triggers"]["started"]) == ["train-1"]


def test_each_rollback_doubles_the_cooldown(env: Env) -> None:
    env.workload("empty-1", checkpoint=False)  # nothing to carry: every migration rolls back
    rollbacks = []
    for _ in range(200):
        env.invoke(advance=120.0)
        state = env.state("empty-1")
        if state.get("rollbacks", 0) > len(rollbacks):
            rollbacks.append(state["cooldown_until"] - env.clock.t)
        if len(rollbacks) == 2:
            break
    assert len(rollbacks) == 2, env.state("empty-1")
    assert set(env.started().values()) == {"rolled_back"}
    # Settled at the first pass after the rollback (within 120 s of it).
    assert 3600 - 120 <= rollbacks[0] <= 3600
    assert 7200 - 120 <= rollbacks[1] <= 7200


def test_a_surge_is_reported(env: Env) -> None:
    repo = wiring.migration_repository()
    starts = [env.clock.t - 60.0 * k for k in range(11)]  # 11 > surge_limit_per_hour 10
    repo.put_policy_state("global", repo.policy_state("global"), {"starts": starts}, env.clock.t)
    env.workload("train-1")
    answer = env.invoke()
    assert answer["triggers"]["surge"] is True


@pytest.mark.parametrize(
    ("name", "value"),
    [
        (settings.MIGRATION_POLICY, "[1]"),
        (settings.MIGRATION_POLICY, '{"threshold": 1}'),
        (settings.MIGRATION_POLICY, '{"confirmations": 0}'),
        (settings.MIGRATION_AUTO, "yes"),
    ],
)
def test_bad_policy_settings_name_their_variable(name: str, value: str) -> None:
    with pytest.raises(config.ConfigError, match=name):
        settings.MigrationSettings.from_env({settings.MIGRATIONS_TABLE: "m", name: value})


def test_policy_settings_are_read() -> None:
    read = settings.MigrationSettings.from_env(
        {
            settings.MIGRATIONS_TABLE: "m",
            settings.MIGRATION_AUTO: "true",
            settings.MIGRATION_POLICY: '{"threshold_g_per_kwh": 250, "confirmations": 3}',
        }
    )
    assert read.auto and read.policy.threshold_g_per_kwh == 250 and read.policy.confirmations == 3
    assert not settings.MigrationSettings.from_env({settings.MIGRATIONS_TABLE: "m"}).auto


def test_a_start_that_loses_the_lock_is_ignored(env: Env, monkeypatch: pytest.MonkeyPatch) -> None:
    def taken(self: Orchestrator, request: Any, now: float, **kw: Any) -> Any:
        raise AlreadyMigrating(f"workload:{request['workload_id']}", "by-api")

    monkeypatch.setattr(Orchestrator, "start", taken)  # a start by API between holder and start
    env.workload("train-1")
    for _ in range(2):
        answer = env.invoke()
        assert answer["ok"] and answer["triggers"]["failed"] == 0, answer
        assert not answer["triggers"]["started"]
