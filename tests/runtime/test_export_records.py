"""The exporter on the fleets and migrations tables (moto): items written by the real repositories,
their stream records read back with GetRecords and wrapped as Lambda delivers them
(``eventSourceARN``, epoch ``ApproximateCreationDateTime``). Only records are exported: fleet
decisions (not a fleet's state item), migrations in a terminal state (not live ones, locks or the
trigger policy's state), each table under its own prefix beside the workloads'."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Any

import boto3
import pytest
from tests.runtime.conftest import HOME, AwsEnv
from tests.runtime.events import Context
from tests.runtime.test_export import BUCKET, PREFIX, TTL_IDENTITY, exported, stream_records

from carbon_aware.cli.export import read_export, scan_table
from carbon_aware.cli.ledger import FLEET_FIGURES, _fleets, build_ledger
from carbon_aware.cli.main import main
from carbon_aware.engine.fleet_footprint import footprint
from carbon_aware.runtime import wiring
from carbon_aware.runtime.export_config import EXPORT_BUCKET, EXPORT_PREFIX
from carbon_aware.runtime.fleet.repository import FleetRepository, FleetState
from carbon_aware.runtime.handlers import exporter
from carbon_aware.runtime.migrations.repository import Migration, MigrationRepository
from carbon_aware.runtime.migrations.states import MigrationState
from carbon_aware.runtime.tables import FLEETS_TABLE, MIGRATIONS_TABLE

# Named as the module names them (``<name>-<kind>``): the kind picks the table's rule.
FLEETS = "ca-fleets"
MIGRATIONS = "ca-migrations"
NOW = 1_764_900_000.0  # 2025-12-05
GRAMS = ("gross_g", "overhead_g", "net_g")
STREAM = {"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"}


@pytest.fixture
def streams(aws: AwsEnv, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """The fleets and migrations tables streaming both images (as the module sets them), the
    export bucket; table -> stream ARN."""
    ddb = boto3.client("dynamodb", region_name=HOME)
    arns = {}
    for name, spec in ((FLEETS, FLEETS_TABLE), (MIGRATIONS, MIGRATIONS_TABLE)):
        table = ddb.create_table(TableName=name, **spec, StreamSpecification=STREAM)
        arns[name] = table["TableDescription"]["LatestStreamArn"]
    boto3.client("s3", region_name=HOME).create_bucket(
        Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": HOME}
    )
    monkeypatch.setenv(EXPORT_BUCKET, BUCKET)
    monkeypatch.setenv(EXPORT_PREFIX, PREFIX)
    wiring.reset()
    return arns


def fleets() -> FleetRepository:
    return FleetRepository(boto3.client("dynamodb", region_name=HOME), FLEETS)


def migrations() -> MigrationRepository:
    return MigrationRepository(boto3.client("dynamodb", region_name=HOME), MIGRATIONS)


def start(repository: MigrationRepository, migration_id: str, subject: str) -> Migration:
    migration = Migration(
        migration_id=migration_id,
        kind="checkpoint_restore",
        subject=subject,
        state=MigrationState.PENDING,
        spec={"workload_id": subject},
    )
    return repository.create(migration, NOW)


def by_key(objects: dict[str, list[dict[str, Any]]]) -> dict[str, list[dict[str, Any]]]:
    """Object key -> lines, asserting every key is ``<prefix>/<table>/dt=<day>/…``."""
    for key in objects:
        table, day = key.removeprefix(f"{PREFIX}/").split("/")[:2]
        assert table in (FLEETS, MIGRATIONS) and day == "dt=2025-12-05", key
    return objects


def lines_of(table: str) -> list[dict[str, Any]]:
    objects = by_key(exported())
    return [
        line
        for key, lines in objects.items()
        if key.startswith(f"{PREFIX}/{table}/")
        for line in lines
    ]


def at_now(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The records as if streamed at ``NOW`` (their day partition)."""
    return [
        {**r, "dynamodb": {**r["dynamodb"], "ApproximateCreationDateTime": NOW}} for r in records
    ]


def test_a_fleet_decision_is_exported_when_written_and_the_state_item_is_not(
    streams: dict[str, str], least_privilege: dict
) -> None:
    repository = fleets()
    repository.save_state(FleetState("web", allocation={"eu-west-1": 3}, updated_at=NOW))
    sort_key = repository.record({"fleet": "web", "allocation": {"eu-west-1": 3}}, NOW)
    records = at_now(stream_records(streams[FLEETS]))
    assert len(records) == 2

    answer = exporter.handler({"Records": records}, Context())

    assert (answer["exported"], answer["skipped"], answer["unreadable"]) == (1, 1, 0)
    (line,) = lines_of(FLEETS)
    assert line["fleet"] == "web" and line["sk"] == sort_key and line["_event"] == "final"
    assert '"eu-west-1": 3' in line["decision"] and isinstance(line["expires_at"], int)


