"""Completion: turn target state-change events into SUCCEEDED/FAILED with final emissions.

Understood events:
- ``ECS Task State Change`` with ``lastStatus`` STOPPED (``startedBy`` is ``<prefix>-<id>``); a
  task stopped by a Fargate Spot interruption (``stopCode``) is a segment's end for an
  interruptible workload (below); for any other workload it is not a completion: the
  interruptions function owns it and places the workload again (runtime.interruptions);
- ``Batch Job State Change`` SUCCEEDED/FAILED (the workload-id tag, or the job name as for ECS);
- ``Step Functions Execution Status Change`` (id in the execution input; for a task-token
  execution, derived from its ARN);
- a Lambda asynchronous invocation record (id in ``requestPayload``), delivered straight to the
  completion function by an on-success/on-failure destination, or wrapped by EventBridge when
  the destination is an event bus (``Lambda Function Invocation Result - Success``/``Failure``);
- ``Workload Completed`` from source ``carbon-aware`` sent by custom runners.

A segment of an interruptible workload (runtime.segments) that ends is accounted on its own (its
grams against the same stretch of work run unshifted in the home Region, on one signal type) and
the workload's result sums its segments (and the pieces a migration moved a segment from, each
accounted in its own Region: ``segments.MOVED``): exit 0 ends the workload SUCCEEDED, exit 75
("checkpointed") schedules the next segment, a Spot interruption waits for a re-plan from the last
checkpoint (runtime.planner.Planner.resume_segments), anything else fails it. An event for a run
other than the current segment's (a repeat, or one arriving late) changes nothing, nor does the
end of a run a live migration paused (``segments.PAUSED_BY``): the migration resumes it.
"""

from __future__ import annotations

import copy
import dataclasses
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from carbon_aware.engine.accounting import ComparableSource, Span, account, comparison
from carbon_aware.engine.signal_type import SignalError
from carbon_aware.runtime import segments as seg
from carbon_aware.runtime.oracle import oracle_due
from carbon_aware.runtime.repository import Conflict, WorkloadRecord, WorkloadRepository
from carbon_aware.runtime.runs import (
    ECS_INTERRUPTED,
    RunState,
    batch_job_state,
    ecs_task_state,
    instant,
    lambda_record_state,
    sfn_execution_state,
)
from carbon_aware.runtime.states import State
from carbon_aware.runtime.submission import workload_of
from carbon_aware.runtime.targets import (
    EVENT_SOURCE,
    WORKLOAD_TAG,
    task_token_workload_id,
    workload_of_run,
)

LAMBDA_RESULTS = frozenset(
    {"Lambda Function Invocation Result - Success", "Lambda Function Invocation Result - Failure"}
)


@dataclass(frozen=True)
class Finished:
    """What a completion event says: which workload, whether it succeeded, and when it ran."""

    workload_id: str
    succeeded: bool
    started_at: float | None
    ended_at: float | None
    detail: str
    handle: str | None = None
    checkpointed: bool = False
    interrupted: bool = False
    spot_stopped_task: bool = False

    @classmethod
    def of(cls, workload_id: str | None, state: RunState, handle: Any = None) -> Finished | None:
        """The completion of an ended run of ``workload_id``; None when either is missing."""
        if not workload_id or not isinstance(workload_id, str) or state.succeeded is None:
            return None
        return cls(
            workload_id,
            state.succeeded,
            state.started_at,
            state.ended_at,
            state.detail,
            handle if isinstance(handle, str) and handle else None,
            state.checkpointed,
            state.interrupted,
        )


