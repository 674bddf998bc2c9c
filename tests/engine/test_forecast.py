"""Forecasting from history: no look-ahead, honest output, exact resampling, better decisions."""

from __future__ import annotations

import importlib.util
import math
from pathlib import Path

import numpy as np
import pytest

from carbon_aware.engine import Signal, SignalError, SignalSet, SignalType, Workload, get_strategy
from carbon_aware.engine.backtest import run_backtest
from carbon_aware.engine.forecast import (
    FEATURES,
    FORECASTERS,
    HistoryForecaster,
    HourlySeries,
    get_forecaster,
    history_forecast_fn,
    select_peers,
)

T0 = 1_672_531_200.0  # 2023-01-01T00:00:00Z, a Sunday
H = 3600.0
DAY = 24 * H
ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / ".." / "shared/data/carbon/hourly_2021_2023_16zones_lifecycle.csv"


def daily_pattern(days: int, seed: int = 0, weather_sd: float = 12.0) -> Signal:
    """A midday dip, a weekly swing, weather that persists for a day or two, and hourly noise."""
    rng = np.random.default_rng(seed)
    hours = np.arange(days * 24)
    weather = np.zeros(hours.size)
    for i in range(1, hours.size):
        weather[i] = 0.97 * weather[i - 1] + rng.normal(0, weather_sd)
    values = (
        300
        - 120 * np.exp(-(((hours % 24) - 13) ** 2) / 8)
        + 30 * np.sin(2 * np.pi * hours / (24 * 7))
        + weather
        + rng.normal(0, 10, hours.size)
    )
    return Signal.from_points("zone", T0 + H * hours, np.clip(values, 5, None))


def time_shift_jobs(start: float, count: int, step_hours: int = 1) -> list[Workload]:
    """1 h jobs with 24 h of slack, one every ``step_hours``."""
    jobs = []
    for i in range(count):
        submitted = start + i * step_hours * H
        jobs.append(Workload(f"j{i}", submitted, H, submitted + 25 * H, "zone", ("zone",), 1e3))
    return jobs


@pytest.mark.parametrize("name", sorted(FORECASTERS))
@pytest.mark.parametrize("offset", [0.0, 0.5 * H, 1.0])
def test_nothing_at_or_after_issue_time_changes_the_forecast(name: str, offset: float) -> None:
    signal = daily_pattern(70)
    issued = T0 + 60 * DAY + 5 * H + offset
    rng = np.random.default_rng(7)
    tampered = Signal.from_points(
        "zone",
        signal.times,
        np.where(signal.times >= issued, rng.uniform(0, 2000, signal.times.size), signal.values),
    )
    truncated = signal.window(signal.start, issued)
    forecasts = [get_forecaster(name).forecast(s, issued, 30 * H) for s in (signal, tampered)]
    forecasts.append(get_forecaster(name).forecast(truncated, issued, 30 * H))
    for other in forecasts[1:]:
        assert np.array_equal(forecasts[0].times, other.times)
        assert np.array_equal(forecasts[0].values, other.values)
    # The backtest path (precomputed hourly means, memoised daily fits) obeys the same rule.
    job = time_shift_jobs(issued, 1)[0]
    via_fn = [
        history_forecast_fn(SignalSet.of([s]), get_forecaster(name))(job)["zone"]
        for s in (signal, tampered)
    ]
    assert np.array_equal(via_fn[0].values, via_fn[1].values)
    assert np.allclose(via_fn[0].values[:30], forecasts[0].values[:30], rtol=1e-9)


