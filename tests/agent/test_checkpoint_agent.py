"""The agent's protocol: resume picks the newest committed manifest and verifies it, saves write
the object then the manifest, killed writes are skipped, concurrent writers are refused, and the
environment is validated naming the variable."""

from __future__ import annotations

import json
import os
import signal
from pathlib import Path

import boto3
import pytest
from botocore.stub import Stubber

from carbon_aware.agent import (
    EXIT_CHECKPOINTED,
    CheckpointedStop,
    Checkpointer,
    LocalStore,
    Manifest,
    ManifestError,
    S3Store,
    StoreConflict,
)
from carbon_aware.agent.checkpointer import Location
from carbon_aware.agent.protocol import checkpoint_name

WORKLOAD = "job-1"


def env(prefix: str, **extra: str) -> dict[str, str]:
    return {
        "CARBON_AWARE_WORKLOAD_ID": WORKLOAD,
        "CARBON_AWARE_SEGMENT": "0",
        "CARBON_AWARE_CHECKPOINT_URI": prefix,
        "CARBON_AWARE_WATCH_IMDS": "0",
        **extra,
    }


@pytest.fixture
def prefix(tmp_path) -> str:
    return f"file://{tmp_path}/checkpoints/{WORKLOAD}/"


def manifest_at(prefix: str) -> Manifest:
    return Manifest.from_json(Path(prefix.removeprefix("file://"), "latest.json").read_bytes())


def test_fresh_start_then_resume_continues_the_sequence(prefix):
    first = Checkpointer.from_env(0.01, env(prefix))
    assert first.resume() is None
    first.save(b"one", progress=0.25)
    first.save(b"two", progress=0.5)
    assert manifest_at(prefix).sequence == 1 and manifest_at(prefix).progress == 0.5
    second = Checkpointer.from_env(0.01, env(prefix))
    assert second.resume() == b"two"
    assert second.save(b"three").sequence == 2
    assert manifest_at(prefix).key.endswith(checkpoint_name(2))


def test_a_checkpoint_may_name_a_snapshot_and_the_resumed_run_reads_it(prefix):
    first = Checkpointer.from_env(0.01, env(prefix))
    first.resume()
    first.save(b"small", progress=0.5, snapshot_id="snap-0123456789abcdef0")
    assert manifest_at(prefix).snapshot_id == "snap-0123456789abcdef0"
    second = Checkpointer.from_env(0.01, env(prefix))
    assert second.resume() == b"small"
    assert second.resumed_snapshot_id == "snap-0123456789abcdef0"
    second.save(b"no volume")  # a checkpoint without one names none
    raw = json.loads(Path(prefix.removeprefix("file://"), "latest.json").read_bytes())
    assert "snapshot_id" not in raw
    with pytest.raises(ManifestError, match=r"manifest\.snapshot_id"):
        Manifest.from_json(json.dumps({**raw, "snapshot_id": 7}).encode())


def test_save_before_resume_is_refused(prefix):
    with pytest.raises(RuntimeError, match="resume"):
        Checkpointer.from_env(1, env(prefix)).save(b"x")


def test_a_corrupted_checkpoint_is_refused_not_loaded(prefix):
    ckpt = Checkpointer.from_env(1, env(prefix))
    ckpt.resume()
    path = ckpt.save(b"precious state").key
    with Path("/", path).open("r+b") as out:
        out.write(b"P")  # a flipped byte: same size, other digest
    with pytest.raises(ManifestError, match="sha256"):
        Checkpointer.from_env(1, env(prefix)).resume()


def test_an_orphan_of_a_killed_write_is_skipped_and_never_trusted(prefix):
    ckpt = Checkpointer.from_env(1, env(prefix))
    ckpt.resume()
    ckpt.save(b"committed")
    # A writer killed between the object and the manifest left 00000001.ckpt uncommitted, and
    # one killed mid-file left a temporary file.
    root = Path(prefix.removeprefix("file://"))
    (root / checkpoint_name(1)).write_bytes(b"torn")
    (root / ".tmp-abc").write_bytes(b"to")
    again = Checkpointer.from_env(1, env(prefix))
    assert again.resume() == b"committed"
    assert again.save(b"next").sequence == 2
    assert (root / checkpoint_name(1)).read_bytes() == b"torn"  # immutable, not overwritten
    assert Checkpointer.from_env(1, env(prefix)).resume() == b"next"


