"""The periodic sweep: plan what is pending, re-plan what is scheduled, recover what was lost.

- PENDING workloads are placed (in case the on-submit planning did not happen);
- SCHEDULED workloads whose start passed by more than ``LOST_AFTER`` are dispatched directly (their
  schedule was lost or failed); later ones are re-planned when the forecast changed enough;
- DISPATCHING workloads past their dispatch timeout (the executor died between claim and start)
  go back to SCHEDULED and are dispatched again at once. Targets with idempotent starts (ECS client
  token, Step Functions execution name) cannot run twice even if the dead executor had started
  them; the others may, which the README states;
- an interrupted segmented workload (runtime.segments) is re-planned from its last checkpoint;
- RUNNING workloads past their expected end plus a grace period go to the watchdog;
- SUCCEEDED workloads whose allowed window has been observed get their oracle (runtime.oracle):
  the carbon-efficiency SLI's grams are summed into the counts (``ORACLE_GOOD``, ``ORACLE_TOTAL``).
  The scheduler is where it lives because it is the periodic function that already carries the
  engine and the signal reader, and the due index finds the queued records without a Scan.
Every step goes through the same conditional writes, so a sweep racing an executor is harmless.

Each step reads the due-index shards concurrently and works on their records with a bounded pool
of ``workers`` threads. One record never stops the loop: an unexpected error on it is logged with
the workload id and counted (``record_error``), the record counts it on itself, and after
``POISON_LIMIT`` such errors in the same state it goes to FAILED with the reason (a final record
is never moved: the oracle step stores its own errors on the record).
"""

from __future__ import annotations

import contextvars
import dataclasses
import threading
from collections import Counter
from collections.abc import Callable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from carbon_aware.runtime.dispatcher import Dispatcher, is_transient
from carbon_aware.runtime.observability import logger
from carbon_aware.runtime.oracle import OracleSettler
from carbon_aware.runtime.planner import Planner, SweepSignals
from carbon_aware.runtime.repository import Conflict, WorkloadRecord, WorkloadRepository
from carbon_aware.runtime.service_metrics import DUE_LAG, ORACLE_GOOD, ORACLE_TOTAL
from carbon_aware.runtime.states import FINAL, State
from carbon_aware.runtime.tables import AWAITING_ORACLE, DUE_AT, DUE_SHARDS
from carbon_aware.runtime.watchdog import Watchdog

LOST_AFTER = 120.0
# DUE_LAG: seconds since the oldest PENDING or SCHEDULED record found due this sweep became due
# (0: none); the scheduler handler reports it as ``DueIndexLagSeconds``.
LAGGING = (State.PENDING, State.SCHEDULED)
SIGNAL_WINDOW = 7 * 86400.0
POISON_LIMIT = 3
MAX_REASON = 300

Step = Callable[[WorkloadRecord], str | None]


class _Counts:
    """A Counter that worker threads add to, and the oldest due time seen."""

    def __init__(self) -> None:
        self.counter: Counter = Counter()
        self.lock = threading.Lock()
        self.oldest_due: float | None = None

    def add(self, name: str | None, **grams: float) -> None:
        """Count ``name`` once and add ``grams`` to their sums."""
        with self.lock:
            if name:
                self.counter[name] += 1
            for key, value in grams.items():
                self.counter[key] += value

    def due(self, due_at: Any) -> None:
        """Note the due time of a record found due (for the due-index lag)."""
        if isinstance(due_at, int | float | Decimal):
            with self.lock:
                if self.oldest_due is None or due_at < self.oldest_due:
                    self.oldest_due = float(due_at)


