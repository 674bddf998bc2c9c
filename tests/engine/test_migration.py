"""Migration policy: overhead model, each guard, state round trips, realised grams, the replay."""

from __future__ import annotations

import dataclasses
import importlib.util
import json
import random
from pathlib import Path

import numpy as np
import pytest

from carbon_aware.engine.accounting import Series
from carbon_aware.engine.migration import (
    KWH_PER_GB,
    Decision,
    GlobalState,
    MigrationError,
    MigrationPolicy,
    Subject,
    SubjectState,
    completed,
    evaluate,
    net_grams,
    rolled_back,
    saving_g,
)
from carbon_aware.engine.migration_replay import replay

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT.parent / "shared" / "data"
T0 = 1_700_000_000.0
H = 3600.0
# One confirmation, no dwell, no margin: each test turns on the guard it checks.
OPEN = MigrationPolicy(confirmations=1, min_dwell_minutes=0.0, margin_g=0.0, margin_ratio=0.0)
SUBJECT = Subject("w1", power_kw=1.0, checkpoint_gb=4.0, overlap_minutes=30.0, regions=("a", "b"))


def flat(**values: float) -> dict[str, list[float]]:
    return {r: [v] * 24 for r, v in values.items()}


def run(
    policy: MigrationPolicy = OPEN,
    state: SubjectState | None = None,
    glob: GlobalState | None = None,
    forecast: dict[str, list[float]] | None = None,
    subject: Subject = SUBJECT,
    now: float = T0,
    **kw: object,
):
    return evaluate(
        policy,
        state or SubjectState("a"),
        glob or GlobalState(),
        subject,
        now,
        forecast if forecast is not None else flat(a=400.0, b=100.0),
        **kw,  # type: ignore[arg-type]
    )


# --- policy validation -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("threshold_g_per_kwh", -1.0),
        ("renewable_floor", 1.5),
        ("margin_g", float("nan")),
        ("margin_ratio", -0.1),
        ("horizon_hours", 0.5),
        ("confirmations", 0),
        ("confirmations", 1.5),
        ("min_dwell_minutes", -5.0),
        ("max_per_workload_per_day", 0),
        ("max_fleet_fraction", 0.0),
        ("max_fleet_fraction", 1.2),
        ("cooldown_minutes", "60"),
        ("surge_limit_per_hour", True),
        ("surge_raise_g_per_kwh", -10.0),
    ],
)
def test_policy_rejects_invalid_fields_naming_them(field: str, value: object) -> None:
    with pytest.raises(MigrationError, match=field):
        MigrationPolicy(**{field: value})  # type: ignore[arg-type]


def test_max_cooldown_must_not_be_below_the_base() -> None:
    with pytest.raises(MigrationError, match="max_cooldown_minutes"):
        MigrationPolicy(cooldown_minutes=120.0, max_cooldown_minutes=60.0)


@pytest.mark.parametrize(
    ("field", "value"),
    [("workload_id", ""), ("power_kw", -1.0), ("checkpoint_gb", None), ("regions", ())],
)
def test_subject_rejects_invalid_fields_naming_them(field: str, value: object) -> None:
    with pytest.raises(MigrationError, match=field):
        dataclasses.replace(SUBJECT, **{field: value})


# --- overhead model ----------------------------------------------------------------------------


def test_saving_and_overhead_by_hand() -> None:
    s = saving_g(1.0, [400.0] * 24, [100.0] * 24, 24, 0.5, 10.0)
    assert s.saving_g == 24 * 300.0
    # the source copy for half an hour, then 10 GB x 0.001 kWh/GB half at each end
    assert s.overhead_g == 0.5 * 400.0 + 10.0 * KWH_PER_GB * (400.0 + 100.0) / 2
    assert s.net_g == s.saving_g - s.overhead_g


def test_saving_counts_a_partial_last_hour_and_clips_to_the_forecast() -> None:
    source, target = [400.0, 300.0, 500.0], [100.0, 100.0, 100.0]
    assert saving_g(2.0, source, target, 2.5, 0.0, 0.0).saving_g == 2.0 * (300 + 200 + 0.5 * 400)
    assert saving_g(1.0, source, target, 48, 0.0, 0.0).saving_g == 300 + 200 + 400


def test_overlap_longer_than_an_hour_runs_over_the_source_path() -> None:
    s = saving_g(1.0, [400.0, 200.0], [100.0, 100.0], 2, 1.5, 0.0)
    assert s.overhead_g == 400.0 + 0.5 * 200.0