def test_resume_from_takes_the_newer_of_the_two_manifests(tmp_path):
    old_region = f"file://{tmp_path}/a/checkpoints/{WORKLOAD}/"
    new_region = f"file://{tmp_path}/b/checkpoints/{WORKLOAD}/"
    a = Checkpointer.from_env(1, env(old_region))
    a.resume()
    a.save(b"a0")
    b = Checkpointer.from_env(1, env(new_region, CARBON_AWARE_RESUME_FROM=old_region))
    assert b.resume() == b"a0"
    b.save(b"b1")
    # Back in the first Region, told to resume from the second: its own stale manifest (0)
    # loses to the newer one (1), and the sequence goes on past both.
    told = old_region + "latest.json"
    back = Checkpointer.from_env(
        1, env(old_region, CARBON_AWARE_RESUME_FROM=new_region + "latest.json")
    )
    assert back.resume() == b"b1"
    assert back.save(b"a2").sequence == 2
    # Restarted within that segment, the own prefix is newer than what it was told.
    restarted = Checkpointer.from_env(1, env(old_region, CARBON_AWARE_RESUME_FROM=told))
    assert restarted.resume() == b"a2"


def test_resume_from_a_checkpoint_object_must_be_the_committed_one(tmp_path, prefix):
    ckpt = Checkpointer.from_env(1, env(prefix))
    ckpt.resume()
    first = ckpt.save(b"s0").key
    ckpt.save(b"s1")
    other = f"file://{tmp_path}/elsewhere/"
    stale = Checkpointer.from_env(1, env(other, CARBON_AWARE_RESUME_FROM="file:///" + first))
    with pytest.raises(ManifestError, match="not the committed checkpoint"):
        stale.resume()
    latest = "file:///" + manifest_at(prefix).key
    assert Checkpointer.from_env(1, env(other, CARBON_AWARE_RESUME_FROM=latest)).resume() == b"s1"


def test_a_missing_resume_from_manifest_fails_instead_of_starting_fresh(tmp_path, prefix):
    missing = f"file://{tmp_path}/nowhere/latest.json"
    with pytest.raises(ManifestError, match="CARBON_AWARE_RESUME_FROM"):
        Checkpointer.from_env(1, env(prefix, CARBON_AWARE_RESUME_FROM=missing)).resume()


def test_two_writers_on_one_prefix_the_second_commit_is_refused(prefix):
    one, two = Checkpointer.from_env(1, env(prefix)), Checkpointer.from_env(1, env(prefix))
    one.resume(), two.resume()
    one.save(b"one")
    with pytest.raises(StoreConflict):
        two.save(b"two")
    assert Checkpointer.from_env(1, env(prefix)).resume() == b"one"


@pytest.mark.parametrize(
    ("variables", "message"),
    [
        ({"CARBON_AWARE_CHECKPOINT_URI": ""}, "CARBON_AWARE_CHECKPOINT_URI: not set"),
        ({"CARBON_AWARE_CHECKPOINT_URI": "s3://b/checkpoints/x"}, "must end with '/'"),
        ({"CARBON_AWARE_CHECKPOINT_URI": "gs://b/x/"}, "not an s3:// or file:// URI"),
        ({"CARBON_AWARE_CHECKPOINT_BUDGET_SECONDS": "121"}, "CARBON_AWARE_CHECKPOINT_BUDGET"),
        ({"CARBON_AWARE_CHECKPOINT_BUDGET_SECONDS": "soon"}, "CARBON_AWARE_CHECKPOINT_BUDGET"),
        ({"CARBON_AWARE_SEGMENT": "-1"}, "CARBON_AWARE_SEGMENT"),
        ({"CARBON_AWARE_RESUME_FROM": "s3://b/x/00000001.bin"}, "CARBON_AWARE_RESUME_FROM"),
    ],
)
def test_bad_environment_is_rejected_naming_the_variable(prefix, variables, message):
    with pytest.raises(ValueError, match=message):
        Checkpointer.from_env(1, {**env(prefix), **variables})


def test_checkpoint_if_due_saves_on_the_interval(prefix):
    now = [0.0]
    ckpt = Checkpointer.from_env(10, env(prefix))
    ckpt.clock = lambda: now[0]
    ckpt.resume()
    assert not ckpt.checkpoint_if_due(lambda: b"early")
    now[0] = 10.0
    assert ckpt.checkpoint_if_due(lambda: b"due")
    now[0] = 19.0
    assert not ckpt.checkpoint_if_due(lambda: b"not yet")
    assert Checkpointer.from_env(1, env(prefix)).resume() == b"due"