@dataclass(frozen=True)
class Sweeper:
    """One pass over the due index."""

    repo: WorkloadRepository
    planner: Planner
    dispatcher: Dispatcher
    workers: int = 1
    watchdog: Watchdog | None = None
    oracle: OracleSettler | None = None

    def sweep(self, now: float, *, replan: bool = True) -> Counter:
        """Run every step once; returns counts of what happened."""
        counts = _Counts()
        memo = SweepSignals(self.planner.signals, now, now + SIGNAL_WINDOW)
        planner = dataclasses.replace(self.planner, signals=memo)
        plan: Step = lambda r: f"planned:{planner.plan(r, now).status}"  # noqa: E731
        self._each(State.PENDING, now, plan, counts, now)
        self._each(State.DISPATCHING, now, lambda r: self._recover(r, now), counts, now)
        self._each(State.SCHEDULED, now - LOST_AFTER, lambda r: self._dispatch(r, now), counts, now)
        if self.watchdog is not None:
            watchdog = self.watchdog
            self._each(State.RUNNING, now, lambda r: watchdog.check(r, now), counts, now)
        if replan:
            self._each(State.SCHEDULED, None, lambda r: _replan(planner, r, now), counts, now)
        if self.oracle is not None:
            settle: Step = lambda r: _settled(self.oracle, r, now, counts)  # noqa: E731
            self._each(AWAITING_ORACLE, now, settle, counts, now)
        oldest = counts.oldest_due
        counts.counter[DUE_LAG] = round(max(now - oldest, 0.0)) if oldest is not None else 0
        return counts.counter

    def _recover(self, record: WorkloadRecord, now: float) -> str:
        back = self.repo.transition(
            record,
            State.SCHEDULED,
            now=now,
            reason="recovered: dispatch did not finish in time",
            due_at=now,
        )
        self.dispatcher.dispatch(back.workload_id, back.version, now)
        return "recovered"

    def _dispatch(self, record: WorkloadRecord, now: float) -> str:
        if record.segments is not None and record.segments.get("replan"):
            resumed = self.planner.resume_segments(record, now)
            return f"resumed:{resumed.status}"
        result = self.dispatcher.dispatch(record.workload_id, None, now)
        return f"dispatched:{result.status if result else 'lost-race'}"

    def _each(
        self, status: str, before: float | None, step: Step, counts: _Counts, now: float
    ) -> None:
        """Run ``step`` on every due record in ``status``: shards read concurrently, records
        worked on by at most ``workers`` threads (and at most twice that many queued)."""
        slots = threading.BoundedSemaphore(2 * self.workers)
        futures: list[Future] = []
        with ThreadPoolExecutor(self.workers, thread_name_prefix="sweep") as pool:

            def read(shard: int) -> None:
                for item in self.repo.due_items(status, before, [shard]):
                    if before is not None and status in LAGGING:
                        counts.due(item.get(DUE_AT))
                    slots.acquire()
                    # Each task runs in a copy of the sweep's context (logger keys and the like).
                    run = contextvars.copy_context().run
                    future = pool.submit(run, self._guarded, item, step, counts, now)
                    future.add_done_callback(lambda _: slots.release())
                    futures.append(future)

            with ThreadPoolExecutor(DUE_SHARDS, thread_name_prefix="shard") as readers:
                shards = [
                    readers.submit(contextvars.copy_context().run, read, shard)
                    for shard in range(DUE_SHARDS)
                ]
                for reader in shards:
                    reader.result()
        for future in futures:
            future.result()  # re-raises what the guard lets through (the runtime stopping us)

    def _guarded(self, item: Mapping[str, Any], step: Step, counts: _Counts, now: float) -> None:
        try:
            counts.add(step(WorkloadRecord.from_item(item)))
        except Conflict:
            counts.add("conflict")
        except Exception as exc:  # one record must never stop the loop
            self._failed(item, exc, counts, now)

    def _failed(self, item: Mapping[str, Any], exc: Exception, counts: _Counts, now: float) -> None:
        """Log and count the error; bound the retries with the record's own poison count."""
        workload_id, status = item.get("workload_id"), item.get("status")
        extra = {"workload_id": workload_id, "status": status}
        if isinstance(exc, ClientError | BotoCoreError) and is_transient(exc):
            logger.warning("sweep: transient error", extra={**extra, "error": repr(exc)})
            counts.add("transient_error")
            return
        logger.exception("sweep: record failed", extra=extra)
        counts.add("record_error")
        if status in FINAL:
            return
        reason = f"{type(exc).__name__}: {exc}"[:MAX_REASON]
        try:
            attempts = self.repo.count_failure(workload_id, status, item.get("version"))
            if attempts >= POISON_LIMIT:
                self.repo.give_up(
                    workload_id,
                    status,
                    item["version"],
                    now=now,
                    reason=f"failed {attempts} times in a sweep, gave up: {reason}",
                )
                counts.add("poison_failed")
        except Conflict:
            counts.add("conflict")
        except Exception:  # an item too broken to update is logged and skipped
            logger.exception("sweep: could not record the failure", extra=extra)
            counts.add("poison_unrecorded")


def _replan(planner: Planner, record: WorkloadRecord, now: float) -> str | None:
    if record.due_at is None or record.due_at <= now:
        return None
    updated = planner.replan(record, now)
    return "replanned" if updated.version != record.version else "kept"


def _settled(oracle: OracleSettler, record: WorkloadRecord, now: float, counts: _Counts) -> str:
    """Settle one record's oracle; its SLI grams go into the sweep's sums."""
    settled = oracle.settle(record, now)
    counts.add(None, **{ORACLE_GOOD: settled.good_g, ORACLE_TOTAL: settled.total_g})
    return settled.outcome