def test_realised_net_on_observed_series_and_a_move_that_did_not_pay() -> None:
    times = T0 + H * np.arange(4)
    source = Series.from_points("a", times, [400.0, 100.0, 100.0, 100.0])
    target = Series.from_points("b", times, [100.0, 300.0, 300.0, 300.0])
    good = net_grams(
        source, target, power_kw=1.0, start=T0, end=T0 + H, overlap_minutes=30, checkpoint_gb=2
    )
    assert good.saving_g == pytest.approx(300.0)
    assert good.overhead_g == pytest.approx(0.5 * 400.0 + 2 * KWH_PER_GB * 250.0)
    assert good.net_g == pytest.approx(300.0 - good.overhead_g)
    bad = net_grams(
        source, target, power_kw=1.0, start=T0, end=T0 + 4 * H, overlap_minutes=30, checkpoint_gb=2
    )
    assert bad.saving_g == pytest.approx(300.0 - 3 * 200.0)
    assert bad.net_g < 0


# --- guards ------------------------------------------------------------------------------------


def test_threshold_trigger() -> None:
    below = run(forecast=flat(a=299.0, b=10.0))
    assert not below.decision.go
    assert "no trigger" in below.decision.reason
    assert run(forecast=flat(a=301.0, b=10.0)).decision.go


def test_renewable_floor_trigger_below_the_intensity_threshold() -> None:
    forecast = flat(a=250.0, b=10.0)
    low = run(forecast=forecast, renewable_share=0.2)
    assert low.decision.go
    assert "renewable share 20%" in low.decision.reason
    assert not run(forecast=forecast, renewable_share=0.4).decision.go
    assert not run(forecast=forecast).decision.go


def test_best_allowed_target_by_forecast_net() -> None:
    subject = dataclasses.replace(SUBJECT, regions=("a", "b", "c"))
    forecast = {**flat(a=400.0, b=200.0, c=150.0, z=0.0)}
    decision = run(forecast=forecast, subject=subject).decision
    assert decision.target == "c"  # z is cleaner but not allowed
    assert decision.saving_g == 24 * 250.0


def test_no_candidate_without_a_forecast() -> None:
    decision = run(forecast=flat(a=400.0)).decision
    assert not decision.go
    assert "no other allowed region" in decision.reason


def test_margin_relative_and_absolute() -> None:
    # saving 24 x 10 = 240 g, overhead 0.5 x 400 + 4 GB transfer = 200.82 g: net 39.18 g
    forecast = flat(a=400.0, b=390.0)
    net = run(forecast=forecast).decision.net_g
    assert run(forecast=forecast).decision.go
    absolute = dataclasses.replace(OPEN, margin_g=net + 1.0)
    held = run(absolute, forecast=forecast).decision
    assert not held.go
    assert "<= margin" in held.reason
    assert run(dataclasses.replace(OPEN, margin_g=net - 1.0), forecast=forecast).decision.go
    relative = dataclasses.replace(OPEN, margin_ratio=0.5)  # margin 100.41 g > net
    assert relative.margin_for(200.0) == 100.0
    assert not run(relative, forecast=forecast).decision.go


def test_confirmations_need_the_same_target_on_consecutive_evaluations() -> None:
    policy = dataclasses.replace(OPEN, confirmations=2)
    subject = dataclasses.replace(SUBJECT, regions=("a", "b", "c"))
    first = run(policy, subject=subject, forecast=flat(a=400.0, b=100.0, c=200.0))
    assert not first.decision.go
    assert "confirmation 1/2" in first.decision.reason
    other = run(policy, first.state, subject=subject, forecast=flat(a=400.0, b=200.0, c=100.0))
    assert not other.decision.go  # the best target changed: counting starts again
    assert "confirmation 1/2" in other.decision.reason
    second = run(policy, other.state, subject=subject, forecast=flat(a=400.0, b=200.0, c=100.0))
    assert second.decision.go
    assert second.decision.target == "c"


def test_a_lapsed_trigger_resets_the_confirmations() -> None:
    policy = dataclasses.replace(OPEN, confirmations=2)
    first = run(policy)
    lapsed = run(policy, first.state, forecast=flat(a=200.0, b=100.0))
    assert lapsed.state.confirmed == 0
    assert not run(policy, lapsed.state).decision.go


def test_min_dwell_since_the_last_move() -> None:
    policy = dataclasses.replace(OPEN, min_dwell_minutes=240.0)
    recent = SubjectState("a", moved_at=T0 - 239 * 60)
    held = run(policy, recent)
    assert not held.decision.go
    assert "dwell" in held.decision.reason
    assert held.state.pending == "b"  # still confirmed: it goes once the dwell is over
    assert run(policy, SubjectState("a", moved_at=T0 - 240 * 60)).decision.go