@pytest.mark.parametrize("window_days", [365, 15])
def test_memoised_daily_fits_match_a_fresh_fit_for_every_issue_hour(window_days: int) -> None:
    # With a 15-day window the running sums also drop the days that leave the window.
    signal = daily_pattern(60, seed=4)
    fn = history_forecast_fn(SignalSet.of([signal]), HistoryForecaster(window_days=window_days))
    fresh = HistoryForecaster(window_days=window_days)
    for job in time_shift_jobs(T0 + 50 * DAY, 40, step_hours=7):
        past = signal.window(signal.start, job.submitted_at)
        expected = fresh.forecast(past, job.submitted_at, 48 * H).values
        assert np.allclose(fn(job)["zone"].values[:48], expected, rtol=1e-9, atol=1e-9)


def test_models_differ_by_hour_of_day_but_stay_near_the_pooled_one() -> None:
    signal = daily_pattern(90, seed=3)
    series = HourlySeries.from_signal(signal)
    loose = HistoryForecaster(shrinkage=0.01).fit(series)
    tight = HistoryForecaster(shrinkage=1e6).fit(series)
    assert loose.coef.shape == (24, 48, len(FEATURES))
    spread = [float(np.ptp(model.coef, axis=0).mean()) for model in (loose, tight)]
    assert spread[1] < 1e-3 * spread[0]


def test_oracles_shared_between_backtests_give_identical_results() -> None:
    signal = daily_pattern(40, seed=5)
    actual = SignalSet.of([signal])
    jobs = time_shift_jobs(T0 + 30 * DAY, 48)
    strategy = get_strategy("time_shift")
    oracles: dict = {}
    for name in ("naive_yesterday", "naive_median7"):
        fn = history_forecast_fn(actual, get_forecaster(name))
        shared = run_backtest(jobs, actual, strategy, fn, oracles=oracles).to_dict()
        assert shared == run_backtest(jobs, actual, strategy, fn).to_dict()
    assert len(oracles) == len(jobs)


@pytest.mark.parametrize("name", sorted(FORECASTERS))
def test_output_covers_the_horizon_with_honest_metadata(name: str) -> None:
    base = daily_pattern(50)
    history = Signal.from_points(
        "zone", base.times, base.values, source="test", signal_type=SignalType.MARGINAL
    )
    issued = T0 + 45 * DAY + 0.25 * H  # mid-hour
    forecast = get_forecaster(name).forecast(history, issued, 30 * H)
    assert forecast.region == "zone"
    assert forecast.times[0] == issued and forecast.end >= issued + 30 * H
    assert forecast.times[1] == T0 + 45 * DAY + H and np.all(np.diff(forecast.times[1:]) == H)
    assert forecast.end - forecast.times[-1] == H
    assert forecast.estimated and forecast.source == f"forecast:{name}"
    assert forecast.signal_type == SignalType.MARGINAL
    assert np.all(np.isfinite(forecast.values)) and np.all(forecast.values >= 0)


def test_irregular_five_minute_history_becomes_exact_hourly_means() -> None:
    times = [T0 + 1800 + 300 * i for i in range(6)]  # 00:30-01:00 in 5-minute steps
    times += [T0 + H + 600 * i for i in range(6)]  # 01:00-02:00 in 10-minute steps
    times += [T0 + 2 * H, T0 + 2 * H + 900, T0 + 3 * H + 120]  # irregular, then a gap
    values = [10, 20, 30, 40, 50, 60] + [100] * 3 + [400] * 3 + [50, 250, 7]
    signal = Signal.from_points("z", times, values, end=T0 + 4 * H)
    series = HourlySeries.from_signal(signal)
    assert series.first_hour * H == T0
    # Hour 0 is only covered from 00:30; hour 2 holds 50 for 15 min and 250 for 45 min; hour 3
    # holds 250 for 2 minutes, then 7.
    expected = [35.0, 250.0, (50 * 15 + 250 * 45) / 60, (250 * 2 + 7 * 58) / 60]
    assert np.allclose(series.values, expected)
    # Only complete hours before the cut-off count, and nothing after it is read.
    cut = HourlySeries.from_signal(signal, until=T0 + 3 * H + 60)
    assert np.allclose(cut.values, expected[:3])