def test_sigterm_checkpoints_the_current_state_then_exits_75(prefix):
    with Checkpointer.from_env(3600, env(prefix)) as ckpt:
        ckpt.resume()
        assert not ckpt.checkpoint_if_due(lambda: b"step 1")
        os.kill(os.getpid(), signal.SIGTERM)
        assert ckpt.stop_requested and 0 < ckpt.time_left() <= 30
        with pytest.raises(CheckpointedStop) as stop:
            ckpt.checkpoint_if_due(lambda: b"step 2")
    assert stop.value.code == EXIT_CHECKPOINTED == 75
    assert stop.value.reason == "SIGTERM"
    assert Checkpointer.from_env(1, env(prefix)).resume() == b"step 2"
    assert signal.getsignal(signal.SIGTERM) == signal.SIG_DFL  # restored on exit


def test_a_stop_landing_between_the_due_check_and_the_stop_check_still_saves(prefix):
    with Checkpointer.from_env(3600, env(prefix)) as ckpt:
        ckpt.resume()

        def not_due_then_sigterm() -> bool:
            ckpt.requests.stop("SIGTERM")  # the signal handler runs as due() returns
            return False

        ckpt.due = not_due_then_sigterm
        with pytest.raises(CheckpointedStop):
            ckpt.checkpoint_if_due(lambda: b"step 7")
    assert Checkpointer.from_env(1, env(prefix)).resume() == b"step 7"


def test_budget_comes_from_the_environment(prefix):
    ckpt = Checkpointer.from_env(1, env(prefix, CARBON_AWARE_CHECKPOINT_BUDGET_SECONDS="90"))
    assert ckpt.budget_seconds == 90.0 and ckpt.time_left() is None


def test_s3_store_uses_conditional_writes_and_the_bucket_encryption(moto_aws):
    s3 = boto3.client("s3", region_name="eu-west-1")
    s3.create_bucket(Bucket="ckpt", CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
    s3.put_bucket_encryption(
        Bucket="ckpt",
        ServerSideEncryptionConfiguration={
            "Rules": [
                {
                    "ApplyServerSideEncryptionByDefault": {
                        "SSEAlgorithm": "aws:kms",
                        "KMSMasterKeyID": "alias/checkpoints",
                    }
                }
            ]
        },
    )
    uri = f"s3://ckpt/checkpoints/{WORKLOAD}/"
    ckpt = Checkpointer.from_env(1, env(uri), s3_client=s3)
    assert ckpt.resume() is None
    ckpt.save(b"state", progress=0.1)
    head = s3.get_object(Bucket="ckpt", Key=f"checkpoints/{WORKLOAD}/latest.json")
    manifest = json.loads(head["Body"].read())
    assert manifest["key"] == f"checkpoints/{WORKLOAD}/{checkpoint_name(0)}"
    assert set(manifest) == {"sequence", "key", "sha256", "bytes", "written_at", "progress"}
    obj = s3.head_object(Bucket="ckpt", Key=manifest["key"])
    assert obj["ServerSideEncryption"] == "aws:kms"
    store = S3Store("ckpt", s3)
    assert not store.create(manifest["key"], b"overwrite")  # immutable
    with pytest.raises(StoreConflict):
        store.swap(f"checkpoints/{WORKLOAD}/latest.json", b"{}", None)
    assert Checkpointer.from_env(1, env(uri), s3_client=s3).resume() == b"state"


def test_local_store_never_replaces_an_object(tmp_path):
    store = LocalStore(tmp_path)
    assert store.create("a/0.ckpt", b"first")
    assert not store.create("a/0.ckpt", b"second")
    assert store.get("a/0.ckpt").data == b"first"
    assert not [p for p in (tmp_path / "a").iterdir() if p.name.startswith(".tmp-")]


def test_a_403_on_the_manifest_says_which_permission_is_missing(moto_aws):
    s3 = boto3.client("s3", region_name="eu-west-1")
    with Stubber(s3) as stub:
        stub.add_client_error("get_object", "AccessDenied", "Access Denied", 403)
        ckpt = Checkpointer.from_env(1, env(f"s3://ckpt/checkpoints/{WORKLOAD}/"), s3_client=s3)
        with pytest.raises(PermissionError, match="s3:ListBucket"):
            ckpt.resume()


def test_resume_from_the_own_manifest_reads_it_once(prefix):
    first = Checkpointer.from_env(1, env(prefix))
    first.resume()
    first.save(b"x")
    reads = []

    class Counting(LocalStore):
        def get(self, key):
            reads.append(key)
            return super().get(key)

    told = Checkpointer.from_env(1, env(prefix, CARBON_AWARE_RESUME_FROM=prefix + "latest.json"))
    counting = Counting(told.store.root)
    told.store, told.resume_from = counting, Location(counting, told.resume_from.key)
    assert told.resume() == b"x"
    assert len(reads) == 2  # the manifest once, the checkpoint once