def test_daily_cap_per_workload_over_a_rolling_day() -> None:
    policy = dataclasses.replace(OPEN, max_per_workload_per_day=2)
    capped = run(policy, SubjectState("a", moves=(T0 - 3 * H, T0 - 20 * H)))
    assert not capped.decision.go
    assert "daily cap" in capped.decision.reason
    assert run(policy, SubjectState("a", moves=(T0 - 3 * H, T0 - 25 * H))).decision.go


def test_fleet_fraction_migrating_at_once() -> None:
    policy = dataclasses.replace(OPEN, max_fleet_fraction=0.25)
    full = run(policy, fleet_migrating=2, fleet_size=8)
    assert not full.decision.go
    assert "fleet cap" in full.decision.reason
    assert run(policy, fleet_migrating=1, fleet_size=8).decision.go
    assert run(policy, fleet_migrating=0, fleet_size=1).decision.go  # one may always move


def test_cooldown_doubles_per_consecutive_rollback_and_is_capped() -> None:
    policy = dataclasses.replace(OPEN, cooldown_minutes=60.0, max_cooldown_minutes=180.0)
    assert [policy.cooldown_seconds(n) / 60 for n in range(5)] == [0, 60, 120, 180, 180]
    moved = run(policy).state
    once = rolled_back(policy, moved, "a", T0)
    assert (once.region, once.rollbacks, once.cooldown_until) == ("a", 1, T0 + 3600)
    twice = rolled_back(policy, once, "a", T0 + 2 * H)
    assert twice.cooldown_until == T0 + 2 * H + 2 * 3600
    held = run(policy, twice, now=T0 + 4 * H - 60)
    assert not held.decision.go
    assert "cooldown" in held.decision.reason
    assert run(policy, twice, now=T0 + 4 * H).decision.go
    assert completed(twice).rollbacks == 0
    assert rolled_back(policy, completed(twice), "a", T0).cooldown_until == T0 + 3600


def test_surge_raises_the_threshold_and_says_so() -> None:
    policy = dataclasses.replace(OPEN, surge_limit_per_hour=10, surge_raise_g_per_kwh=100.0)
    forecast = flat(a=350.0, b=10.0)
    busy = GlobalState(tuple(T0 - 60 * i for i in range(11)))
    held = run(policy, glob=busy, forecast=forecast)
    assert not held.decision.go
    assert held.decision.threshold_g_per_kwh == 400.0
    assert "surge: 11 migrations in the last hour > 10" in held.decision.reason
    assert not run(policy, glob=busy, forecast=forecast, renewable_share=0.1).decision.go
    assert run(policy, glob=busy, forecast=flat(a=450.0, b=10.0)).decision.go
    calm = GlobalState(tuple(T0 - 60 * i for i in range(10)))
    assert run(policy, glob=calm, forecast=forecast).decision.go
    old = GlobalState(tuple(T0 - H - i for i in range(11)))
    assert run(policy, glob=old, forecast=forecast).decision.go


# --- decisions, states ---------------------------------------------------------------------------


def test_go_moves_the_state_and_counts_the_start() -> None:
    glob = GlobalState((T0 - 2 * H,))
    result = run(glob=glob)
    assert result.decision.go
    assert result.state == SubjectState("b", moved_at=T0, moves=(T0,))
    assert result.global_state.starts == (T0,)  # the start two hours ago is pruned


def test_states_round_trip_through_plain_json() -> None:
    state = SubjectState("a", T0, (T0 - H, T0), "b", 1, 2, T0 + H)
    glob = GlobalState((T0, T0 + 1))
    assert SubjectState.from_dict(json.loads(json.dumps(state.to_dict()))) == state
    assert GlobalState.from_dict(json.loads(json.dumps(glob.to_dict()))) == glob
    assert SubjectState.from_dict({"region": "a"}) == SubjectState("a")
    with pytest.raises(MigrationError, match="subject state"):
        SubjectState.from_dict({"moves": []})
    decision = run().decision.to_dict()
    assert decision["net_g"] == decision["saving_g"] - decision["overhead_g"]
    assert Decision(**{k: v for k, v in decision.items() if k != "net_g"}).to_dict() == decision


@pytest.mark.parametrize(
    ("name", "kw"),
    [
        ("renewable_share", {"renewable_share": 30.0}),
        ("fleet_size", {"fleet_size": 0}),
        ("fleet_migrating", {"fleet_migrating": -1}),
    ],
)
def test_evaluate_rejects_invalid_inputs_naming_them(name: str, kw: dict) -> None:
    with pytest.raises(MigrationError, match=name):
        run(**kw)


def test_current_region_needs_a_forecast() -> None:
    with pytest.raises(MigrationError, match="current region a"):
        run(forecast=flat(b=10.0))


