"""The checkpointer a workload holds: resume once, save periodically, stop within the budget.

    with Checkpointer.from_env(interval_seconds=60) as ckpt:
        saved = ckpt.resume()  # bytes of the last committed checkpoint, or None
        state = decode(saved) if saved is not None else initial_state()
        while not finished(state):
            step(state)
            ckpt.checkpoint_if_due(lambda: encode(state), progress=fraction(state))

``checkpoint_if_due`` saves when the interval has passed or a checkpoint or stop was asked for;
after a stop request it raises :class:`CheckpointedStop` (exit status 75) once the checkpoint is
committed. Each save writes an immutable ``<sequence:08d>.ckpt`` first and the manifest
``latest.json`` last, by compare-and-swap: the manifest is the commit point.
"""

from __future__ import annotations

import hashlib
import logging
import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import Any, Self

from .protocol import (
    DEFAULT_BUDGET_SECONDS,
    ENV_BUDGET_SECONDS,
    ENV_CHECKPOINT_URI,
    ENV_RESUME_FROM,
    ENV_SEGMENT,
    ENV_STOP_FILE,
    ENV_WORKLOAD_ID,
    EXIT_CHECKPOINTED,
    MANIFEST_NAME,
    MAX_BUDGET_SECONDS,
    Manifest,
    ManifestError,
    checkpoint_name,
)
from .stores import Store, default_s3_client, locate
from .watch import Requests, Watcher, imds_endpoint

LOG = logging.getLogger(__name__)
# Orphan checkpoints (written, never committed by a killed writer) are skipped, at most this many.
MAX_ORPHANS = 1000


class CheckpointedStop(SystemExit):
    """Raised after a stop request once the checkpoint is committed: exit status 75."""

    def __init__(self, reason: str) -> None:
        super().__init__(EXIT_CHECKPOINTED)
        self.reason = reason


@dataclass(frozen=True)
class Location:
    """A manifest: the store holding it, its key and, when resuming from a checkpoint object's
    URI, that object's key (the manifest must name it)."""

    store: Store
    key: str
    names: str | None = None


@dataclass
class Stats:
    """What the agent measured, for the job to report."""

    resume_seconds: float = 0.0
    saves: int = 0
    max_save_seconds: float = 0.0


