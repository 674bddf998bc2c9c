"""Module-wide strategy inputs take effect or are rejected: strategy_weights per blended strategy,
max_cost_per_hour on workloads with prices (and said not applied on those without), the cost
basis of every blended decision, and sweeper_workers."""

from __future__ import annotations

import dataclasses
import time

import pytest
from tests.runtime.conftest import HOME, OTHER, AwsEnv
from tests.runtime.events import stored_spec

from carbon_aware.runtime import config, wiring
from carbon_aware.runtime.config import ConfigError, WorkloadSettings
from carbon_aware.runtime.planner import Planner
from carbon_aware.runtime.states import State
from carbon_aware.runtime.submission import NO_PRICE_SOURCE, strategy_of

BASE_ENV = {config.WORKLOADS_TABLE: "w", config.REGIONS: "eu-west-1"}


def settings_of(**env: str) -> WorkloadSettings:
    return WorkloadSettings.from_env({**BASE_ENV, **env})


def test_weights_apply_to_every_workload_using_that_strategy() -> None:
    weights = '{"balanced": {"carbon": 0.9, "cost": 0.1}, "cost_first": {"carbon": 0, "cost": 1}}'
    settings = settings_of(
        **{config.STRATEGY_WEIGHTS: weights, config.DEFAULT_STRATEGY: "combined"}
    )
    assert strategy_of({"strategy": "balanced"}, settings).carbon_weight == 0.9
    assert strategy_of({"strategy": "cost_first"}, settings).carbon_weight == 0.0
    assert strategy_of({"strategy": "carbon_first"}, settings).carbon_weight == 0.8  # its own
    own = {"strategy": "balanced", "strategy_options": {"carbon_weight": 0.3}}
    assert strategy_of(own, settings).carbon_weight == 0.3  # the workload's own options win


@pytest.mark.parametrize(
    ("env", "words"),
    [
        ({config.STRATEGY_WEIGHTS: '{"combined": {"carbon": 1, "cost": 0}}'}, "combined"),
        ({config.STRATEGY_WEIGHTS: '{"balanced": {"carbon": 0.7, "cost": 0.2}}'}, "sum to 1"),
        ({config.STRATEGY_WEIGHTS: '{"balanced": 0.7}'}, "{carbon, cost}"),
        ({config.STRATEGY_WEIGHTS: "[1]"}, "JSON object"),
        ({config.CHECKPOINT_BUDGET: "300"}, config.CHECKPOINT_BUDGET),
        ({config.CHECKPOINT_BUCKETS: '{"eu-west-1": 3}'}, config.CHECKPOINT_BUCKETS),
        ({config.SWEEPER_WORKERS: "0"}, config.SWEEPER_WORKERS),
        ({config.SWEEPER_WORKERS: "4.5"}, config.SWEEPER_WORKERS),
    ],
)
def test_bad_settings_are_rejected_naming_the_variable(env: dict, words: str) -> None:
    with pytest.raises(ConfigError, match=None) as caught:
        settings_of(**env)
    assert words in str(caught.value)


def test_workers_setting() -> None:
    assert settings_of().sweeper_workers == 4
    assert settings_of(**{config.SWEEPER_WORKERS: "8"}).sweeper_workers == 8


def plan(aws: AwsEnv, wid: str, settings: WorkloadSettings, **extra: object):
    now = time.time()
    spec = stored_spec(aws.targets[HOME]["lambda"], wid, regions=[HOME, OTHER], **extra)
    repo = wiring.repository()
    record = repo.create(wid, spec, now)
    return Planner(repo, wiring.signal_source(), wiring.schedules(), settings).plan(record, now)


def test_module_max_cost_constrains_workloads_with_prices(aws: AwsEnv) -> None:
    settings = dataclasses.replace(wiring.settings(), blend_options={"max_cost": 1.0})
    cheap_other = {HOME: {"on_demand": 3.0}, OTHER: {"on_demand": 0.5}}
    placed = plan(aws, "priced", settings, strategy="balanced", prices=cheap_other)
    assert placed.status == State.SCHEDULED and placed.decision["region"] == OTHER
    assert placed.decision["cost_basis"] == "prices submitted with the workload"
    too_dear = {HOME: {"on_demand": 3.0}, OTHER: {"on_demand": 2.0}}
    refused = plan(aws, "dear", settings, strategy="cost_first", prices=too_dear)
    assert refused.status == State.FAILED and "max_cost 1" in refused.history[-1]["reason"]


def test_module_max_cost_without_prices_is_said_not_applied(aws: AwsEnv) -> None:
    settings = dataclasses.replace(wiring.settings(), blend_options={"max_cost": 1.0})
    for name in ("carbon_first", "balanced", "cost_first"):
        record = plan(aws, f"unpriced-{name}", settings, strategy=name)
        assert record.status == State.SCHEDULED, record.history  # was infeasible: cost unknown
        assert record.decision["cost_basis"] == NO_PRICE_SOURCE
        assert "not applied" in record.decision["cost_constraint"]
    combined = plan(aws, "combined", settings, strategy="combined")
    assert "max_cost" in combined.decision["module_options"]
    assert "not applied" in combined.decision["module_options"]


def test_plain_strategies_carry_no_cost_notes(aws: AwsEnv) -> None:
    record = plan(aws, "plain", wiring.settings(), strategy="combined")
    assert not {"cost_basis", "cost_constraint", "module_options"} & set(record.decision)
