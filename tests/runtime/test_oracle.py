"""The carbon-efficiency SLI end to end on moto: a workload completes on observed intensities, the
sweep stores its oracle once the window is observed and emits the SLI's grams, the exporter carries
the oracle to S3, the report computes the realised fraction from the export, and the SLO's
burn-rate alarm (rendered by Terraform) fires on the emitted values when they are below target.
The oracle itself is checked against a brute force over every minute of tiny cases."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from itertools import pairwise
from pathlib import Path
from typing import Any

import boto3
import numpy as np
import pytest
from tests.runtime.conftest import HOME, OTHER, AwsEnv
from tests.runtime.events import Context, runner_completed, stored_spec
from tests.runtime.test_export import BUCKET, PREFIX, stream, stream_records  # noqa: F401
from tests.runtime.test_monitor import metrics_of

from carbon_aware.cli.main import main
from carbon_aware.engine.accounting import Series, Span
from carbon_aware.engine.signal import Signal
from carbon_aware.engine.signal_type import SignalType
from carbon_aware.engine.timeutil import iso
from carbon_aware.runtime import config, wiring
from carbon_aware.runtime.config import WorkloadSettings
from carbon_aware.runtime.handlers import completion, exporter, scheduler
from carbon_aware.runtime.oracle import (
    GIVE_UP_AFTER,
    SETTLE_AFTER,
    OracleSettler,
    carbon_efficiency,
)
from carbon_aware.runtime.repository import Conflict, WorkloadRecord
from carbon_aware.runtime.states import State
from carbon_aware.runtime.tables import AWAITING_ORACLE
from carbon_aware.signals.cache import SignalCache, create_table
from carbon_aware.signals.catalog import load_catalog
from carbon_aware.signals.chain import Provenance
from carbon_aware.signals.targets import zone_of
from fakes.clock import T0, FakeClock
from terraform.test_alarms import NOW, alarms_of, fires, rendered  # noqa: F401

HOUR = 3600.0
MINUTE = 60.0
DEADLINE = T0 + 8 * HOUR
# Hourly observed intensities from T0 - 3 h: 300 g/kWh everywhere but a clean hour at home
# (T0 + 3 h: 100) and a middling one in the other Region (T0 + 1 h: 250).
FIRST = T0 - 3 * HOUR
OBSERVED = {
    HOME: [100.0 if i == 6 else 300.0 for i in range(16)],
    OTHER: [250.0 if i == 4 else 300.0 for i in range(16)],
}


@pytest.fixture
def observed(aws: AwsEnv, monkeypatch: pytest.MonkeyPatch) -> FakeClock:
    """A signals table holding a provider's observations of both Regions; the handlers on a
    clock at T0."""
    client = boto3.client("dynamodb", region_name=HOME)
    create_table(client, "signals")
    cache = SignalCache(client, "signals")
    for region, values in OBSERVED.items():
        zone = zone_of(load_catalog().get(region), SignalType.AVERAGE)
        times = [FIRST + i * HOUR for i in range(len(values))]
        signal = Signal.from_points(zone, times, values, source="electricitymaps")
        cache.put_observations(zone, signal, Provenance("electricitymaps", "average", False, T0))
    monkeypatch.setenv(config.SIGNALS_TABLE, "signals")
    clock = FakeClock(T0)
    wiring.reset(clock)
    return clock


def completed(aws: AwsEnv, clock: FakeClock, region: str, start: float, hours: float = 1) -> str:
    """A 1 kW, one-hour workload (submitted at T0, deadline T0 + 8 h, home and other Region,
    ``combined``) that ran in ``region`` from ``start`` and whose completion arrived."""
    repo = wiring.repository()
    spec = stored_spec(
        aws.targets[HOME]["lambda"],
        f"wl-{region}-{int(start)}",
        submitted_at=iso(T0),
        deadline=iso(DEADLINE),
        regions=[HOME, OTHER],
        power_watts=1000.0,
        strategy="combined",
    )
    record = repo.create(spec["id"], spec, T0)
    record = repo.transition(record, State.SCHEDULED, now=T0, reason="t", due_at=start)
    record = repo.transition(record, State.DISPATCHING, now=start, reason="t", due_at=start)
    dispatch = {"region": region, "started_at": start, "type": "lambda"}
    repo.transition(
        record,
        State.RUNNING,
        now=start,
        reason="t",
        due_at=start + 2 * HOUR,
        updates={"dispatch": dispatch},
    )
    clock._now = start + hours * HOUR + HOUR
    event = runner_completed(spec["id"], start, start + hours * HOUR, True)
    assert completion.handler(event, Context())["status"] == "SUCCEEDED"
    return spec["id"]


def sweep(clock: FakeClock, at: float, capsys: pytest.CaptureFixture) -> dict[str, float]:
    """One timer sweep at ``at``: the SLI grams it emitted."""
    clock._now = at
    capsys.readouterr()
    scheduler.handler({}, Context())
    emitted = metrics_of(capsys.readouterr().out)
    return {name: emitted[name][0][0] for name in ("RealisedSavedGrams", "OracleSavedGrams")}


@pytest.mark.parametrize(
    ("region", "hour", "saved", "alarm"),
    [
        # Ran at 250 g/kWh: saved 50 g of the 200 g a perfect forecast saves (25 % < 95 %).
        (OTHER, 1, 50.0, True),
        # Ran in the clean hour: saved all the oracle saves.
        (HOME, 3, 200.0, False),
    ],
)
def test_a_completed_workload_gets_its_oracle_and_the_slo_reads_it(
    aws: AwsEnv,
    stream: str,  # noqa: F811  (before ``observed``: it resets the handlers' wiring)
    observed: FakeClock,
    rendered: dict,  # noqa: F811
    capsys: pytest.CaptureFixture,
    tmp_path: Path,
    region: str,
    hour: int,
    saved: float,
    alarm: bool,
) -> None:
    workload_id = completed(aws, observed, region, T0 + hour * HOUR)
    record = wiring.repository().get(workload_id)
    result = record.result
    assert (result["provider_class"], result["signal_type"]) == ("provider", "average")
    assert result["baseline_g"] == pytest.approx(300.0) and result["saved_g"] == pytest.approx(
        saved
    )
    assert "oracle_g" not in result

    # Not before the whole window is observed (the deadline plus the settling time).
    early = sweep(observed, DEADLINE + SETTLE_AFTER - 60, capsys)
    assert early == {"RealisedSavedGrams": 0, "OracleSavedGrams": 0}
    emitted = sweep(observed, DEADLINE + SETTLE_AFTER, capsys)
    assert emitted == pytest.approx({"RealisedSavedGrams": saved, "OracleSavedGrams": 200.0})
    settled = wiring.repository().get(workload_id)
    assert settled.status == State.SUCCEEDED and settled.updated_at == record.updated_at
    oracle = settled.result
    assert oracle["oracle_g"] == pytest.approx(100.0) and oracle["oracle_saved_g"] == pytest.approx(
        200
    )
    assert oracle["oracle_segments"] == [
        {"region": HOME, "start": iso(T0 + 3 * HOUR), "end": iso(T0 + 4 * HOUR)}
    ]
    assert (oracle["oracle_signal_type"], oracle["oracle_provider"]) == (
        "average",
        "electricitymaps",
    )
    # Settled once: the next sweep finds nothing, and a stale settlement changes nothing.
    assert sweep(observed, DEADLINE + 2 * SETTLE_AFTER, capsys)["OracleSavedGrams"] == 0
    with pytest.raises(Conflict):
        OracleSettler(wiring.repository(), wiring.signal_source(), wiring.settings()).settle(
            record, DEADLINE + 3 * SETTLE_AFTER
        )
    assert wiring.repository().get(workload_id).result == oracle

    # The exporter carries the oracle; the report reads the realised fraction from the export.
    answer = exporter.handler({"Records": stream_records(stream)}, Context())
    assert answer["unreadable"] == 0
    day = datetime.fromtimestamp(T0, UTC).date().isoformat()
    out = tmp_path / "report"
    code = main(
        [
            "report",
            f"--from={day}",
            f"--to={day}",
            f"--export=s3://{BUCKET}/{PREFIX}",
            "--table=workloads",
            f"--out={out}",
        ]
    )
    summary = json.loads((out / "summary.json").read_text())
    assert code == 0 and summary["oracle_workloads"] == 1
    assert summary["oracle_fraction"] == pytest.approx(saved / 200.0)

    # The SLO's burn-rate alarms (a 95 % target) on the values the sweep emitted.
    recorded = {name: [(NOW - 60, value, {})] for name, value in emitted.items()}
    alarms = alarms_of(rendered["carbon_efficiency_alarms"])
    for speed in ("fast", "slow"):
        assert fires(alarms[f"carbon-efficiency-burn-{speed}"], recorded, NOW, alarms) is alarm


def test_a_window_not_yet_observed_waits_then_gives_up_with_the_reason(
    aws: AwsEnv, observed: FakeClock, capsys: pytest.CaptureFixture
) -> None:
    workload_id = completed(aws, observed, HOME, T0 + 3 * HOUR)
    # The provider's observations stop before the deadline in the other Region.
    client = boto3.client("dynamodb", region_name=HOME)
    zone = zone_of(load_catalog().get(OTHER), SignalType.AVERAGE)
    for i in range(8, 16):
        client.delete_item(
            TableName="signals",
            Key={"pk": {"S": f"average#{zone}"}, "sk": {"S": f"obs#{iso(FIRST + i * HOUR)}"}},
        )
    waiting = sweep(observed, DEADLINE + SETTLE_AFTER, capsys)
    record = wiring.repository().get(workload_id)
    assert waiting["OracleSavedGrams"] == 0 and "oracle_g" not in record.result
    assert record.due_at == DEADLINE + SETTLE_AFTER + HOUR  # looked at again an hour later
    sweep(observed, DEADLINE + GIVE_UP_AFTER + HOUR, capsys)
    record = wiring.repository().get(workload_id)
    assert record.status == State.SUCCEEDED and "oracle_g" not in record.result
    assert f"no observations over the window in {OTHER}" in record.result["oracle_error"]
    assert record.due_at is None  # out of the queue


def test_only_successes_with_grams_wait_for_an_oracle(aws: AwsEnv, observed: FakeClock) -> None:
    workload_id = completed(aws, observed, HOME, T0 + 3 * HOUR)
    queued = list(wiring.repository().due_items(AWAITING_ORACLE))
    assert [item["workload_id"] for item in queued] == [workload_id]
    assert queued[0]["due_at"] == DEADLINE + SETTLE_AFTER


# ---------------------------------------------------------------------------------------------
# The oracle against a brute force over every minute, on tiny cases (no AWS).


class Observed:
    """Observed series of the test, whole (an ObservedSource)."""

    def __init__(self, series: dict[str, Series]) -> None:
        self.series = series

    def observed(self, spans: list[Span], signal_type: Any, provider_class: Any) -> list:
        return [self.series[s.region].window(s.start, s.end) for s in spans]


def per_minute(series: Series, start: float, minutes: int) -> list[float]:
    """g/kWh in force in each minute from ``start`` (minute-aligned steps)."""
    values = []
    for k in range(minutes):
        t = start + k * MINUTE
        (i,) = [i for i, (a, b) in enumerate(pairwise([*series.times, series.end])) if a <= t < b]
        values.append(series.values[i])
    return values


def brute_force(
    series: dict[str, Series], regions: list[str], start: float, end: float, run: float
) -> float:
    """Least grams of a 1 kW run of ``run`` seconds starting on any minute of ``[start, end - run]``
    in any of ``regions``."""
    best = float("inf")
    minutes = int((end - start) / MINUTE)
    length = int(run / MINUTE)
    for region in regions:
        g = per_minute(series[region], start, minutes)
        for first in range(minutes - length + 1):
            best = min(best, sum(g[first : first + length]) / 60.0)  # kWh per minute at 1 kW
    return best


def record_of(strategy: str, regions: list[str], deadline_h: float, ran_h: float) -> WorkloadRecord:
    spec = {
        "id": "tiny",
        "submitted_at": iso(T0),
        "duration_minutes": 60,
        "deadline": iso(T0 + deadline_h * HOUR),
        "home_region": "eu-west-1",
        "regions": regions,
        "power_watts": 1000.0,
        "strategy": strategy,
        "target": {"type": "lambda", "arn": "arn:aws:lambda:eu-west-1:1:function:f"},
    }
    result = {
        "duration_seconds": ran_h * HOUR,
        "emissions_g": 0.0,
        "baseline_g": 0.0,
        "saved_g": 0.0,
        "signal_type": "average",
        "provider_class": "provider",
    }
    return WorkloadRecord("tiny", State.SUCCEEDED, 5, spec, result=result)


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize(
    ("strategy", "searched"),
    [
        ("combined", ["eu-west-1", "eu-north-1", "us-east-1"]),
        ("time_shift", ["eu-west-1"]),
    ],
)
@pytest.mark.parametrize("ran_h", [1.0, 1.5])
def test_the_oracle_is_the_least_grams_of_the_strategys_search(
    seed: int, strategy: str, searched: list[str], ran_h: float
) -> None:
    rng = np.random.default_rng(seed)
    series = {}
    for region in ("eu-west-1", "eu-north-1", "us-east-1"):
        # Steps of 30 or 60 minutes from before the window to past it.
        times = np.cumsum([0.0, *rng.choice([1800.0, 3600.0], size=16)]) + T0 - HOUR
        values = rng.uniform(20, 500, size=times.size)
        series[region] = Series.from_points(region, times, values, source="electricitymaps")
    settler = OracleSettler(
        None, Observed(series), WorkloadSettings("t", ("eu-west-1",), "eu-west-1")
    )  # type: ignore[arg-type]
    record = record_of(strategy, ["eu-west-1", "eu-north-1", "us-east-1"], 6, ran_h)
    fields = settler.oracle(record, T0 + 9 * HOUR)
    expected = brute_force(series, searched, T0, T0 + 6 * HOUR, ran_h * HOUR)
    assert fields["oracle_g"] == pytest.approx(expected, rel=1e-9)
    (segment,) = fields["oracle_segments"]
    assert segment["region"] in searched


@pytest.mark.parametrize(
    ("saved", "baseline", "oracle", "sli"),
    [
        (50.0, 300.0, 100.0, (50.0, 200.0)),
        (250.0, 300.0, 100.0, (200.0, 200.0)),  # better than the oracle: a full share, no more
        (-40.0, 300.0, 100.0, (0.0, 200.0)),  # worse than the baseline: a full miss, no more
        (-40.0, 300.0, 300.0, (0.0, 0.0)),  # nothing to save: counts nowhere, divides nothing
        (0.0, 300.0, 320.0, (0.0, 0.0)),  # the oracle is worse than the baseline
    ],
)
def test_each_workload_adds_its_clipped_saving_and_its_oracle_saving(
    saved: float, baseline: float, oracle: float, sli: tuple[float, float]
) -> None:
    assert carbon_efficiency(saved, baseline, oracle) == sli
