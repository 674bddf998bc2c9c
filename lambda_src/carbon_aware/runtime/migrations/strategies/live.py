"""live: move a running interruptible workload by pre-copy and a brief pause (opt-in).

Pre-copy (preparing): while the source keeps running, each round copies the newest committed
checkpoint object (not its manifest: nothing is committed in the target yet) to the target
region, re-encrypted under its key, and times the copy; the rounds end when one finds nothing
new, or after ``rounds``. The pause (migrating): the workload's dispatch is marked paused
(``segments.PAUSED_BY``: runtime.completion then leaves the source run's end to the migration),
the source is stopped (SIGTERM: the checkpoint agent writes a final checkpoint and exits 75), and
once it has ended the final delta (the checkpoint written since the last round, if any) is copied
with its manifest, verified, and the segment resumes in the target from it. completing is
checkpoint_restore's: the record points at the target run.

Who it suits, and the qualification check: workloads that checkpoint on SIGTERM (the agent does)
with state small enough to copy within the pause. validate refuses a workload without a
committed checkpoint, one whose checkpoint names an EBS snapshot (a copy takes minutes), or one
whose checkpoint budget (the time its final checkpoint may take) exceeds
``max_pause_seconds``; preparing refuses one whose measured copy took more than half of it.
Unlike checkpoint_restore no work is redone and nothing runs twice (no overlap grams); the price
is the pause, in which the workload makes no progress. Services that must answer throughout
(blue_green) and workloads with large or slowly written state (checkpoint_restore) do not suit.

Rollback: what started in the target is stopped and the target prefix restored (as in
checkpoint_restore); a source already paused is resumed in its own region from its final
checkpoint (a source that finished during the pause resumes from its last checkpoint and ends).
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from carbon_aware.runtime import segments as seg
from carbon_aware.runtime.checkpoints import MANIFEST, prefix
from carbon_aware.runtime.migrations.repository import Migration
from carbon_aware.runtime.migrations.strategies import (
    Outcome,
    SpecError,
    StepFailed,
    net_grams,
    overhead_grams,
)
from carbon_aware.runtime.migrations.strategies.checkpoint_restore import (
    CheckpointRestore,
    carried_fields,
)
from carbon_aware.runtime.repository import WorkloadRecord
from carbon_aware.runtime.runs import RunGone, describe, instant, stop
from carbon_aware.runtime.states import State
from carbon_aware.runtime.targets import resolve_target

KIND = "live"
_OWN_FIELDS = {"max_pause_seconds", "rounds"}
DEFAULT_MAX_PAUSE_SECONDS = 120.0
DEFAULT_ROUNDS = 3
PAUSE_REASON = "paused for a live migration (carbon-aware): checkpoint and exit"
SNAPSHOT_REFUSED = (
    "not qualified: its checkpoint names an EBS snapshot, whose copy takes minutes, not a pause "
    "(checkpoint_restore moves it)"
)


@dataclass(frozen=True)
class LivePreCopy(CheckpointRestore):
    """The opt-in strategy (see the module docstring); ``enabled`` is ``migrations.live``."""

    enabled: bool = False
    kind: str = KIND

    def check(self, request: Mapping[str, Any]) -> dict[str, Any]:
        """checkpoint_restore's spec plus ``max_pause_seconds`` and ``rounds``."""
        if not self.enabled:
            raise SpecError("kind: live migrations are off (set migrations.live = true)")
        own = {k: request[k] for k in _OWN_FIELDS if k in request}
        base = {k: v for k, v in request.items() if k not in _OWN_FIELDS}
        spec = super().check(base)
        pause = own.get("max_pause_seconds", DEFAULT_MAX_PAUSE_SECONDS)
        if (
            isinstance(pause, bool)
            or not isinstance(pause, int | float)
            or not math.isfinite(pause)
            or not 0 < pause <= 3600
        ):
            raise SpecError("max_pause_seconds: must be seconds > 0 and <= 3600")
        rounds = own.get("rounds", DEFAULT_ROUNDS)
        if isinstance(rounds, bool) or not isinstance(rounds, int) or not 1 <= rounds <= 10:
            raise SpecError("rounds: must be an integer from 1 to 10")
        return {**spec, "max_pause_seconds": float(pause), "rounds": rounds}

    def validate(self, m: Migration, now: float) -> Outcome:
        """checkpoint_restore's checks, then the qualification: a committed checkpoint, and a
        final checkpoint that fits the pause."""
        found = super().validate(m, now)
        budget, pause = self.settings.checkpoint_budget, m.spec["max_pause_seconds"]
        if budget > pause:
            raise StepFailed(
                f"not qualified: its final checkpoint may take {budget:g} s (the checkpoint "
                f"budget), over max_pause_seconds {pause:g}"
            )
        manifest = self.store.manifest(found.data["source"], m.spec["workload_id"])
        if manifest is None:
            raise StepFailed(
                "not qualified: no committed checkpoint yet (live moves workloads that "
                "checkpoint while they run)"
            )
        if manifest.get("snapshot_id"):
            raise StepFailed(SNAPSHOT_REFUSED)
        return Outcome(True, found.data, f"{found.note}, live within {pause:g} s")

    def prepare(self, m: Migration, now: float) -> Outcome:
        """Pre-copy rounds while the source runs; refused when a copy takes over half the pause."""
        wid, source, target = m.spec["workload_id"], m.data["source"], m.spec["target"]
        if "prior_manifest" not in m.data:
            return Outcome(False, {"prior_manifest": self._raw_manifest(target, wid)}, "noted")
        rounds = list(m.data.get("rounds", []))
        manifest = self.store.manifest(source, wid)
        if manifest is None:
            raise StepFailed(f"the checkpoints of {wid} in {source} are gone")
        if manifest["sequence"] not in {r["sequence"] for r in rounds}:
            began = time.monotonic()
            self.store.copy(source, target, manifest["key"])
            seconds = time.monotonic() - began
            rounds.append(
                {
                    "sequence": manifest["sequence"],
                    "bytes": manifest.get("bytes"),
                    "seconds": seconds,
                    "at": now,
                }
            )
            if len(rounds) < m.spec["rounds"]:
                note = f"pre-copy round {len(rounds)}: checkpoint {manifest['sequence']}"
                return Outcome(False, {"rounds": rounds}, note)
        last, limit = rounds[-1], m.spec["max_pause_seconds"] / 2
        if last["seconds"] > limit:
            raise StepFailed(
                f"not qualified: copying checkpoint {last['sequence']} ({last['bytes']} B) took "
                f"{last['seconds']:.1f} s, over half the {m.spec['max_pause_seconds']:g} s pause"
            )
        return Outcome(True, {"rounds": rounds}, f"{len(rounds)} pre-copy rounds")

    def migrate(self, m: Migration, now: float) -> Outcome:
        """Pause the source, carry the final delta once it has ended, resume in the target."""
        if "paused_at" not in m.data:
            record = self._running_source(m)
            if not self._mark_paused(m, record, now, m.migration_id):
                return Outcome(False, note="workload record changed; retrying")
            source_target = resolve_target(record.spec, m.data["source"])
            stop(m.data["source_run"], source_target, self.client, PAUSE_REASON)
            return Outcome(False, {"paused_at": now}, "source asked to checkpoint and stop")
        carried: Mapping[str, Any] = {}
        if "resume_from" not in m.data:
            final = self._carry_final(m, now)
            if "resume_from" not in final.data:
                return final
            carried = final.data  # start the target in the same step: the pause is shorter
            m = replace(m, data={**m.data, **carried})
        resumed = super().migrate(m, now)
        if not resumed.done:
            return Outcome(False, {**carried, **resumed.data}, resumed.note)
        pause = now - m.data["paused_at"]
        return Outcome(True, {"pause_seconds": pause}, f"{resumed.note}; paused {pause:.0f} s")

    def rollback(self, m: Migration, now: float) -> Outcome:
        """checkpoint_restore's rollback, then a paused source resumes in its own region."""
        super().rollback(m, now)
        record = self.repo.get(m.spec["workload_id"])
        dispatch = (record.dispatch or {}) if record else {}
        if record is None or record.status.final or dispatch.get(seg.PAUSED_BY) != m.migration_id:
            return Outcome(True, note="target released, source kept")
        source = m.data["source"]
        at_source = (
            record.status == State.RUNNING
            and dispatch.get("handle") == m.data["source_run"]["handle"]
        )
        ended = self._source_end(m, record, now) if at_source else None
        if ended is not None:
            manifest = self.store.manifest(source, m.spec["workload_id"])
            resume = self.store.uri(source, m.spec["workload_id"]) + MANIFEST if manifest else ""
            written = instant(manifest.get("written_at")) if manifest else None
            left = {"source_ended_at": ended, "checkpoint_written_at": written}
            m = replace(m, data={**m.data, **left})
            run = self._start(m, record, resolve_target(record.spec, source), source, resume)
            if not self._switch(m, record, now, run=run, resume_from=resume):
                return Outcome(False, note="workload record changed; retrying")
            return Outcome(True, note=f"target released, source resumed in {source}")
        if at_source and "paused_at" in m.data:
            return Outcome(False, note=f"waiting for the paused source in {source} to stop")
        # Never stopped, or re-planned meanwhile (a spot interruption): its own lifecycle goes on.
        if not self._mark_paused(m, record, now, None):
            return Outcome(False, note="workload record changed; retrying")
        return Outcome(True, note="target released, source unpaused")

    def grams(self, m: Migration) -> dict[str, Any]:
        """One run moved; nothing ran twice, so no overhead."""
        return net_grams(m.spec.get("basis"), 1, 0.0)

    def rollback_grams(self, m: Migration, now: float) -> dict[str, Any]:
        """Nothing ran twice: the target starts only after the source has stopped."""
        return overhead_grams(m.spec.get("basis"), 1, 0.0)

    def _mark_paused(
        self, m: Migration, record: WorkloadRecord, now: float, by: str | None
    ) -> bool:
        """Set (or, with ``by`` None, clear) the pause mark on the workload's dispatch."""
        dispatch = {k: v for k, v in (record.dispatch or {}).items() if k != seg.PAUSED_BY}
        if by is not None:
            dispatch[seg.PAUSED_BY] = by
        what = "paused" if by else "unpaused"
        reason = f"{what} by migration {m.migration_id}"
        return self._update(record, record.status, now, reason, {"dispatch": dispatch})

    def _source_end(self, m: Migration, record: WorkloadRecord, now: float) -> float | None:
        """When the source run ended (now when its end time is unknown); None while it runs."""
        try:
            state = describe(
                m.data["source_run"], resolve_target(record.spec, m.data["source"]), self.client
            )
        except RunGone:
            return now
        if state is not None and not state.ended:
            return None
        return (state.ended_at if state else None) or now

    def _carry_final(self, m: Migration, now: float) -> Outcome:
        """Once the source has ended: copy its final checkpoint (unless pre-copied) and the
        manifest to the target, and verify them."""
        wid, source, target = m.spec["workload_id"], m.data["source"], m.spec["target"]
        record = self.repo.get(wid)
        if record is None:
            raise StepFailed(f"no workload {wid}")
        ended = self._source_end(m, record, now)
        if ended is None:
            return Outcome(False, note="waiting for the source's final checkpoint")
        manifest = self.store.manifest(source, wid)
        if manifest is None:
            raise StepFailed(f"the checkpoints of {wid} in {source} are gone")
        if manifest.get("snapshot_id"):
            raise StepFailed(SNAPSHOT_REFUSED)
        delta = 0
        if manifest["sequence"] not in {r["sequence"] for r in m.data.get("rounds", [])}:
            self.store.copy(source, target, manifest["key"])
            delta = int(manifest.get("bytes") or 0)
        self.store.copy(source, target, prefix(wid) + MANIFEST)
        carried = self._verify_carried(target, wid)
        if carried["sequence"] != manifest["sequence"]:
            raise StepFailed(f"{target} holds checkpoint {carried['sequence']}, not the final one")
        return Outcome(
            False,
            {
                "resume_from": self.store.uri(target, wid) + MANIFEST,
                **carried_fields(carried),
                "final_delta_bytes": delta,
                "source_ended_at": ended,
            },
            f"final checkpoint {carried['sequence']} carried ({delta} B not pre-copied)",
        )
