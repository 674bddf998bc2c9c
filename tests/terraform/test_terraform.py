"""Terraform checks of the module and its examples, offline: fmt, init + validate, and
`terraform test` with a mocked AWS provider (the *.tftest.hcl files hold the assertions)."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
TERRAFORM = shutil.which("terraform")
BUNDLE = ROOT / "dist" / "arm64" / "api.zip"
# Configuration directory -> where its *.tftest.hcl files are (the root's in Terraform's default
# `tests/`, so plain `terraform test` runs them).
CONFIGS = {
    ".": "tests",
    "examples/time-shifting": ".",
    "examples/multi-region": ".",
    "examples/wait-for-green": ".",
    "examples/spot-fleet": ".",
    "examples/checkpointing-job": ".",
    "modules/fleet": "tests",
}

pytestmark = pytest.mark.skipif(
    TERRAFORM is None,
    reason="no terraform on PATH: source ../shared/tools/terraform-offline/env.sh (make test does)",
)


def terraform(config: str, *args: str) -> str:
    """Run terraform in ``config`` with its own data dir under build/; fail with its output."""
    data_dir = ROOT / "build" / "terraform" / (config.replace("/", "-").strip(".") or "root")
    env = {**os.environ, "TF_DATA_DIR": str(data_dir), "TF_IN_AUTOMATION": "1"}
    done = subprocess.run(
        [TERRAFORM, *args, "-no-color"],
        cwd=ROOT / config,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, (
        f"terraform {' '.join(args)} in {config}:\n{done.stdout}{done.stderr}"
    )
    return done.stdout


def test_fmt():
    terraform(".", "fmt", "-check", "-recursive", "-diff")


@pytest.mark.parametrize("config", sorted(CONFIGS))
def test_validate_and_test(config):
    if not BUNDLE.exists():
        pytest.skip(f"{BUNDLE.relative_to(ROOT)} is not built: run `make build`")
    tests = f"-test-directory={CONFIGS[config]}"
    terraform(config, "init", "-backend=false", "-input=false", "-upgrade", tests)
    terraform(config, "validate")
    out = terraform(config, "test", tests)
    assert " 0 failed" in out and " passed" in out, out