@dataclass
class Checkpointer:
    """A workload's side of the checkpoint protocol (docs/checkpoint-protocol.md)."""

    store: Store
    prefix: str
    resume_from: Location | None = None
    interval_seconds: float = 300.0
    budget_seconds: float = DEFAULT_BUDGET_SECONDS
    workload_id: str = ""
    segment: int = 0
    watcher: Watcher | None = None
    clock: Callable[[], float] = time.monotonic
    requests: Requests = field(default_factory=Requests)
    stats: Stats = field(default_factory=Stats)
    #: The EBS snapshot the resumed checkpoint names (already copied to this Region), if any.
    resumed_snapshot_id: str | None = field(default=None, init=False)
    _sequence: int | None = field(default=None, init=False)
    _manifest_etag: str | None = field(default=None, init=False)
    _last_save: float = field(default=0.0, init=False)

    @classmethod
    def from_env(
        cls,
        interval_seconds: float = 300.0,
        environ: Mapping[str, str] = os.environ,
        s3_client: Any = None,
    ) -> Checkpointer:
        """A checkpointer configured by the ``CARBON_AWARE_*`` variables the runtime sets."""
        uri = environ.get(ENV_CHECKPOINT_URI, "")
        if not uri:
            raise ValueError(f"{ENV_CHECKPOINT_URI}: not set")
        if not uri.endswith("/"):
            raise ValueError(f"{ENV_CHECKPOINT_URI}: must end with '/' (a prefix), got {uri}")
        if not interval_seconds > 0:
            raise ValueError("interval_seconds: must be positive")
        resume_uri = environ.get(ENV_RESUME_FROM, "")
        if s3_client is None and any(u.startswith("s3://") for u in (uri, resume_uri)):
            s3_client = default_s3_client()  # one client for both: each costs ~0.1 s to make
        store, prefix = locate(uri, s3_client)
        requests = Requests()
        stop_file = environ.get(ENV_STOP_FILE)
        return cls(
            store=store,
            prefix=prefix,
            resume_from=_manifest_location(resume_uri, s3_client) if resume_uri else None,
            interval_seconds=interval_seconds,
            budget_seconds=_budget(environ.get(ENV_BUDGET_SECONDS)),
            workload_id=environ.get(ENV_WORKLOAD_ID, ""),
            segment=_segment(environ.get(ENV_SEGMENT)),
            watcher=Watcher(
                requests, Path(stop_file) if stop_file else None, imds_endpoint(environ)
            ),
            requests=requests,
        )

    def __enter__(self) -> Self:
        if self.watcher is not None:
            self.watcher.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self.watcher is not None:
            self.watcher.close()

    @property
    def stop_requested(self) -> bool:
        """True once a stop was asked for (SIGTERM, stop file, Spot instance action)."""
        return self.requests.stop_at is not None

    def time_left(self) -> float | None:
        """Seconds of the stop budget left, or None while no stop is pending."""
        if self.requests.stop_at is None:
            return None
        return self.budget_seconds - (self.clock() - self.requests.stop_at)

    def resume(self) -> bytes | None:
        """The last committed checkpoint's bytes (verified against its manifest), or None on a
        fresh start. Of CARBON_AWARE_RESUME_FROM and this segment's own prefix, the manifest with
        the higher sequence wins (the own prefix is newer when this segment was restarted)."""
        started = self.clock()
        own = Location(self.store, self.prefix + MANIFEST_NAME)
        own_blob = self.store.get(own.key)
        self._manifest_etag = own_blob.etag if own_blob else None
        found: list[tuple[Manifest, Location]] = []
        if own_blob is not None:
            found.append((Manifest.from_json(own_blob.data), own))
        if self.resume_from is not None and self.resume_from != own:
            blob = self.resume_from.store.get(self.resume_from.key)
            if blob is None:
                raise ManifestError(f"{ENV_RESUME_FROM}: no manifest at {self.resume_from.key}")
            theirs = Manifest.from_json(blob.data)
            if self.resume_from.names not in (None, theirs.key):
                raise ManifestError(
                    f"{ENV_RESUME_FROM}: {self.resume_from.names} is not the committed checkpoint"
                    f" ({theirs.key} is)"
                )
            found.append((theirs, self.resume_from))
        self._last_save = self.clock()
        if not found:
            self._sequence = 0
            LOG.info("fresh start of %s segment %d", self.workload_id, self.segment)
            return None
        manifest, where = max(found, key=lambda pair: pair[0].sequence)
        blob = where.store.get(manifest.key)
        if blob is None:
            raise ManifestError(f"checkpoint {manifest.key}: named by the manifest but missing")
        data = manifest.verify(blob.data)
        self.resumed_snapshot_id = manifest.snapshot_id
        self._sequence = max(m.sequence for m, _ in found) + 1
        self.stats.resume_seconds = self.clock() - started
        LOG.info(
            "resumed %s segment %d from checkpoint %d (progress %s) in %.3f s",
            self.workload_id,
            self.segment,
            manifest.sequence,
            manifest.progress,
            self.stats.resume_seconds,
        )
        return data

    def due(self) -> bool:
        """True when a checkpoint should be taken now: stop or checkpoint asked for, or the
        interval has passed since the last one (or since resuming)."""
        if self.stop_requested or self.requests.take_checkpoint():
            return True
        return self.clock() - self._last_save >= self.interval_seconds

    def checkpoint_if_due(
        self,
        snapshot: Callable[[], bytes],
        progress: float | None = None,
        snapshot_id: str | None = None,
    ) -> bool:
        """Save ``snapshot()`` when :meth:`due`; after a stop request raise CheckpointedStop once
        it is committed. True when a checkpoint was saved."""
        saved = self.due()
        if saved:
            self.save(snapshot(), progress, snapshot_id)
        if self.stop_requested:
            if not saved:  # the stop landed after due() was asked: this step is not saved yet
                self.save(snapshot(), progress, snapshot_id)
            raise CheckpointedStop(self.requests.stop_reason)
        return saved

    def save(
        self, data: bytes, progress: float | None = None, snapshot_id: str | None = None
    ) -> Manifest:
        """Commit ``data`` as the next checkpoint: the object first, then the manifest (naming
        ``snapshot_id``, an EBS snapshot of this Region with the rest of the state, if any)."""
        if self._sequence is None:
            raise RuntimeError("resume() must be called before save(): it reads the manifest")
        started = self.clock()
        sequence = self._sequence
        LOG.debug("writing checkpoint %d (%d bytes)", sequence, len(data))
        while not self.store.create(self.prefix + checkpoint_name(sequence), data):
            LOG.warning("checkpoint %d exists but was never committed: skipped", sequence)
            sequence += 1
            if sequence - self._sequence > MAX_ORPHANS:
                raise ManifestError(f"{self.prefix}: more than {MAX_ORPHANS} orphan checkpoints")
        manifest = Manifest(
            sequence=sequence,
            key=self.prefix + checkpoint_name(sequence),
            sha256=hashlib.sha256(data).hexdigest(),
            bytes=len(data),
            written_at=datetime.now(UTC).isoformat(timespec="milliseconds"),
            progress=progress,
            snapshot_id=snapshot_id,
        )
        self._manifest_etag = self.store.swap(
            self.prefix + MANIFEST_NAME, manifest.to_json(), self._manifest_etag
        )
        self._sequence = sequence + 1
        self._last_save = self.clock()
        elapsed = self._last_save - started
        self.stats.saves += 1
        self.stats.max_save_seconds = max(self.stats.max_save_seconds, elapsed)
        if elapsed > self.budget_seconds / 2:
            LOG.warning(
                "checkpoint took %.1f s, over half the %.0f s stop budget: a stop may kill it",
                elapsed,
                self.budget_seconds,
            )
        LOG.info("checkpoint %d committed (%d bytes, %.3f s)", sequence, len(data), elapsed)
        return manifest