def parse_event(event: Mapping[str, Any], prefix: str) -> Finished | None:
    """The completion in ``event``, or None for events that are not (yet) ours or a completion."""
    if "requestContext" in event and "requestPayload" in event:
        return _lambda_record(event)
    detail = event.get("detail")
    if not isinstance(detail, Mapping):
        return None
    kind = event.get("detail-type", "")
    if kind == "ECS Task State Change":
        wid = workload_of_run(str(detail.get("startedBy") or ""), prefix)
        finished = Finished.of(wid, ecs_task_state(detail), detail.get("taskArn"))
        if finished is None or detail.get("stopCode") not in ECS_INTERRUPTED:
            return finished
        return dataclasses.replace(finished, spot_stopped_task=True)
    if kind == "Batch Job State Change":
        tags = detail.get("tags") or {}
        wid = tags.get(WORKLOAD_TAG) or workload_of_run(str(detail.get("jobName") or ""), prefix)
        return Finished.of(wid, batch_job_state(detail), detail.get("jobId"))
    if kind == "Step Functions Execution Status Change":
        name = str(detail.get("name") or "")
        if name and workload_of_run(name, prefix) is None:
            # A task-token execution: it ran from SendTaskSuccess (the dispatch) to its stop.
            wid = task_token_workload_id(str(detail.get("executionArn") or ""))
            state = dataclasses.replace(sfn_execution_state(detail), started_at=None)
            return Finished.of(wid, state)
        wid = _json_object(detail.get("input")).get("workload_id")
        return Finished.of(wid, sfn_execution_state(detail))
    if event.get("source") == "lambda" and kind in LAMBDA_RESULTS:
        return _lambda_record(detail)
    if event.get("source") == EVENT_SOURCE and kind == "Workload Completed":
        return Finished.of(
            detail.get("workload_id"),
            RunState(
                detail.get("status") == "SUCCEEDED",
                instant(detail.get("started_at")),
                instant(detail.get("ended_at")),
                str(detail.get("message", "")),
            ),
        )
    return None


def _lambda_record(record: Mapping[str, Any]) -> Finished | None:
    """Our executor puts ``workload_id`` into the payload it invokes the function with."""
    payload = _json_object(record.get("requestPayload"))
    return Finished.of(payload.get("workload_id"), lambda_record_state(record))


def _json_object(value: object) -> Mapping[str, Any]:
    """``value`` as a JSON object (decoded when a string); empty for anything else."""
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            return {}
    return value if isinstance(value, Mapping) else {}