def test_a_migration_is_exported_in_a_terminal_state_only(streams: dict[str, str]) -> None:
    repository = migrations()
    done = start(repository, "m-done", "w-1")
    repository.transition(done, MigrationState.CANCELLED, now=NOW + 1, reason="by the owner")
    live = start(repository, "m-live", "w-2")
    repository.transition(live, MigrationState.VALIDATING, now=NOW + 1, reason="stepped")
    records = at_now(stream_records(streams[MIGRATIONS]))
    kinds = sorted((r["eventName"], r["dynamodb"]["Keys"]["pk"]["S"]) for r in records)
    # Two locks written, one released (by a user: not an expiry), two starts, two transitions.
    assert [pk.split("#")[0] for _, pk in kinds].count("lock") == 3 and len(records) == 7

    answer = exporter.handler({"Records": records}, Context())

    assert (answer["exported"], answer["skipped"], answer["unreadable"]) == (1, 6, 0)
    (line,) = lines_of(MIGRATIONS)
    assert line["pk"] == "migration#m-done" and line["state"] == "cancelled"
    assert line["_event"] == "final" and '"reason": "by the owner"' in line["body"]


def test_ttl_removals_of_records_are_exported_and_of_policy_state_not(
    streams: dict[str, str],
) -> None:
    fleet_repository, repository = fleets(), migrations()
    sort_key = fleet_repository.record({"fleet": "web"}, NOW)
    done = start(repository, "m-done", "w-1")
    repository.transition(done, MigrationState.CANCELLED, now=NOW + 1, reason="by the owner")
    policy = repository.policy_state("w-1")
    repository.put_policy_state("w-1", policy, {"starts": [NOW]}, NOW)
    ddb = boto3.client("dynamodb", region_name=HOME)
    ddb.delete_item(TableName=FLEETS, Key={"fleet": {"S": "web"}, "sk": {"S": sort_key}})
    for pk in ("migration#m-done", "policy#w-1"):
        ddb.delete_item(TableName=MIGRATIONS, Key={"pk": {"S": pk}})
    removals = [
        {**r, "userIdentity": TTL_IDENTITY}  # as the Time to Live process removes them
        for table in (FLEETS, MIGRATIONS)
        for r in at_now(stream_records(streams[table]))
        if r["eventName"] == "REMOVE"
        and "lock#" not in r["dynamodb"]["Keys"].get("pk", {}).get("S", "")
    ]
    assert len(removals) == 3

    answer = exporter.handler({"Records": removals}, Context())

    assert (answer["exported"], answer["skipped"]) == (2, 1)
    ((decision,), (migration,)) = lines_of(FLEETS), lines_of(MIGRATIONS)
    assert decision["_event"] == migration["_event"] == "expired"
    assert decision["sk"] == sort_key and migration["pk"] == "migration#m-done"
    assert migration["state"] == "cancelled"


def test_a_broken_record_beside_good_ones_is_isolated(streams: dict[str, str]) -> None:
    fleets().record({"fleet": "web"}, NOW)
    repository = migrations()
    done = start(repository, "m-done", "w-1")
    checking = repository.transition(done, MigrationState.VALIDATING, now=NOW + 1, reason="step")
    repository.transition(checking, MigrationState.FAILED, now=NOW + 2, reason="target gone")
    good = at_now(stream_records(streams[FLEETS]) + stream_records(streams[MIGRATIONS]))
    final = next(
        r for r in good if r["dynamodb"].get("NewImage", {}).get("state") == {"S": "failed"}
    )
    image = final["dynamodb"]["NewImage"]
    broken = [
        {
            **final,
            "eventID": "untyped",
            "dynamodb": {**final["dynamodb"], "NewImage": {**image, "state": "failed"}},
        },
        {**final, "eventID": "no-image", "dynamodb": {"SequenceNumber": "1"}},
    ]

    answer = exporter.handler({"Records": [broken[0], *good, broken[1]]}, Context())

    assert (answer["exported"], answer["unreadable"]) == (2, 2)
    assert len(lines_of(FLEETS)) == 1
    ((line,),) = [lines_of(MIGRATIONS)]
    assert line["state"] == "failed"


