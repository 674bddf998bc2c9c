"""Generate the "Inputs" and "Outputs" tables of a Terraform module's README from its
variables.tf and outputs.tf (terraform-docs style), between ``<!-- BEGIN_TF_DOCS -->`` and
``<!-- END_TF_DOCS -->``.

    python scripts/tfdocs.py [--check] [MODULE_DIR ...]

Without directories: the root module and every module under modules/. ``--check`` writes nothing and
exits 1 when a README is stale.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import hcl2

ROOT = Path(__file__).resolve().parent.parent
BEGIN = "<!-- BEGIN_TF_DOCS -->"
END = "<!-- END_TF_DOCS -->"
_OPTIONS = hcl2.SerializationOptions(strip_string_quotes=True, explicit_blocks=False)


def _blocks(path: Path, kind: str) -> list[tuple[str, dict[str, Any]]]:
    if not path.exists():
        return []
    with path.open() as f:
        parsed = hcl2.load(f, serialization_options=_OPTIONS)
    return [item for block in parsed.get(kind, []) for item in block.items()]


def _unwrap(value: str) -> str | None:
    """The expression inside ``${...}``, or None for a literal."""
    return value[2:-1] if value.startswith("${") and value.endswith("}") else None


def _default(value: Any) -> str:
    """HCL-ish text of a default: expressions unwrapped, literals as JSON."""
    return (isinstance(value, str) and _unwrap(value)) or json.dumps(value)


def _cell(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")


def render(module: Path) -> str:
    """The Inputs and Outputs sections of ``module``'s README."""
    lines = ["### Inputs", ""]
    variables = sorted(_blocks(module / "variables.tf", "variable"))
    if variables:
        lines += ["| Name | Description | Type | Default | Required |", "|---|---|---|---|:---:|"]
        for name, spec in variables:
            required = "default" not in spec
            default = "n/a" if required else f"`{_cell(_default(spec['default']))}`"
            kind = spec.get("type", "any")
            lines.append(
                f'| <a name="input_{name}"></a> [{name}](#input_{name}) '
                f"| {_cell(spec.get('description', ''))} | `{_cell(_unwrap(kind) or kind)}` "
                f"| {default} | {'yes' if required else 'no'} |"
            )
    else:
        lines.append("No inputs.")
    lines += ["", "### Outputs", ""]
    outputs = sorted(_blocks(module / "outputs.tf", "output"))
    if outputs:
        lines += ["| Name | Description |", "|---|---|"]
        lines += [
            f'| <a name="output_{name}"></a> [{name}](#output_{name}) '
            f"| {_cell(spec.get('description', ''))} |"
            for name, spec in outputs
        ]
    else:
        lines.append("No outputs.")
    return "\n".join(lines)


def inject(readme: str, docs: str) -> str:
    """``readme`` with the text between the markers replaced by ``docs``."""
    start, end = readme.find(BEGIN), readme.find(END)
    if start < 0 or end < start:
        raise ValueError(f"README lacks {BEGIN} ... {END}")
    return f"{readme[: start + len(BEGIN)]}\n{docs}\n{readme[end:]}"


def modules() -> list[Path]:
    """The root module and its sub-modules."""
    return [ROOT, *sorted(p.parent for p in (ROOT / "modules").glob("*/variables.tf"))]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="fail when a README is stale")
    parser.add_argument("dirs", nargs="*", type=Path)
    args = parser.parse_args(argv)
    stale = []
    for module in args.dirs or modules():
        readme = module / "README.md"
        current = readme.read_text()
        updated = inject(current, render(module))
        if updated != current:
            stale.append(readme)
            if not args.check:
                readme.write_text(updated)
    for path in stale:
        print(f"{'stale' if args.check else 'updated'}: {path}")
    return 1 if args.check and stale else 0


if __name__ == "__main__":
    sys.exit(main())