def test_random_decisions_net_is_saving_minus_overhead_and_never_goes_within_the_margin() -> None:
    rng = random.Random(13)
    regions = ("a", "b", "c", "d")
    gone = 0
    for _ in range(2000):
        policy = MigrationPolicy(
            threshold_g_per_kwh=rng.uniform(0, 500),
            margin_g=rng.uniform(0, 500),
            margin_ratio=rng.uniform(0, 2),
            horizon_hours=rng.uniform(1, 48),
            confirmations=1,
            min_dwell_minutes=0.0,
        )
        subject = Subject(
            "w",
            rng.uniform(0.01, 5),
            rng.uniform(0, 50),
            rng.uniform(0, 120),
            regions,
            rng.choice([None, rng.uniform(0, 30)]),
        )
        forecast = {r: [rng.uniform(0, 800) for _ in range(rng.randint(1, 36))] for r in regions}
        result = run(policy, subject=subject, forecast=forecast, renewable_share=rng.random())
        d = result.decision
        assert d.net_g == d.saving_g - d.overhead_g
        if d.target is not None:
            hours = policy.horizon_hours
            if subject.remaining_hours is not None:
                hours = min(hours, subject.remaining_hours)
            expected = saving_g(
                subject.power_kw,
                forecast["a"],
                forecast[d.target],
                hours,
                subject.overlap_minutes / 60,
                subject.checkpoint_gb,
            )
            assert (d.saving_g, d.overhead_g) == (expected.saving_g, expected.overhead_g)
            assert d.margin_g == policy.margin_for(expected.overhead_g)
        if d.go:
            gone += 1
            assert d.net_g > d.margin_g
            assert d.net_g > 0 or d.margin_g < 0
    assert 100 < gone < 1900  # both outcomes were exercised


# --- replay ------------------------------------------------------------------------------------


def test_replay_accounts_against_never_migrating() -> None:
    hours = 48
    carbon = np.column_stack((np.full(hours, 500.0), np.full(hours, 100.0)))
    subject = Subject("w", 2.0, 10.0, 30.0, ("a", "b"))
    result = replay(
        MigrationPolicy(),  # the dwell counts from the placement: moves at hour 4, then stays
        [(subject, "a")],
        ("a", "b"),
        T0 - T0 % H,
        carbon,
        lambda hour: carbon[hour : hour + 24],
    )
    (move,) = result.moves
    assert (move.hour, move.source, move.target) == (4, "a", "b")
    overhead = 2.0 * 0.5 * 500.0 + 10.0 * KWH_PER_GB * 300.0
    assert move.overhead_g == pytest.approx(overhead)
    assert move.realised_net_g == pytest.approx(44 * 2.0 * 400.0 - overhead)
    assert result.baseline_g == 48 * 2.0 * 500.0
    assert result.saved_g == pytest.approx(44 * 2.0 * 400.0 - overhead)
    summary = result.summary()
    assert summary["migrations"] == 1
    assert summary["paid_share"] == 1.0
    assert summary["per_workload_day"] == 0.5


def test_replay_fleet_cap_spreads_a_crowd_over_evaluations() -> None:
    hours = 6
    carbon = np.column_stack((np.full(hours, 500.0), np.full(hours, 100.0)))
    policy = dataclasses.replace(OPEN, max_fleet_fraction=0.25)
    crowd = [(dataclasses.replace(SUBJECT, workload_id=f"w{i}"), "a") for i in range(8)]
    result = replay(policy, crowd, ("a", "b"), T0 - T0 % H, carbon, lambda h: carbon[h : h + 24])
    assert [m.hour for m in sorted(result.moves, key=lambda m: m.hour)] == [0, 0, 1, 1, 2, 2, 3, 3]


def _bench_module():
    path = ROOT / "scripts/bench_migrations.py"
    spec = importlib.util.spec_from_file_location("bench_migrations", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_bench_skips_without_the_shared_data(tmp_path, capsys) -> None:
    assert _bench_module().main(["--data-dir", str(tmp_path / "absent")]) == 0
    assert "skipped, shared data not found" in capsys.readouterr().out


@pytest.mark.skipif(not DATA.exists(), reason=f"shared data not found at {DATA}")
def test_bench_on_two_days_of_real_data(tmp_path) -> None:
    out = tmp_path / "bench.json"
    bench = _bench_module()
    assert bench.main(["--days", "2", "--output", str(out)]) == 0
    figures = json.loads(out.read_text())
    assert [s["hours"] for s in figures["sets"]] == [48] * len(bench.REGION_SETS)
    for result in figures["sets"]:
        assert set(result["variants"]) == set(bench.VARIANTS)