def test_the_report_reads_the_exported_decisions_and_migrations(streams: dict[str, str]) -> None:
    usages = {"eu-west-1": ({"m5.large": 2}, {"m5.large": 20.0}, {"m5.large": 0.04})}
    accounted = footprint(NOW - 600, NOW - 300, "eu-west-1", {"eu-west-1": 300.0}, usages)
    figures = {k: v for k, v in accounted.to_dict().items() if k in FLEET_FIGURES}
    fleets().record({"fleet": "web", "footprint": accounted.to_dict(), **figures}, NOW - 300)
    fleets().record({"fleet": "web", "footprint": {"skipped": "first run"}}, NOW)
    repository = migrations()
    done = start(repository, "m-done", "w-1")
    repository.transition(done, MigrationState.CANCELLED, now=NOW + 1, reason="by the owner")
    records = stream_records(streams[FLEETS]) + stream_records(streams[MIGRATIONS])
    exporter.handler({"Records": at_now(records)}, Context())
    location, since = f"s3://{BUCKET}/{PREFIX}", date(2025, 12, 5)

    decisions, bad = read_export(location, FLEETS, since, lambda i: f"{i['fleet']}#{i['sk']}")
    moved, bad_migrations = read_export(location, MIGRATIONS, since, lambda i: i["pk"])

    assert (len(decisions), len(moved), bad, bad_migrations) == (2, 1, 0, 0)
    # 2 x 20 W for 5 minutes at 300 g/kWh = 1 g; 2 x $0.04 an hour for 5 minutes
    assert _fleets(decisions, NOW - 600, NOW + 60) == {
        "web": {
            "decisions": 2.0,
            "accounted": 1.0,
            "emissions_g": pytest.approx(1.0),
            "baseline_g": pytest.approx(1.0),
            "saved_g": 0.0,
            "cost_usd": pytest.approx(2 * 0.04 / 12),
        }
    }
    assert moved[0]["state"] == "cancelled"


def test_the_report_shows_the_migrations_that_ended_and_their_grams(
    streams: dict[str, str], tmp_path: Path
) -> None:
    repository = migrations()
    moving = ("validating", "preparing", "migrating")
    for migration_id, path, grams in (
        ("m-1", (*moving, "completing", "completed"), (900.0, 100.0, 800.0)),
        ("m-2", (*moving, "rolling_back", "rolled_back"), (0.0, 40.0, -40.0)),
        ("m-3", ("cancelled",), None),
        ("m-4", moving, (1.0, 0.0, 1.0)),  # still live: not counted
    ):
        m = start(repository, migration_id, f"w-{migration_id}")
        recorded = None if grams is None else dict(zip(GRAMS, grams, strict=True))
        for state in path:
            m = repository.transition(
                m, MigrationState(state), now=NOW + 5, reason="test", grams=recorded
            )
    exporter.handler({"Records": at_now(stream_records(streams[MIGRATIONS]))}, Context())

    code = main(
        [
            "report",
            "--from=2025-12-01",
            "--to=2025-12-31",
            f"--export=s3://{BUCKET}/{PREFIX}",
            f"--fleet-table={FLEETS}",
            f"--migration-table={MIGRATIONS}",
            f"--out={tmp_path}",
        ]
    )

    assert code == 0
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["migrations"] == {
        "checkpoint_restore": {
            "outcomes": {"cancelled": 1, "completed": 1, "rolled_back": 1},
            "accounted": 2,
            "gross_g": 900.0,
            "overhead_g": 140.0,
            "net_g": 760.0,
        }
    }
    assert summary["flagged"] == []
    page = (tmp_path / "report.html").read_text()
    assert "<h2>Migrations</h2>" in page and "<td>760.000</td>" in page

    # From the live table (--source table): locks, live migrations and policy state are skipped,
    # and a record whose grams do not add up is flagged, not summed.
    live = scan_table(MIGRATIONS)
    broken = {**live[0], "pk": "migration#m-bad", "state": "completed"}
    broken["body"] = json.dumps(
        {"updated_at": NOW, "grams": dict(zip(GRAMS, (9, 1, 5), strict=True))}
    )
    ledger = build_ledger(
        [], date(2025, 12, 1), date(2025, 12, 31), migration_items=[*live, broken]
    )
    assert (
        ledger.migrations["checkpoint_restore"].to_dict()
        == (summary["migrations"]["checkpoint_restore"])
    )
    assert ledger.flagged == ["migration m-bad: unreadable: net_g is not gross_g - overhead_g"]
