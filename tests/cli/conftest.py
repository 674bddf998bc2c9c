"""One small local demo run shared by the tests that read it (a run takes over a minute)."""

from __future__ import annotations

import contextlib
import io
import os
from dataclasses import dataclass
from pathlib import Path

import pytest

from carbon_aware.cli.localstack import run_local_demo


@dataclass(frozen=True)
class LocalDemo:
    """Where the demo wrote, what it returned and printed, and the environment around it."""

    out: Path
    report: Path
    printed: str
    environ_before: dict[str, str]
    environ_after: dict[str, str]


@pytest.fixture(scope="session")
def local_demo(tmp_path_factory: pytest.TempPathFactory) -> LocalDemo:
    """`make demo`'s local stack, small: 1 simulated day, 6 workloads."""
    out = tmp_path_factory.mktemp("demo")
    before = dict(os.environ)
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        report = run_local_demo(out, days=1, workloads=6)
    return LocalDemo(out, report, printed.getvalue(), before, dict(os.environ))
