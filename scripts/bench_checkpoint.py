"""Fault injection on the checkpointing example job: interrupt it at random points, resume it
each time until it finishes, and measure what was lost and how fast it came back.

    python scripts/bench_checkpoint.py [--interruptions 60] [--seed 7] [--store s3|local]

Each run of ``examples/checkpointing-job/job.py`` (a real subprocess) is stopped when its chain
reaches the next of ``N`` sorted random step numbers, by one of:

- ``sigterm``: the warning a container gets; the agent must checkpoint and exit 75;
- ``sigkill``: no warning; the last committed checkpoint must stand;
- ``midwrite``: SIGKILL at a random moment while a checkpoint is being written.

After each interruption the store's manifest must parse and its checkpoint verify. The next run
resumes (for S3 in the other of two buckets, as a segment moved to another Region would, told
where to resume by CARBON_AWARE_RESUME_FROM). Lost work per interruption is the time between the
committed state's step and the kill, from the job's own monotonic timestamps. The final digest
must equal the uninterrupted chain's. S3 runs against moto's server on 127.0.0.1.
"""

from __future__ import annotations

import argparse
import importlib.util
import itertools
import logging
import os
import random
import signal
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
JOB = ROOT / "examples" / "checkpointing-job" / "job.py"
WORKLOAD = "fault-injection"
KINDS = ("sigterm", "sigkill", "midwrite")


@dataclass(frozen=True)
class Setup:
    """The job's parameters and the campaign's."""

    steps: int = 150_000
    step_work: int = 300
    interval: float = 0.5
    ballast_bytes: int = 1 << 20
    budget: float = 10.0
    interruptions: int = 30
    seed: int = 7


@dataclass
class Interruption:
    """One interruption as measured: its kind, the exit status, what was lost."""

    kind: str
    returncode: int
    reached: int
    resumed: int = 0
    lost_seconds: float = 0.0
    stop_seconds: float = 0.0
    # Whether a SIGKILL landed while a checkpoint was being written; and, for midwrite kills,
    # what the store held afterwards.
    during_write: bool = False
    landed: str = ""

    @property
    def lost_steps(self) -> int:
        return self.reached - self.resumed


@dataclass
class Campaign:
    """Everything measured over one campaign."""

    digest: str = ""
    expected: str = ""
    interruptions: list[Interruption] = field(default_factory=list)
    resume_seconds: list[float] = field(default_factory=list)
    # The agent's own part of it: reading the manifests and the checkpoint, verifying it.
    agent_resume_seconds: list[float] = field(default_factory=list)
    save_seconds: list[float] = field(default_factory=list)
    runs: int = 0
    max_step_seconds: float = 0.0
    # Why the campaign ended before its last interruption, if it did.
    short: str = ""

    def record(self, run: Run) -> None:
        """Take a finished run's commit times and the agent's resume time."""
        self.save_seconds += run.saves
        if run.resume_seconds is not None:
            self.agent_resume_seconds.append(run.resume_seconds)


