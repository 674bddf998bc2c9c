"""Stop and checkpoint requests from outside the job: IMDSv2 (Spot instance action, rebalance
recommendation), a stop file, and when the metadata watch is on."""

from __future__ import annotations

import time

import pytest

from carbon_aware.agent import Checkpointer
from carbon_aware.agent.watch import INSTANCE_ACTION, REBALANCE, Imds, imds_endpoint
from fakes.imds import FakeImds


@pytest.fixture
def imds(loopback):
    with FakeImds() as server:
        yield server


def checkpointer(tmp_path, **extra):
    return Checkpointer.from_env(
        3600,
        {"CARBON_AWARE_CHECKPOINT_URI": f"file://{tmp_path}/ckpt/", **extra},
    )


def wait_until(condition, seconds=5.0):
    deadline = time.monotonic() + seconds
    while not condition() and time.monotonic() < deadline:
        time.sleep(0.02)
    return condition()


def test_spot_instance_action_asks_for_checkpoint_and_stop(tmp_path, imds):
    imds.documents[INSTANCE_ACTION] = {"action": "terminate", "time": "2026-12-04T18:02:00Z"}
    with checkpointer(tmp_path, AWS_EC2_METADATA_SERVICE_ENDPOINT=imds.url) as ckpt:
        assert wait_until(lambda: ckpt.stop_requested)
        assert ckpt.requests.stop_reason == "spot terminate at 2026-12-04T18:02:00Z"
    # IMDSv2: a token first, then GETs carrying it.
    assert imds.requests[0][:2] == ("PUT", "/latest/api/token")
    assert all(token in imds.tokens for method, _, token in imds.requests if method == "GET")


def test_rebalance_recommendation_asks_for_one_checkpoint_and_no_stop(tmp_path, imds):
    imds.documents[REBALANCE] = {"noticeTime": "2026-12-04T18:00:00Z"}
    with checkpointer(tmp_path, AWS_EC2_METADATA_SERVICE_ENDPOINT=imds.url) as ckpt:
        ckpt.resume()
        assert wait_until(lambda: bool(ckpt.requests.checkpoint_reason))
        assert ckpt.checkpoint_if_due(lambda: b"prepared")  # no CheckpointedStop: keeps running
        assert not ckpt.stop_requested
        assert not ckpt.due()  # once per request


def test_an_expired_token_is_renewed(imds):
    client = Imds(imds.url)
    assert client.get_json(INSTANCE_ACTION) is None
    imds.revoke_tokens()
    imds.documents[INSTANCE_ACTION] = {"action": "stop", "time": "2026-12-04T18:02:00Z"}
    assert client.get_json(INSTANCE_ACTION)["action"] == "stop"
    assert [m for m, _, _ in imds.requests].count("PUT") == 2


def test_no_metadata_service_means_no_watch_and_no_stop(tmp_path, loopback):
    # A closed port: the watcher gives up quietly, the job runs on.
    with checkpointer(tmp_path, AWS_EC2_METADATA_SERVICE_ENDPOINT="http://127.0.0.1:9") as ckpt:
        assert wait_until(lambda: ckpt.watcher.imds is None)
        assert not ckpt.stop_requested


def test_stop_file_asks_for_stop(tmp_path):
    flag = tmp_path / "stop"
    extra = {"CARBON_AWARE_STOP_FILE": str(flag), "CARBON_AWARE_WATCH_IMDS": "0"}
    with checkpointer(tmp_path, **extra) as ckpt:
        assert not ckpt.stop_requested
        flag.touch()
        assert wait_until(lambda: ckpt.stop_requested)
        assert ckpt.requests.stop_reason == f"stop file {flag}"


@pytest.mark.parametrize(
    ("environ", "watched"),
    [
        ({}, "http://169.254.169.254"),
        ({"AWS_EC2_METADATA_SERVICE_ENDPOINT": "http://127.0.0.1:1"}, "http://127.0.0.1:1"),
        ({"CARBON_AWARE_WATCH_IMDS": "0"}, None),
        ({"ECS_CONTAINER_METADATA_URI_V4": "http://169.254.170.2/v4/x"}, None),
        (
            {
                "ECS_CONTAINER_METADATA_URI_V4": "http://169.254.170.2/v4/x",
                "CARBON_AWARE_WATCH_IMDS": "1",
            },
            "http://169.254.169.254",
        ),
    ],
)
def test_when_the_metadata_is_watched(environ, watched):
    assert imds_endpoint(environ) == watched


def test_a_passing_metadata_error_after_contact_keeps_the_watch(tmp_path, imds):
    with checkpointer(tmp_path, AWS_EC2_METADATA_SERVICE_ENDPOINT=imds.url) as ckpt:
        assert wait_until(lambda: len(imds.requests) >= 3)  # token, instance action, rebalance
        ckpt.watcher.imds.endpoint = "http://127.0.0.1:9"  # the service stops answering
        ckpt.watcher._check_imds()
        assert ckpt.watcher.imds is not None
