"""The agent stands alone: a workload image carries only ``carbon_aware/__init__.py`` and
``carbon_aware/agent/``, and no Lambda bundle carries the agent."""

from __future__ import annotations

import json
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "lambda_src" / "carbon_aware"


def loaded_after(code: str, tmp_path: Path) -> list[str]:
    """Modules loaded by ``code`` in a fresh interpreter that sees only the agent's files and the
    standard library (no site-packages: a third-party import would fail)."""
    image = tmp_path / "image" / "carbon_aware"
    (image / "agent").mkdir(parents=True)
    (image / "__init__.py").write_bytes((PACKAGE / "__init__.py").read_bytes())
    for source in (PACKAGE / "agent").glob("*.py"):
        (image / "agent" / source.name).write_bytes(source.read_bytes())
    probe = f"import json, sys\n{code}\nprint(json.dumps(sorted(sys.modules)))"
    done = subprocess.run(
        [sys.executable, "-E", "-s", "-S", "-c", probe],
        cwd=image.parent,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return json.loads(done.stdout)


def test_the_agent_imports_only_itself_and_the_standard_library(tmp_path):
    environ = {"CARBON_AWARE_CHECKPOINT_URI": f"file://{tmp_path}/c/"}
    code = (
        "from carbon_aware.agent import Checkpointer\n"
        f"with Checkpointer.from_env(1, {environ!r}) as c:\n"
        "    c.resume(); c.save(b'x')"
    )
    loaded = loaded_after(code, tmp_path)
    ours = [m for m in loaded if m.startswith("carbon_aware")]
    assert all(m == "carbon_aware" or m.startswith("carbon_aware.agent") for m in ours), ours
    third_party = {m.split(".")[0] for m in loaded} - {*sys.stdlib_module_names, "__main__"}
    assert third_party == {"carbon_aware"}, third_party  # no boto3 for a local store


def test_no_lambda_bundle_carries_the_agent():
    bundles = sorted((ROOT / "dist").glob("*/*.zip"))
    if not bundles:
        pytest.skip("no bundles in dist/: run `make build`")
    for bundle in bundles:
        names = zipfile.ZipFile(bundle).namelist()
        assert not [n for n in names if n.startswith("carbon_aware/agent/")], bundle.name
