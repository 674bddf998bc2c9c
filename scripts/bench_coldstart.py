"""``make bench`` (cold starts): import time of each function's handler from its own bundle.

For each bundle ``dist/<arch>/<function>.zip`` (``make build``): unzip it, then in 5 fresh
interpreters of the Lambda's Python version (the one the bundle's bytecode was compiled for) time
importing the handler module with only the bundle and boto3 on the path; the median, as a ratio to
the median of 5 fresh ``import boto3`` in the same run (what every function pays anyway), in CPU
time (wall time beside it). Measured with tracing off (the module's default) and on. Also each
bundle's zipped size. Writes
``build/bench_coldstart.json`` and prints a table. Targets: api, executor and completion <= 1.5x,
the numpy-using scheduler and monitor <= 2.0x.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
_spec = importlib.util.spec_from_file_location("build_script", ROOT / "scripts" / "build.py")
build = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(build)

RUNS = 5
TARGETS = {"api": 1.5, "executor": 1.5, "completion": 1.5, "scheduler": 2.0, "monitor": 2.0}
# A Lambda-like environment for the import (Powertools reads some of it at import time).
LAMBDA_ENV = {
    "AWS_REGION": "us-east-1",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_LAMBDA_FUNCTION_NAME": "coldstart-bench",
    "POWERTOOLS_SERVICE_NAME": "carbon-aware",
}
TIMED_IMPORT = """
import json, sys, time
wall, cpu = time.perf_counter(), time.process_time()
__import__(sys.argv[1])
print(json.dumps([time.perf_counter() - wall, time.process_time() - cpu]))
"""


def import_once(interpreter: Path, path: list[Path], module: str, tracing: bool) -> list[float]:
    """Wall and CPU seconds to import ``module`` in a fresh interpreter with only ``path``."""
    env = {
        "PATH": os.environ.get("PATH", ""),
        "PYTHONPATH": os.pathsep.join(map(str, path)),
        "PYTHONDONTWRITEBYTECODE": "1",
        **LAMBDA_ENV,
    }
    if not tracing:
        env["POWERTOOLS_TRACE_DISABLED"] = "true"
    done = subprocess.run(
        [str(interpreter), "-S", "-c", TIMED_IMPORT, module],
        capture_output=True,
        text=True,
        env=env,
        check=True,
    )
    return json.loads(done.stdout)


def measure(dist: Path, arch: str, python_version: str, cache: Path) -> dict:
    """Import ratios and zipped sizes of every function's bundle.

    The runs are interleaved (boto3, then every handler, :data:`RUNS` times over) so that load
    from other processes on the machine weighs on the baseline and the handlers alike; ratios are
    of CPU time, which such load disturbs least (wall-clock ratios are reported beside them)."""
    interpreter = build.find_interpreter(python_version)
    handlers = build.handlers()
    zips = {f: dist / arch / f"{f}.zip" for f in handlers}
    if missing := [str(z) for z in zips.values() if not z.is_file()]:
        raise SystemExit(f"no bundle {', '.join(missing)}: run `make build` first")
    results: dict = {"interpreter": str(interpreter), "python": python_version, "runs": RUNS}
    with tempfile.TemporaryDirectory(prefix="carbon-aware-coldstart-") as tmp:
        boto = Path(tmp) / "boto"
        tag = f"cp{python_version.replace('.', '')}"
        build.pip_install(
            boto, build.runtime_provided(), build.host_arch(), python_version, cache / "runtime"
        )
        # The runtime's boto3 has its bytecode, as the bundles have theirs.
        build.compile_bytecode(interpreter, boto)
        host = Path(tmp) / "host"
        if arch != build.host_arch():
            build.install_dependencies(
                host, build.host_arch(), python_version, cache / f"{tag}-{build.host_arch()}"
            )
        for function in handlers:
            tree = Path(tmp) / function
            zipfile.ZipFile(zips[function]).extractall(tree)
            if arch != build.host_arch():
                # The target's extension modules do not load here: the same pinned
                # distributions for this machine stand in for them (pure Python is shared).
                _host_extensions(interpreter, tree, host, build.MACHINES[arch])
        samples: dict[tuple[str, bool], list[list[float]]] = {}
        for _ in range(RUNS):
            samples.setdefault(("boto3", False), []).append(
                import_once(interpreter, [boto], "boto3", False)
            )
            for function, module in handlers.items():
                for tracing in (False, True):
                    path = [Path(tmp) / function, boto]
                    once = import_once(interpreter, path, module, tracing)
                    samples.setdefault((function, tracing), []).append(once)
    medians = {
        key: [statistics.median(s[0] for s in runs), statistics.median(s[1] for s in runs)]
        for key, runs in samples.items()
    }
    boto3_wall, boto3_cpu = medians[("boto3", False)]
    results["boto3_import_ms"] = {
        "wall": round(boto3_wall * 1e3, 1),
        "cpu": round(boto3_cpu * 1e3, 1),
    }
    functions = {}
    for function in handlers:
        row: dict = {"zipped_mb": round(zips[function].stat().st_size / 1e6, 2)}
        for tracing in (False, True):
            wall, cpu = medians[(function, tracing)]
            key = "tracing_on" if tracing else "tracing_off"
            row[f"{key}_ms"] = {"wall": round(wall * 1e3, 1), "cpu": round(cpu * 1e3, 1)}
            row[f"{key}_ratio"] = round(cpu / boto3_cpu, 2)
            row[f"{key}_wall_ratio"] = round(wall / boto3_wall, 2)
        row["target_ratio"] = TARGETS.get(function)
        row["meets_target"] = row["target_ratio"] is None or (
            row["tracing_off_ratio"] <= row["target_ratio"]
        )
        functions[function] = row
    results["functions"] = functions
    return results


def _host_extensions(interpreter: Path, tree: Path, host: Path, machine: str) -> None:
    """Swap each distribution with compiled modules for ``machine`` by this machine's build of
    the same pin (from ``host``), then compile its bytecode as the build does."""
    tops = {p.relative_to(tree).parts[0].split(".")[0] for p in tree.rglob(f"*{machine}*.so")}
    if not tops:
        return
    theirs = build.distributions(host)
    for top in sorted(tops):
        for entry in {rel.parts[0] for rel in theirs[top]}:
            shutil.rmtree(tree / entry, ignore_errors=True)
            (tree / entry).unlink(missing_ok=True)
        for rel in theirs[top]:
            (tree / rel).parent.mkdir(parents=True, exist_ok=True)
            (tree / rel).write_bytes((host / rel).read_bytes())
    build.compile_bytecode(interpreter, tree)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--arch", choices=sorted(build.MACHINES), default="arm64")
    parser.add_argument("--python-version", default="3.13")
    parser.add_argument("--dist", type=Path, default=ROOT / "dist")
    parser.add_argument("--cache", type=Path, default=ROOT / "build" / "wheels")
    parser.add_argument("--out", type=Path, default=ROOT / "build" / "bench_coldstart.json")
    args = parser.parse_args(argv)
    results = measure(args.dist, args.arch, args.python_version, args.cache)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2) + "\n")
    boto3_ms = results["boto3_import_ms"]
    print(f"import boto3: {boto3_ms['cpu']} ms CPU, {boto3_ms['wall']} ms wall")
    print(f"interpreter: {results['interpreter']}; ratios of CPU time (wall in brackets)")
    print(f"{'function':<12}{'zipped MB':>10}{'ratio':>14}{'traced':>14}{'target':>8}")
    for function, row in results["functions"].items():
        off = f"{row['tracing_off_ratio']} ({row['tracing_off_wall_ratio']})"
        on = f"{row['tracing_on_ratio']} ({row['tracing_on_wall_ratio']})"
        print(
            f"{function:<12}{row['zipped_mb']:>10}{off:>14}{on:>14}"
            f"{row['target_ratio'] or '-':>8}"
            f"{'' if row['meets_target'] else '  MISSED'}"
        )
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