def _manifest_location(uri: str, s3_client: Any) -> Location:
    """Where the manifest a CARBON_AWARE_RESUME_FROM value names is: the manifest itself, a prefix
    (``.../``) holding one, or a checkpoint object (whose prefix's manifest must name it)."""
    store, key = locate(uri, s3_client)
    if key.endswith("/"):
        return Location(store, key + MANIFEST_NAME)
    if key.endswith(".json"):
        return Location(store, key)
    if key.endswith(".ckpt"):
        return Location(store, key.rsplit("/", 1)[0] + "/" + MANIFEST_NAME, names=key)
    raise ValueError(f"{ENV_RESUME_FROM}: {uri} names neither a manifest, a prefix nor a .ckpt")


def _budget(raw: str | None) -> float:
    if not raw:
        return DEFAULT_BUDGET_SECONDS
    try:
        budget = float(raw)
    except ValueError:
        raise ValueError(f"{ENV_BUDGET_SECONDS}: not a number: {raw!r}") from None
    if not 0 < budget <= MAX_BUDGET_SECONDS:
        raise ValueError(f"{ENV_BUDGET_SECONDS}: must be in (0, {MAX_BUDGET_SECONDS:.0f}]")
    return budget


def _segment(raw: str | None) -> int:
    if not raw:
        return 0
    if not raw.isdigit():
        raise ValueError(f"{ENV_SEGMENT}: not a non-negative integer: {raw!r}")
    return int(raw)