def test_naive_baselines_are_what_they_say() -> None:
    hours = np.arange(10 * 24)
    values = (hours % 24) * 10.0 + (hours // 24)  # hour of day, plus the day number 0..9
    signal = Signal.from_points("z", T0 + H * hours, values)
    issued = T0 + 10 * DAY + 3 * H  # three hours after the data ends
    yesterday = get_forecaster("naive_yesterday").forecast(signal, issued, 45 * H)
    median7 = get_forecaster("naive_median7").forecast(signal, issued, 45 * H)
    target_hours = np.arange(3, 48)
    # Same hour on the most recent day with data: day 9 (hours 0..23 of day 10 are missing).
    assert yesterday.values.tolist() == [(h % 24) * 10.0 + 9 for h in target_hours]
    # Median of days 3..9: day 6.
    assert median7.values.tolist() == [(h % 24) * 10.0 + 6 for h in target_hours]
    # Less than 7 days: median of what there is; less than a day: the last value.
    short = signal.window(T0, T0 + 3 * DAY)
    assert get_forecaster("naive_median7").forecast(short, T0 + 3 * DAY, H).values[0] == 1.0
    tiny = signal.window(T0, T0 + 5 * H)
    flat = get_forecaster("naive_yesterday").forecast(tiny, T0 + 5 * H, 2 * H)
    assert flat.values.tolist() == [40.0, 40.0]


def test_history_forecaster_beats_both_naive_baselines() -> None:
    signal = daily_pattern(150, seed=2, weather_sd=20.0)
    actual = SignalSet.of([signal])
    jobs = time_shift_jobs(T0 + 110 * DAY, 36 * 24)
    strategy = get_strategy("time_shift")
    fraction, mae = {}, {}
    for name in FORECASTERS:
        fn = history_forecast_fn(actual, get_forecaster(name))
        summary = run_backtest(jobs, actual, strategy, fn).summary()
        assert summary["infeasible"] == 0
        fraction[name] = summary["fraction_of_oracle"]
        truth = [signal.values[signal.times >= job.submitted_at][:24] for job in jobs[::5]]
        guess = [fn(job)["zone"].values[:24] for job in jobs[::5]]
        mae[name] = float(np.mean(np.abs(np.array(guess) - np.array(truth))))
    # Measured: history 0.82 of the oracle saving, naive_median7 0.77, naive_yesterday 0.67.
    assert fraction["history"] > 1.05 * max(fraction["naive_yesterday"], fraction["naive_median7"])
    assert mae["history"] < 0.8 * min(mae["naive_yesterday"], mae["naive_median7"])


def test_no_history_is_a_clear_error() -> None:
    later = Signal.from_points("z", [T0 + DAY, T0 + DAY + H], [100.0, 120.0])
    for name in FORECASTERS:
        with pytest.raises(SignalError, match="no history before the forecast time"):
            get_forecaster(name).forecast(later, T0, 24 * H)
    with pytest.raises(ValueError, match="unknown forecaster 'crystal_ball'"):
        get_forecaster("crystal_ball")
    # In a backtest the job is reported infeasible with the reason, not a crash.
    fn = history_forecast_fn(SignalSet.of([later]), get_forecaster("history"))
    job = Workload("early", T0, H, T0 + 2 * DAY, "z", ("z",), 100.0)
    with pytest.raises(SignalError, match="no region has history"):
        fn(job)
    outcome = run_backtest([job], SignalSet.of([later]), get_strategy("time_shift"), fn).outcomes[0]
    assert outcome.status == "infeasible" and "history" in outcome.placement.reason


def test_short_history_falls_back_gracefully() -> None:
    signal = daily_pattern(20)
    issued = T0 + 20 * DAY
    history = get_forecaster("history").forecast(signal, issued, 24 * H)
    median7 = get_forecaster("naive_median7").forecast(signal, issued, 24 * H)
    assert np.array_equal(history.values, median7.values)
    assert history.source == "forecast:history"
    # Under one complete hour: the mean of what there is, held flat.
    stub = Signal.from_points("z", [T0, T0 + 600], [100.0, 400.0], end=T0 + 1800)
    flat = get_forecaster("history").forecast(stub, T0 + 1800, 3 * H)
    assert flat.times[0] == T0 + 1800 and np.allclose(flat.values, 300.0)


def test_a_flat_series_gives_a_flat_forecast() -> None:
    hours = np.arange(80 * 24)
    signal = Signal.from_points("flat", T0 + H * hours, np.full(hours.size, 435.36))
    forecast = get_forecaster("history").forecast(signal, signal.end, 48 * H)
    assert np.allclose(forecast.values, 435.36)


def _quality_module():
    path = ROOT / "scripts/forecast_quality.py"
    spec = importlib.util.spec_from_file_location("forecast_quality", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.skipif(
    not DATA.exists(), reason=f"shared data not found at {DATA}: the real-data check needs it"
)
def test_quality_benchmark_on_a_slice_of_real_data() -> None:
    figures = _quality_module().quality(DATA, year=2023, zones=["DE", "GB"], days=21)
    for zone in ("DE", "GB"):
        result = figures["zones"][zone]
        for hours in ("1h", "6h"):
            row = result[hours]
            assert row["jobs"] == 21 * 24 and not any(row["infeasible"].values())
            oracle = row["savings_pct"]["oracle"]
            assert oracle > 5
            assert row["savings_pct"]["perfect"] == pytest.approx(oracle, abs=1e-9)
            for name in FORECASTERS:
                assert row["savings_pct"][name] <= oracle + 1e-9
                fraction = row["savings_pct"][name] / oracle
                assert math.isclose(row["fraction_of_oracle"][name], fraction, abs_tol=2e-3)
            # Measured on this slice: history 0.29-0.48 of the oracle, the naive ones -0.21-0.31.
            naive = max(row["fraction_of_oracle"][n] for n in ("naive_yesterday", "naive_median7"))
            assert row["fraction_of_oracle"]["history"] > naive + 0.1
        mae = {name: e["mae_by_horizon"] for name, e in result["errors"].items()}
        assert len(mae["history"]) == 48
        assert mae["history"][0] < 0.5 * min(mae["naive_yesterday"][0], mae["naive_median7"][0])
    assert figures["aggregate"]["1h_zones_counted"] == 2
    assert figures["aggregate"]["6h_perfect_equals_oracle_in_every_zone"] is True


def leading_weather(days: int, lead_hours: int = 8, seed: int = 3) -> tuple[Signal, Signal, Signal]:
    """Zone ``zone`` gets the weather ``upwind`` had ``lead_hours`` earlier; ``far`` is unrelated.

    The weather is hourly white noise smoothed over a few hours, so the zone's own past says
    little about its next hours while the upwind zone's recent past says much.
    """
    rng = np.random.default_rng(seed)
    hours = np.arange(days * 24 + lead_hours)
    weather = np.convolve(rng.normal(0, 60, hours.size), np.ones(4) / 2, "same")
    daily = 300 - 100 * np.exp(-(((hours % 24) - 13) ** 2) / 8)
    zone = daily[lead_hours:] + weather[:-lead_hours] + rng.normal(0, 5, days * 24)
    upwind = daily[lead_hours:] + weather[lead_hours:] + rng.normal(0, 5, days * 24)
    far = daily[lead_hours:] + rng.normal(0, 40, days * 24)
    times = T0 + H * np.arange(days * 24)
    return tuple(
        Signal.from_points(name, times, np.clip(values, 5, None))
        for name, values in (("zone", zone), ("upwind", upwind), ("far", far))
    )


def test_peers_are_the_zones_whose_deviations_track_the_zone() -> None:
    zone, upwind, far = leading_weather(60)
    series = HourlySeries.from_signal(zone).with_peers(
        {s.region: HourlySeries.from_signal(s) for s in (upwind, far, zone)}
    )
    assert set(series.peers) == {"upwind", "far"}  # a zone is never its own peer
    assert select_peers(series) == ("upwind",)
    assert select_peers(HourlySeries.from_signal(zone)) == ()
    model = HistoryForecaster().model_for(series, {})
    assert model is not None and model.peers == ("upwind",)
    assert model.coef.shape == (24, 48, len(FEATURES) + 1)


def test_a_leading_peer_zone_improves_the_forecast_without_looking_ahead() -> None:
    zone, upwind, far = leading_weather(120)
    issues = T0 + DAY * np.arange(90, 119) + 7 * H
    errors: dict[str, list[float]] = {"alone": [], "peers": []}
    for issued in issues:
        truth = zone.values[int((issued - T0) / H) : int((issued - T0) / H) + 8]
        alone = HistoryForecaster().forecast(zone, issued, 8 * H)
        peered = HistoryForecaster().forecast(
            zone, issued, 8 * H, peers={"upwind": upwind, "far": far}
        )
        errors["alone"].append(float(np.abs(alone.values[:8] - truth).mean()))
        errors["peers"].append(float(np.abs(peered.values[:8] - truth).mean()))
        # The peers' points at or after the issue time change nothing.
        tampered = Signal.from_points(
            "upwind",
            upwind.times,
            np.where(upwind.times >= issued, 5000.0, upwind.values),
        )
        again = HistoryForecaster().forecast(
            zone, issued, 8 * H, peers={"upwind": tampered, "far": far}
        )
        assert np.array_equal(again.values, peered.values)
    # Measured: 38 g/kWh with the upwind peer against 51 alone over the next 8 hours.
    assert np.mean(errors["peers"]) < 0.85 * np.mean(errors["alone"])


def test_backtests_offer_the_other_regions_as_peers() -> None:
    zone, upwind, far = leading_weather(100)
    job = time_shift_jobs(T0 + 80 * DAY + 5 * H, 1)[0]
    together = history_forecast_fn(SignalSet.of([zone, upwind, far]), HistoryForecaster())(job)
    alone = history_forecast_fn(SignalSet.of([zone]), HistoryForecaster())(job)
    direct = HistoryForecaster().forecast(
        zone, job.submitted_at, 48 * H, peers={"upwind": upwind, "far": far}
    )
    assert np.allclose(together["zone"].values[:48], direct.values[:48], rtol=1e-9)
    assert not np.allclose(alone["zone"].values[:48], direct.values[:48], rtol=1e-3)


def test_quality_benchmark_checks_the_issue_targets() -> None:
    def zone(oracle: float, history: float, median7: float) -> dict:
        row = {
            "savings_pct": {"oracle": oracle, "perfect": oracle},
            "fraction_of_oracle": {"history": history, "naive_median7": median7},
        }
        return {"1h": row, "6h": row}

    module = _quality_module()
    good = module._targets({"A": zone(20, 0.9, 0.5), "B": zone(10, 0.8, 0.7)}, "1h", ["A", "B"])
    assert good == {
        "1h_target_mean_ge_0.85": "holds (0.8500)",
        "1h_target_min_ge_0.6": "holds (0.8000)",
        "1h_target_never_below_median7": "holds",
    }
    # C is not counted (oracle under 5 %) but is still held to the 7-day median.
    zones = {"A": zone(20, 0.9, 0.5), "B": zone(10, 0.55, 0.5), "C": zone(2, 0.3, 0.4)}
    bad = module._targets(zones, "6h", ["A", "B"])
    assert bad == {
        "6h_target_mean_ge_0.85": "MISSED (0.7250)",
        "6h_target_min_ge_0.6": "MISSED (0.5500)",
        "6h_target_never_below_median7": "MISSED (C)",
    }
