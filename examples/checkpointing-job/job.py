"""A long, verifiable batch job that checkpoints and resumes through the carbon_aware agent.

It extends a SHA-256 hash chain: step i replaces the digest d by sha256(d || i), ``--step-work``
times over. The final digest depends on every step in order, so a resumed run that skipped,
repeated or corrupted any step ends with a different digest than an uninterrupted one.

    python job.py --steps 100000 --interval 60      # CARBON_AWARE_* variables set by the runtime

Exit status: 0 done (the digest printed as ``done <hex>``), 75 checkpointed after a stop request
(resume me), anything else a failure.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import sys
import time
from dataclasses import dataclass

from carbon_aware.agent import EXIT_DONE, Checkpointer


@dataclass
class Chain:
    """The job's whole state: steps done and the digest so far (plus ballast, standing in for
    the larger state a real job carries, so checkpoints take measurable time to write)."""

    step: int
    digest: bytes
    ballast: int = 0

    @classmethod
    def start(cls, seed: str, ballast: int) -> Chain:
        """Step 0."""
        return cls(0, hashlib.sha256(seed.encode()).digest(), ballast)

    def advance(self, work: int) -> None:
        """One step: ``work`` rounds of the chain."""
        digest = self.digest
        tag = self.step.to_bytes(8, "big")
        for _ in range(work):
            digest = hashlib.sha256(digest + tag).digest()
        self.digest = digest
        self.step += 1

    def encode(self) -> bytes:
        """Checkpoint bytes: a JSON header line, then the ballast."""
        head = {"step": self.step, "digest": self.digest.hex(), "ballast": self.ballast}
        return json.dumps(head).encode() + b"\n" + bytes(self.ballast)

    @classmethod
    def decode(cls, data: bytes) -> Chain:
        """The state a checkpoint holds."""
        head = json.loads(data.split(b"\n", 1)[0])
        return cls(head["step"], bytes.fromhex(head["digest"]), head["ballast"])


def main(argv: list[str] | None = None) -> int:
    """Run (or resume) the chain to ``--steps``; print ``done <digest>``."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--steps", type=int, default=100_000, help="steps in the chain")
    parser.add_argument("--step-work", type=int, default=1000, help="hash rounds per step")
    parser.add_argument("--interval", type=float, default=60.0, help="seconds between checkpoints")
    parser.add_argument("--seed", default="carbon-aware", help="the chain's start")
    parser.add_argument("--ballast-bytes", type=int, default=0, help="extra checkpoint size")
    parser.add_argument(
        "--trace", action="store_true", help="print every step with its time, log every write"
    )
    args = parser.parse_args(argv)
    logging.basicConfig(stream=sys.stderr, level=logging.INFO, format="%(levelname)s %(message)s")
    if args.trace:
        logging.getLogger("carbon_aware.agent").setLevel(logging.DEBUG)

    with Checkpointer.from_env(interval_seconds=args.interval) as ckpt:
        saved = ckpt.resume()
        chain = (
            Chain.decode(saved) if saved is not None else Chain.start(args.seed, args.ballast_bytes)
        )
        print(f"{'resumed' if saved else 'fresh'} {chain.step} {time.monotonic()}", flush=True)
        while chain.step < args.steps:
            chain.advance(args.step_work)
            if args.trace:
                print(f"step {chain.step} {time.monotonic()}", flush=True)
            ckpt.checkpoint_if_due(chain.encode, progress=chain.step / args.steps)
    saves, longest = ckpt.stats.saves, ckpt.stats.max_save_seconds
    logging.info("%d checkpoints this run, longest commit %.3f s", saves, longest)
    print(f"done {chain.digest.hex()}", flush=True)
    return EXIT_DONE


if __name__ == "__main__":
    sys.exit(main())