@dataclass(frozen=True)
class Completer:
    """Records the end of a run with its emissions and savings against the baseline."""

    repo: WorkloadRepository
    signals: ComparableSource

    def complete(self, finished: Finished, now: float) -> WorkloadRecord | None:
        """Move the workload to SUCCEEDED/FAILED; None when unknown or already final."""
        if not finished.workload_id:
            return None
        record = self.repo.get(finished.workload_id)
        if record is None or record.status.final:
            return None  # a repeated or late event (e.g. after TIMED_OUT) records nothing
        try:
            if record.status == State.DISPATCHING:
                record = self.repo.transition(
                    record, State.RUNNING, now=now, reason="completion arrived first", due_at=now
                )
            if record.status != State.RUNNING:
                return record
            if record.segments is not None:
                return self._segment_ended(record, finished, now)
            if finished.spot_stopped_task:
                return record  # the interruptions function re-places it (runtime.interruptions)
            result = self._result(record, finished, now)
            to = State.SUCCEEDED if finished.succeeded else State.FAILED
            reason = "completed" if finished.succeeded else f"target failed: {finished.detail}"
            # A success waits in the oracle queue until its window is observed (runtime.oracle).
            settle = oracle_due(record.spec, result) if finished.succeeded else None
            return self.repo.transition(
                record, to, now=now, reason=reason, due_at=settle, updates={"result": result}
            )
        except Conflict:
            return self.repo.get(finished.workload_id)

    def stopped(self, record: WorkloadRecord, started: float, ended: float) -> dict[str, Any]:
        """The updates of a run that stopped without a completion event (timed out, cancelled):
        its ``result`` from ``started`` to ``ended``; for a segmented workload also its
        ``segments``, the current run accounted until ``ended`` and the result summing every
        segment so far."""
        segmented = copy.deepcopy(record.segments) if record.segments else None
        run = segmented["runs"][segmented["current"]] if segmented else None
        if not segmented or not run or run["state"] != seg.RUNNING:
            finished = Finished(record.workload_id, False, started, ended, "")
            return {"result": self._result(record, finished, ended)}
        started = float(run.get("started_at") or started)
        done = float(segmented.get("done_seconds", 0.0))
        segmented["done_seconds"] = self._account_run(record, run, done, started, ended)
        self._account_again(record, segmented["runs"])
        return {"segments": segmented, "result": summed(segmented["runs"])}

    def _result(self, record: WorkloadRecord, finished: Finished, now: float) -> dict[str, Any]:
        workload = workload_of(record.spec)
        dispatch = record.dispatch or {}
        region = dispatch.get("region") or (record.decision or {}).get("region")
        started = finished.started_at or dispatch.get("started_at") or now
        ended = max(finished.ended_at or now, started)
        duration = ended - started
        result: dict[str, Any] = {
            "started_at": started,
            "ended_at": ended,
            "duration_seconds": duration,
            "region": region,
        }
        if duration <= 0:
            return {**result, "emissions_g": 0.0, "baseline_g": 0.0, "saved_g": 0.0}
        run = Span(region, started, ended)
        base_start = workload.submitted_at
        baseline = Span(workload.home_region, base_start, base_start + duration)
        try:
            # One read for both sides: same signal type and provider class, or neither is used.
            ran, base = self.signals.comparable([run, baseline])
            emitted = account(ran, workload.power_watts, run.start, run.end)
            expected = account(base, workload.power_watts, baseline.start, baseline.end)
            return {**result, **comparison(emitted, expected)}
        except SignalError as exc:
            return {**result, "accounting_error": str(exc)}

    def _segment_ended(
        self, record: WorkloadRecord, finished: Finished, now: float
    ) -> WorkloadRecord:
        segmented = record.segments or {}
        index = segmented["current"]
        runs = copy.deepcopy(segmented["runs"])
        run = runs[index]
        if run["state"] != seg.RUNNING or (
            finished.handle and finished.handle != run.get("handle")
        ):
            return record  # a repeated event, or one of an earlier segment's run
        if (record.dispatch or {}).get(seg.PAUSED_BY):
            return record  # a live migration paused this run and resumes it elsewhere
        workload = workload_of(record.spec)
        started = finished.started_at or run.get("started_at") or now
        ended = max(finished.ended_at or now, started)
        done = self._account_run(
            record, run, float(segmented.get("done_seconds", 0.0)), started, ended
        )
        worked = ended - started
        next_index = index + 1
        if finished.succeeded:
            run["state"], to, reason = seg.DONE, State.SUCCEEDED, "completed"
        elif finished.checkpointed and not finished.interrupted:
            run["state"] = seg.CHECKPOINTED
            done += worked
            to, reason = State.SCHEDULED, f"segment {index} checkpointed"
        elif finished.interrupted:
            run["state"] = seg.INTERRUPTED
            # Work since the last checkpoint is lost unless it checkpointed on the warning.
            done += worked if finished.checkpointed else 0.0
            to, reason = State.SCHEDULED, f"segment {index} interrupted: {finished.detail}"
        else:
            run["state"], to = seg.FAILED, State.FAILED
            reason = f"target failed in segment {index}: {finished.detail}"
        if to != State.SCHEDULED:
            self._account_again(record, runs)
        updated = {**segmented, "runs": runs, "done_seconds": min(done, workload.duration)}
        updates: dict[str, Any] = {"segments": updated, "result": summed(runs)}
        if to != State.SCHEDULED:
            return self.repo.transition(record, to, now=now, reason=reason, updates=updates)
        if run["state"] == seg.INTERRUPTED or next_index >= len(runs):
            updated.update(replan=True, penalised=run["region"])
            due = now
        else:
            updated["current"] = next_index
            due = max(float(runs[next_index]["start_epoch"]), now)
        return self.repo.transition(record, to, now=now, reason=reason, due_at=due, updates=updates)

    def _account_run(
        self, record: WorkloadRecord, run: dict[str, Any], done: float, started: float, ended: float
    ) -> float:
        """Account ``run`` over ``[started, ended)`` after the pieces a migration moved it from,
        each against the home-Region stretch after the work ``done`` before it; the work done
        once the moved pieces' kept work is added."""
        submitted = workload_of(record.spec).submitted_at
        run.update(started_at=started, ended_at=ended)
        moved, base_starts = run.get(seg.MOVED, []), []
        for piece in moved:
            base_starts.append(submitted + done)
            done += float(piece["work_seconds"])
        base_starts.append(submitted + done)
        ran = [*moved, run]
        for piece, result in zip(ran, self._segments_result(record, ran, base_starts), strict=True):
            piece["result"] = result
        return done

    def _account_again(self, record: WorkloadRecord, runs: list[dict[str, Any]]) -> None:
        """The final account: every piece read again in one read, as a whole run's is read at
        its end (observations may have replaced forecasts since a segment ended)."""
        ran = seg.pieces(runs)
        again = self._segments_result(record, ran, [r["result"]["baseline_start"] for r in ran])
        for r, result in zip(ran, again, strict=True):
            r["result"] = result

    def _segments_result(
        self, record: WorkloadRecord, runs: list[dict[str, Any]], base_starts: list[float]
    ) -> list[dict[str, Any]]:
        """Each segment against the same stretch of work run unshifted in the home Region
        (from ``base_starts``), all read at once: one signal type and provider class."""
        workload = workload_of(record.spec)
        results = [
            {"duration_seconds": r["ended_at"] - r["started_at"], "baseline_start": b}
            for r, b in zip(runs, base_starts, strict=True)
        ]
        spans = []
        for r, b in zip(runs, base_starts, strict=True):
            length = max(r["ended_at"] - r["started_at"], 1.0)
            spans += [Span(r["region"], r["started_at"], r["started_at"] + length)]
            spans += [Span(workload.home_region, b, b + length)]
        try:
            series = self.signals.comparable(spans)
        except SignalError as exc:
            return [{**f, "accounting_error": str(exc)} for f in results]
        for k, fields in enumerate(results):
            if fields["duration_seconds"] <= 0:
                fields.update(emissions_g=0.0, baseline_g=0.0, saved_g=0.0)
                continue
            run, base = spans[2 * k], spans[2 * k + 1]
            try:
                emitted = account(series[2 * k], workload.power_watts, run.start, run.end)
                expected = account(series[2 * k + 1], workload.power_watts, base.start, base.end)
                fields.update(comparison(emitted, expected))
            except SignalError as exc:
                fields["accounting_error"] = str(exc)
        return results