class Run:
    """One job process, its output read as it comes: step -> monotonic time, and write marks."""

    def __init__(self, env: dict[str, str], setup: Setup) -> None:
        args = [sys.executable, str(JOB), "--steps", str(setup.steps)]
        args += ["--step-work", str(setup.step_work), "--interval", str(setup.interval)]
        args += ["--ballast-bytes", str(setup.ballast_bytes), "--trace"]
        self.spawned = time.monotonic()
        self.proc = subprocess.Popen(args, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        self.times: dict[int, float] = {}
        self.start_step: int | None = None
        self.ready_at = 0.0
        self.done = ""
        self.reached = 0
        self.writes: list[float] = []
        self.saves: list[float] = []
        self.resume_seconds: float | None = None
        self.stderr: list[str] = []
        self.progress = threading.Condition()
        self._readers = [
            threading.Thread(target=self._read_stdout, daemon=True),
            threading.Thread(target=self._read_stderr, daemon=True),
        ]
        for reader in self._readers:
            reader.start()

    def _read_stdout(self) -> None:
        assert self.proc.stdout is not None
        for raw in self.proc.stdout:
            word, *rest = raw.decode().split()
            with self.progress:
                if word in ("fresh", "resumed"):
                    self.start_step, self.ready_at = int(rest[0]), float(rest[1])
                    self.times[self.start_step] = self.ready_at
                elif word == "step":
                    self.reached = int(rest[0])
                    self.times[self.reached] = float(rest[1])
                elif word == "done":
                    self.done = rest[0]
                self.progress.notify_all()
        self._eof()

    def _read_stderr(self) -> None:
        assert self.proc.stderr is not None
        for raw in self.proc.stderr:
            line = raw.decode().rstrip()
            with self.progress:
                self.stderr.append(line)
                if "writing checkpoint" in line:
                    self.writes.append(time.monotonic())
                elif line.startswith("INFO resumed "):
                    self.resume_seconds = float(line.rsplit(" in ", 1)[1].split()[0])
                elif " committed (" in line:
                    self.saves.append(float(line.rsplit(", ", 1)[1].split()[0]))
                self.progress.notify_all()
        self._eof()

    def _eof(self) -> None:
        self.proc.wait()
        with self.progress:
            self.progress.notify_all()

    def wait_for(self, condition: object, timeout: float = 60.0) -> bool:
        """Block until ``condition()`` holds or the process exits."""
        with self.progress:
            return self.progress.wait_for(
                lambda: condition() or self.proc.poll() is not None, timeout=timeout
            )

    def max_step_seconds(self) -> float:
        """The longest gap between consecutive steps (a step, or a step and a commit)."""
        times = [self.times[k] for k in sorted(self.times)]
        return max((b - a for a, b in itertools.pairwise(times)), default=0.0)

    def finish(self, timeout: float = 120.0) -> int:
        """Wait for the exit and for the readers to drain the output."""
        code = self.proc.wait(timeout=timeout)
        for reader in self._readers:
            reader.join(timeout=10)
        return code


def expected_digest(setup: Setup) -> str:
    """The uninterrupted chain's final digest, computed in this process."""
    spec = importlib.util.spec_from_file_location("checkpointing_job", JOB)
    job = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = job  # dataclasses look their module up
    spec.loader.exec_module(job)
    chain = job.Chain.start("carbon-aware", setup.ballast_bytes)
    for _ in range(setup.steps):
        chain.advance(setup.step_work)
    return chain.digest.hex()


def campaign(
    setup: Setup,
    prefixes: list[str],
    base_env: dict[str, str],
    check: Callable[[str], tuple[int, str]],
) -> Campaign:
    """Run the job to completion through ``setup.interruptions`` random interruptions, moving
    between ``prefixes`` (checkpoint URIs) on each resume. ``check(prefix_uri)`` asserts the
    prefix's manifest is whole and verifies after every interruption (see verify_prefix).

    Like the runtime, the next segment is told to resume from the newest committed manifest: the
    interrupted segment's own, or the one before when it committed none."""
    rng = random.Random(setup.seed)
    # Points in the first half: each midwrite kill waits for the write after its point, so the
    # chain runs ahead of the points; the second half leaves room for that and for a last write.
    points = sorted(rng.sample(range(1, setup.steps // 2), setup.interruptions))
    kinds = [KINDS[i % len(KINDS)] for i in range(setup.interruptions)]
    rng.shuffle(kinds)
    result = Campaign(expected=expected_digest(setup))
    resume_from, newest = "", -1
    pending: tuple[Interruption, Run] | None = None
    for segment in range(setup.interruptions + 1):
        prefix = prefixes[segment % len(prefixes)]
        env = {
            **base_env,
            "CARBON_AWARE_WORKLOAD_ID": WORKLOAD,
            "CARBON_AWARE_SEGMENT": str(segment),
            "CARBON_AWARE_CHECKPOINT_URI": prefix,
            "CARBON_AWARE_RESUME_FROM": resume_from,
            "CARBON_AWARE_CHECKPOINT_BUDGET_SECONDS": str(setup.budget),
            "CARBON_AWARE_WATCH_IMDS": "0",
        }
        run = Run(env, setup)
        result.runs += 1
        run.wait_for(lambda run=run: run.start_step is not None)
        if run.start_step is None:
            raise AssertionError(f"segment {segment} never started: {run.stderr[-5:]}")
        result.resume_seconds.append(run.ready_at - run.spawned)
        if pending is not None:
            _settle(*pending, run.start_step)
        if segment == setup.interruptions:
            code = run.finish()
            result.record(run)
            if code != 0 or not run.done:
                raise AssertionError(f"last segment exit {code}: {run.stderr[-5:]}")
            result.digest = run.done
            return result
        point, kind = points[segment], kinds[segment]
        interruption = _interrupt(run, point, kind, setup, rng)
        if run.done:
            result.digest = run.done
            result.short = (
                f"segment {segment} (from step {run.start_step}) finished before its {kind} "
                f"interruption at step {point}"
            )
            return result
        result.record(run)
        result.max_step_seconds = max(result.max_step_seconds, run.max_step_seconds())
        result.interruptions.append(interruption)
        sequence, state = check(prefix)
        if sequence > newest:
            newest, resume_from = sequence, prefix + "latest.json"
        interruption.during_write = _during_write(run, interruption)
        if kind == "midwrite":
            interruption.landed = state
        pending = (interruption, run)
    raise AssertionError("unreachable")


def _interrupt(run: Run, point: int, kind: str, setup: Setup, rng: random.Random) -> Interruption:
    run.wait_for(lambda: run.reached >= point)
    if kind == "midwrite":
        seen = len(run.writes)
        run.wait_for(lambda: len(run.writes) > seen)
        time.sleep(rng.uniform(0.0, max(run.saves[-3:] or [0.02])))
    sent = time.monotonic()
    if run.proc.poll() is None:
        os.kill(run.proc.pid, signal.SIGTERM if kind == "sigterm" else signal.SIGKILL)
    code = run.finish()
    interruption = Interruption(kind, code, run.reached, stop_seconds=time.monotonic() - sent)
    interruption.lost_seconds = sent
    return interruption


def _settle(interruption: Interruption, run: Run, resumed: int) -> None:
    """Fill in what the next run resumed from: lost steps, and lost seconds (kill time minus the
    time the killed run had reached the resumed step, or its start if it never got there)."""
    if resumed > interruption.reached:
        raise AssertionError(f"resumed at {resumed}, beyond the {interruption.reached} reached")
    interruption.resumed = resumed
    reached_at = run.times.get(resumed, run.ready_at)
    interruption.lost_seconds = max(0.0, interruption.lost_seconds - reached_at)


def _during_write(run: Run, interruption: Interruption) -> bool:
    """A SIGKILL landed while a checkpoint was being written: one was begun, not committed."""
    committed = sum(" committed (" in line for line in run.stderr)
    return interruption.returncode == -signal.SIGKILL and committed < len(run.writes)


@contextmanager
def s3_prefixes() -> Iterator[tuple[list[str], dict[str, str], object]]:
    """Two buckets (two Regions) on moto's server at 127.0.0.1, the env reaching them and a
    client for them."""
    import boto3
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        endpoint = f"http://127.0.0.1:{server._server.server_port}"
        env = {
            "AWS_ENDPOINT_URL_S3": endpoint,
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_DEFAULT_REGION": "eu-west-1",
            "NO_PROXY": "127.0.0.1",
        }
        buckets = {"eu-west-1": "ckpt-eu-west-1", "eu-north-1": "ckpt-eu-north-1"}
        for region, bucket in buckets.items():
            s3 = boto3.client(
                "s3",
                endpoint_url=endpoint,
                region_name=region,
                aws_access_key_id="testing",
                aws_secret_access_key="testing",
            )
            s3.create_bucket(
                Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": region}
            )
        yield [f"s3://{b}/checkpoints/{WORKLOAD}/" for b in buckets.values()], env, s3
    finally:
        server.stop()


def child_env(extra: dict[str, str]) -> dict[str, str]:
    """The job's environment: this interpreter's PATH and extras, no proxies."""
    keep = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG", "PYTHONPATH")}
    return {**keep, **extra}


# Scheduling noise on a shared machine between the job's last step line and the kill.
SLACK_SECONDS = 0.05


def lost_bound(interruption: Interruption, result: Campaign, setup: Setup) -> float:
    """The most a kill without warning may lose: I + C + S outside a write, I + 2C + S during
    one (I the interval, C the longest commit, S the longest gap between steps), plus slack."""
    commit = max(result.save_seconds, default=0.0)
    writes = 2 if interruption.during_write else 1
    return setup.interval + writes * commit + result.max_step_seconds + SLACK_SECONDS


def summary(result: Campaign, setup: Setup) -> str:
    """The measures, one line each."""
    lines = [f"runs {result.runs}, interruptions {len(result.interruptions)}"]
    if result.short:
        lines.append(f"ended short: {result.short}")
    lines.append(f"final digest matches: {result.digest == result.expected}")
    for kind in KINDS:
        lost = [i.lost_seconds for i in result.interruptions if i.kind == kind]
        if lost:
            lines.append(
                f"{kind:8s} n={len(lost):3d} lost s: median {statistics.median(lost):.3f}"
                f" max {max(lost):.3f} (max {max(lost) / setup.interval:.2f} intervals)"
            )
    kills = [i for i in result.interruptions if i.kind != "sigterm"]
    held = sum(i.lost_seconds <= lost_bound(i, result, setup) for i in kills)
    lines.append(f"kills within I + C + S (I + 2C + S during a write): {held}/{len(kills)}")
    stops = [i.stop_seconds for i in result.interruptions if i.kind == "sigterm"]
    if stops:
        lines.append(
            f"SIGTERM to exit 75: median {statistics.median(stops):.3f} s max {max(stops):.3f} s"
        )
    landed = [i.landed for i in result.interruptions if i.kind == "midwrite"]
    lines.append(
        f"mid-write kills landed: {dict(sorted((x, landed.count(x)) for x in set(landed)))}"
    )
    rs = sorted(result.resume_seconds)
    lines.append(
        f"spawn to running: median {statistics.median(rs):.3f} s"
        f" p95 {rs[int(0.95 * (len(rs) - 1))]:.3f} s max {rs[-1]:.3f} s"
    )
    if result.agent_resume_seconds:
        ar = sorted(result.agent_resume_seconds)
        lines.append(
            f"of which the agent's resume (read + verify): median {statistics.median(ar):.3f} s"
            f" max {ar[-1]:.3f} s"
        )
    if result.save_seconds:
        ss = sorted(result.save_seconds)
        lines.append(
            f"checkpoint commit ({setup.ballast_bytes} B): median {statistics.median(ss):.3f} s"
            f" max {ss[-1]:.3f} s"
        )
    return "\n".join(lines)


def verify_prefix(prefix: str, s3_client: object = None) -> tuple[int, str]:
    """Assert the prefix's manifest parses and its checkpoint matches it (or there is none yet);
    its sequence (-1: none) and whether an uncommitted checkpoint (a killed write's orphan) lies
    beyond it."""
    from carbon_aware.agent.protocol import MANIFEST_NAME, Manifest, checkpoint_name
    from carbon_aware.agent.stores import locate

    store, key = locate(prefix, s3_client)
    blob = store.get(key + MANIFEST_NAME)
    sequence = -1
    if blob is not None:
        manifest = Manifest.from_json(blob.data)
        checkpoint = store.get(manifest.key)
        assert checkpoint is not None, f"{manifest.key} missing"
        manifest.verify(checkpoint.data)
        sequence = manifest.sequence
    orphan = store.get(key + checkpoint_name(sequence + 1)) is not None
    return sequence, "orphan object left" if orphan else "no object"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--interruptions", type=int, default=60)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--store", choices=("s3", "local"), default="s3")
    args = parser.parse_args()
    setup = Setup(interruptions=args.interruptions, seed=args.seed, steps=2500 * args.interruptions)
    if args.store == "s3":
        with s3_prefixes() as (prefixes, env, s3):
            result = campaign(
                setup, prefixes, child_env(env), lambda prefix: verify_prefix(prefix, s3)
            )
    else:
        import tempfile

        with tempfile.TemporaryDirectory() as tmp:
            prefix = f"file://{tmp}/checkpoints/{WORKLOAD}/"
            result = campaign(setup, [prefix], child_env({}), verify_prefix)
    print(summary(result, setup))


if __name__ == "__main__":
    main()
