"""The README Inputs/Outputs tables match variables.tf/outputs.tf (`make docs` regenerates them)."""

from __future__ import annotations

import importlib.util
import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
_spec = importlib.util.spec_from_file_location("tfdocs", ROOT / "scripts" / "tfdocs.py")
tfdocs = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(tfdocs)


@pytest.mark.parametrize("module", tfdocs.modules(), ids=lambda p: str(p.relative_to(ROOT)) or ".")
def test_readme_tables_are_current(module):
    readme = (module / "README.md").read_text()
    assert tfdocs.inject(readme, tfdocs.render(module)) == readme, "stale: run `make docs`"


def test_check_fails_on_a_stale_table(tmp_path):
    module = tmp_path / "dashboard"
    shutil.copytree(ROOT / "modules" / "dashboard", module)
    assert tfdocs.main(["--check", str(module)]) == 0
    variables = module / "variables.tf"
    variables.write_text(variables.read_text().replace("Name of the CloudWatch", "Title of the"))
    assert tfdocs.main(["--check", str(module)]) == 1
    assert tfdocs.main([str(module)]) == 0
    assert "Title of the dashboard" in (module / "README.md").read_text()
    assert tfdocs.main(["--check", str(module)]) == 0


def test_render_lists_required_inputs_and_defaults():
    docs = tfdocs.render(ROOT)
    assert '| <a name="input_regions"></a> [regions](#input_regions) |' in docs
    row = next(line for line in docs.splitlines() if "[regions]" in line)
    assert row.endswith("| `list(string)` | n/a | yes |")
    row = next(line for line in docs.splitlines() if "[strategy]" in line)
    assert row.endswith('| `string` | `"combined"` | no |')
