"""How a workload learns it should checkpoint: SIGTERM, a stop file, or EC2 instance metadata.

- SIGTERM (ECS StopTask, Fargate Spot interruption, ``docker stop``): checkpoint and stop.
- A stop file appearing (an SSM Run Command on EC2 writes it): checkpoint and stop.
- IMDSv2 ``spot/instance-action`` (the two-minute Spot warning, or a scheduled stop): checkpoint
  and stop; ``events/recommendations/rebalance``: checkpoint now and keep running, since most
  recommendations never become interruptions.

The signal handler only assigns attributes (no locks: it interrupts the main thread anywhere); the
file and metadata are polled by one daemon thread.
"""

from __future__ import annotations

import json
import logging
import signal
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from pathlib import Path
from types import FrameType

from .protocol import ENV_WATCH_IMDS

LOG = logging.getLogger(__name__)
IMDS_DEFAULT = "http://169.254.169.254"
# botocore's variable for the metadata endpoint, honoured here too (tests point it at a fake).
IMDS_ENDPOINT_ENV = "AWS_EC2_METADATA_SERVICE_ENDPOINT"
INSTANCE_ACTION = "/latest/meta-data/spot/instance-action"
REBALANCE = "/latest/meta-data/events/recommendations/rebalance"
TOKEN_PATH = "/latest/api/token"
TOKEN_TTL_SECONDS = 21600
# AWS asks Spot watchers to poll the instance action every 5 seconds.
IMDS_POLL_SECONDS = 5.0
FILE_POLL_SECONDS = 1.0
IMDS_TIMEOUT_SECONDS = 1.0
# Set by ECS and Lambda: there a stop arrives as SIGTERM and IMDS is not the workload's to watch.
CONTAINER_MARKERS = ("ECS_CONTAINER_METADATA_URI_V4", "AWS_LAMBDA_FUNCTION_NAME")


class Requests:
    """Pending requests: stop (checkpoint, then exit) and checkpoint-now (then continue)."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self.stop_at: float | None = None
        self.stop_reason = ""
        self.checkpoint_reason = ""

    def stop(self, reason: str) -> None:
        """Ask for checkpoint-and-stop (the first reason and time are kept)."""
        if self.stop_at is None:
            self.stop_at = self.clock()
            self.stop_reason = reason

    def checkpoint(self, reason: str) -> None:
        """Ask for one checkpoint as soon as the job can take it."""
        self.checkpoint_reason = reason

    def take_checkpoint(self) -> bool:
        """True once per checkpoint request."""
        pending, self.checkpoint_reason = bool(self.checkpoint_reason), ""
        return pending


class Watcher:
    """Installs the SIGTERM handler and polls the stop file and instance metadata."""

    def __init__(
        self, requests: Requests, stop_file: Path | None, imds_endpoint: str | None
    ) -> None:
        self.requests = requests
        self.stop_file = stop_file
        self.imds = Imds(imds_endpoint) if imds_endpoint else None
        self._closed = threading.Event()
        self._previous: signal.Handlers | object = None

    def start(self) -> None:
        """Handle SIGTERM (main thread only) and start polling."""
        if threading.current_thread() is threading.main_thread():
            self._previous = signal.signal(signal.SIGTERM, self._on_sigterm)
        else:
            LOG.warning("not the main thread: SIGTERM is not handled, the job is killed by it")
        if self.stop_file or self.imds:
            threading.Thread(target=self._poll, name="checkpoint-watch", daemon=True).start()

    def close(self) -> None:
        """Restore the previous SIGTERM handler and stop polling. The polling thread is not
        joined: a metadata request in flight must not delay the job's exit within its budget."""
        self._closed.set()
        if self._previous is not None:
            signal.signal(signal.SIGTERM, self._previous)  # type: ignore[arg-type]
            self._previous = None

    def _on_sigterm(self, signum: int, frame: FrameType | None) -> None:
        self.requests.stop("SIGTERM")

    def _poll(self) -> None:
        next_imds = 0.0
        while not self._closed.wait(0 if next_imds == 0.0 else FILE_POLL_SECONDS):
            if self.stop_file is not None and self.stop_file.exists():
                self.requests.stop(f"stop file {self.stop_file}")
            now = time.monotonic()
            if self.imds is not None and now >= next_imds:
                next_imds = now + IMDS_POLL_SECONDS
                self._check_imds()

    def _check_imds(self) -> None:
        assert self.imds is not None
        try:
            action = self.imds.get_json(INSTANCE_ACTION)
            if action is not None:
                self.requests.stop(f"spot {action.get('action')} at {action.get('time')}")
            notice = self.imds.get_json(REBALANCE)
            if notice is not None and not self.requests.stop_at:
                self.requests.checkpoint(f"rebalance recommendation at {notice.get('noticeTime')}")
        except (OSError, ValueError) as err:
            if self.imds.token is None:  # never reached: not on EC2, or no hop left to IMDS
                LOG.info("instance metadata unavailable (%s): not watched", err)
                self.imds = None
            else:  # reached before: a passing error, polled again next time
                LOG.warning("instance metadata poll failed (%s)", err)


class Imds:
    """A minimal IMDSv2 client: a session token, then GETs that may answer 404 (nothing yet)."""

    def __init__(self, endpoint: str) -> None:
        self.endpoint = endpoint.rstrip("/")
        self.token: str | None = None

    def get_json(self, path: str) -> dict | None:
        """The JSON document at ``path``, or None on 404; a stale token is renewed once."""
        for _ in range(2):
            if self.token is None:
                self.token = self._token()
            request = urllib.request.Request(
                self.endpoint + path, headers={"X-aws-ec2-metadata-token": self.token}
            )
            try:
                with urllib.request.urlopen(request, timeout=IMDS_TIMEOUT_SECONDS) as reply:
                    document = json.loads(reply.read())
                    return document if isinstance(document, dict) else {}
            except urllib.error.HTTPError as err:
                if err.code == 404:
                    return None
                if err.code != 401:
                    raise
                self.token = None
        raise OSError(f"{path}: token refused twice")

    def _token(self) -> str:
        request = urllib.request.Request(
            self.endpoint + TOKEN_PATH,
            method="PUT",
            headers={"X-aws-ec2-metadata-token-ttl-seconds": str(TOKEN_TTL_SECONDS)},
        )
        with urllib.request.urlopen(request, timeout=IMDS_TIMEOUT_SECONDS) as reply:
            return reply.read().decode()


def imds_endpoint(environ: Mapping[str, str]) -> str | None:
    """The metadata endpoint to watch, or None: off when CARBON_AWARE_WATCH_IMDS is "0", and by
    default inside ECS and Lambda (containers learn of a stop by SIGTERM there)."""
    switch = environ.get(ENV_WATCH_IMDS, "auto")
    in_container = (
        "ECS_CONTAINER_METADATA_URI_V4" in environ or "AWS_LAMBDA_FUNCTION_NAME" in environ
    )
    if switch == "0" or (switch == "auto" and in_container):
        return None
    return environ.get(IMDS_ENDPOINT_ENV, IMDS_DEFAULT)