GRAMS = ("emissions_g", "baseline_g", "saved_g")


def summed(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """The workload's result: its segments' grams summed, when all were accounted on one signal
    type and provider class (else ``accounting_error`` says why nothing is summed)."""
    ran = seg.pieces(runs)
    results = [r["result"] for r in ran]
    result: dict[str, Any] = {
        "segments": len([r for r in runs if "result" in r]),
        "regions": sorted({r["region"] for r in ran}),
        "region": ran[-1]["region"],
        "started_at": min(r["started_at"] for r in ran),
        "ended_at": max(r["ended_at"] for r in ran),
        "duration_seconds": sum(r["duration_seconds"] for r in results),
    }
    errors = [r["accounting_error"] for r in results if "accounting_error" in r]
    kinds = {
        (r.get("signal_type"), r.get("provider_class"))
        for r in results
        if not r.get("accounting_error")
    }
    if errors or len(kinds) > 1:
        reason = errors[0] if errors else f"segments accounted on different signals: {kinds}"
        return {**result, "accounting_error": reason}
    for name in GRAMS:
        result[name] = sum(r.get(name, 0.0) for r in results)
    signal_type, provider_class = kinds.pop() if kinds else (None, None)
    providers = sorted({str(r.get("provider")) for r in results if r.get("provider")})
    result.update(
        provider=", ".join(providers) or None,
        signal_type=signal_type,
        provider_class=provider_class,
        estimated=any(r.get("estimated") for r in results),
    )
    return result
