"""Each function's bundle is reproducible, lean and complete; the release archive carries them."""

from __future__ import annotations

import ast
import hashlib
import importlib.util
import json
import os
import re
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
_spec = importlib.util.spec_from_file_location("build_script", ROOT / "scripts" / "build.py")
build = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(build)

CACHE = ROOT / "build" / "wheels"
DIST = ROOT / "dist" / "arm64"
FUNCTIONS = (
    "api",
    "completion",
    "executor",
    "exporter",
    "fleet_optimizer",
    "intake",
    "interruptions",
    "migrations",
    "monitor",
    "scheduler",
)
NUMPY_FREE = ("api", "completion", "executor", "exporter", "intake")


@pytest.fixture(scope="module")
def bundles(tmp_path_factory) -> dict[str, Path]:
    """The arm64 bundles rebuilt from the wheel cache only (no network in tests), to compare
    with those of `make build` in dist/."""
    if not any(CACHE.glob("cp313-arm64/numpy-*.whl")) or not (DIST / "api.zip").is_file():
        pytest.skip("no wheel cache or no dist/arm64 bundles: run `make build` first")
    try:
        interpreter = build.find_interpreter("3.13")
    except SystemExit as exc:
        pytest.skip(str(exc))
    dist = tmp_path_factory.mktemp("dist")
    return build.build("arm64", "3.13", dist, CACHE, offline=True, interpreter=interpreter)


def names(bundle: Path) -> list[str]:
    return zipfile.ZipFile(bundle).namelist()


def test_one_bundle_per_function_of_the_handlers_map(bundles):
    assert sorted(bundles) == sorted(build.handlers()) == sorted(FUNCTIONS)
    assert all(b == b.parent / f"{f}.zip" for f, b in bundles.items())


def test_building_twice_gives_the_same_sha256(bundles):
    for function, bundle in bundles.items():
        digest = hashlib.sha256(bundle.read_bytes()).hexdigest()
        assert digest == hashlib.sha256((DIST / bundle.name).read_bytes()).hexdigest(), function
        assert bundle.with_name(bundle.name + ".sha256").read_text().split()[0] == digest


def test_entries_are_sorted_with_fixed_time_and_mode(bundles):
    for bundle in bundles.values():
        infos = zipfile.ZipFile(bundle).infolist()
        listed = [i.filename for i in infos]
        assert listed == sorted(listed)
        assert {i.date_time for i in infos} == {build.ZIP_DATE}
        assert {i.external_attr >> 16 for i in infos} == {build.FILE_MODE}


def test_numpy_only_where_the_handler_imports_it(bundles):
    for function, bundle in bundles.items():
        top = {n.split("/")[0] for n in names(bundle)}
        assert ("numpy" in top) is (function not in NUMPY_FREE), function
    so = [n for n in names(bundles["scheduler"]) if n.startswith("numpy/_core/_multiarray_umath")]
    assert so and all("aarch64" in n for n in so), so


def test_bundles_hold_only_imported_code_and_no_dependency_tests_or_stubs(bundles):
    api = names(bundles["api"])
    assert "carbon_aware/runtime/handlers/api.py" in api
    assert "carbon_aware/runtime/planner.py" not in api, "the API never plans"
    assert "carbon_aware/signals/refresh.py" not in api, "the API never refreshes signals"
    assert "carbon_aware/runtime/monitor.py" in names(bundles["monitor"])
    for bundle in bundles.values():
        listed = names(bundle)
        top = {n.split("/")[0] for n in listed}
        assert "carbon_aware/data/profiles.json" in listed
        assert not [n for n in listed if n.startswith("carbon_aware/cli/")], "the CLI stays out"
        assert not top & {"boto3", "botocore", "s3transfer", "bin"}
        assert "aws_xray_sdk" in top, "tracing needs the X-Ray SDK in every bundle"
        assert not [n for n in listed if n.endswith(".pyi") or "/tests/" in n]
        assert not [n for n in listed if n.endswith(".dist-info/RECORD")]


def wiring_imports(function: str) -> set[str]:
    """Our modules that the wiring factories a handler calls (and the factories they call) import
    lazily, inside the factory: the bundle trace does not see them."""
    wiring = ast.parse((ROOT / "lambda_src/carbon_aware/runtime/wiring.py").read_text())
    factories = {n.name: n for n in wiring.body if isinstance(n, ast.FunctionDef)}
    handler = ROOT / "lambda_src" / Path(*build.handlers()[function].split("."))
    todo = set(re.findall(r"wiring\.(\w+)\(", handler.with_suffix(".py").read_text()))
    seen: set[str] = set()
    modules: set[str] = set()
    while todo:
        name = todo.pop()
        if name in seen or name not in factories:
            continue
        seen.add(name)
        for node in ast.walk(factories[name]):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("carbon_aware"):
                modules.add(str(node.module))
            elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
                todo.add(node.func.id)
    return modules


@pytest.mark.parametrize("function", FUNCTIONS)
def test_bundles_carry_what_their_wiring_imports_lazily(bundles, function):
    shipped = set(names(bundles[function]))
    missing = [
        m
        for m in sorted(wiring_imports(function))
        if f"{m.replace('.', '/')}.py" not in shipped
        and f"{m.replace('.', '/')}/__init__.py" not in shipped
    ]
    assert not missing, f"{function}: its wiring imports {missing}, which its bundle lacks"


def test_every_module_has_a_valid_unchecked_hash_pyc(bundles):
    magic = _magic_of("3.13")
    for bundle in bundles.values():
        zf = zipfile.ZipFile(bundle)
        listed = set(zf.namelist())
        sources = [n for n in listed if n.endswith(".py")]
        for source in sources:
            folder, _, module = source.rpartition("/")
            pyc = f"{folder}/__pycache__/{module[:-3]}.cpython-313.pyc".lstrip("/")
            assert pyc in listed, pyc
        for source in sources[:: max(1, len(sources) // 50)]:
            folder, _, module = source.rpartition("/")
            header = zf.read(f"{folder}/__pycache__/{module[:-3]}.cpython-313.pyc".lstrip("/"))
            assert header[:4] == magic
            flags = int.from_bytes(header[4:8], "little")
            assert flags == 0b01, "hash-based, unchecked"
            assert header[8:16] == _source_hash_of("3.13", zf.read(source))


def _source_hash_of(version: str, source: bytes) -> bytes:
    """The source hash a pyc of ``version`` records (keyed by that version's magic number)."""
    code = "import importlib.util as u, sys; print(u.source_hash(sys.stdin.buffer.read()).hex())"
    interpreter = build.find_interpreter(version)
    out = subprocess.run([interpreter, "-c", code], input=source, capture_output=True, check=True)
    return bytes.fromhex(out.stdout.decode())


def _magic_of(version: str) -> bytes:
    interpreter = build.find_interpreter(version)
    code = "import importlib.util, sys; sys.stdout.write(importlib.util.MAGIC_NUMBER.hex())"
    out = subprocess.run([interpreter, "-c", code], capture_output=True, text=True, check=True)
    return bytes.fromhex(out.stdout)


@pytest.mark.parametrize("function", NUMPY_FREE)
def test_numpy_free_handler_imports_from_its_bundle_alone(bundles, tmp_path, function):
    """The handler imports in a fresh 3.13 interpreter with only its zip and boto3 on the path.
    (Functions with numpy are compiled for arm64 and cannot be imported on this machine.)"""
    boto = tmp_path / "boto"
    runtime = CACHE / "runtime"
    build.pip_install(boto, build.runtime_provided(), build.host_arch(), "3.13", runtime, True)
    tree = tmp_path / function
    zipfile.ZipFile(bundles[function]).extractall(tree)
    _drop_foreign_extensions(tree)
    code = (
        "import json, sys; __import__(sys.argv[1]);"
        "print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] == 'numpy')))"
    )
    env = {"PYTHONPATH": f"{tree}{os.pathsep}{boto}", "AWS_REGION": "us-east-1"}
    env["POWERTOOLS_TRACE_DISABLED"] = "true"
    module = build.handlers()[function]
    interpreter = build.find_interpreter("3.13")
    done = subprocess.run(
        [interpreter, "-S", "-c", code, module], capture_output=True, text=True, env=env
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == []


def _drop_foreign_extensions(tree: Path) -> None:
    """wrapt and charset_normalizer fall back to pure Python when their arm64 builds are gone."""
    for so in tree.rglob("*aarch64*.so"):
        so.unlink()


def test_source_handlers_import_no_numpy_where_they_need_none():
    code = (
        "import sys\nfor m in sys.argv[1:]:\n    __import__(m)\n    "
        "print(m, 'numpy' in sys.modules)"
    )
    # The numpy-free handlers are imported first, all in one process: numpy appears with the
    # first numpy-using handler, not before.
    order = [*NUMPY_FREE, *(f for f in FUNCTIONS if f not in NUMPY_FREE)]
    modules = [build.handlers()[f] for f in order]
    out = subprocess.run(
        [sys.executable, "-c", code, *modules], capture_output=True, text=True, check=True
    ).stdout.split("\n")
    seen = dict(line.split() for line in out if line)
    assert [seen[m] for m in modules[: len(NUMPY_FREE) + 1]] == ["False"] * len(NUMPY_FREE) + [
        "True"
    ]


def test_release_archive_is_reproducible_and_carries_every_bundle(tmp_path):
    bundles = []
    for function in FUNCTIONS:
        bundle = tmp_path / "arm64" / f"{function}.zip"
        bundle.parent.mkdir(exist_ok=True)
        bundle.write_bytes(b"not really a zip")
        bundle.with_name(bundle.name + ".sha256").write_text("x\n")
        bundles.append(bundle)
    archives = []
    for i in range(2):
        (tmp_path / f"out{i}").mkdir()
        archives.append(build.package(bundles, tmp_path / f"out{i}"))
    assert archives[0].read_bytes() == archives[1].read_bytes()
    with tarfile.open(archives[0]) as tar:
        listed = tar.getnames()
    for function in FUNCTIONS:
        assert f"dist/arm64/{function}.zip" in listed
        assert f"dist/arm64/{function}.zip.sha256" in listed
    assert {"main.tf", "variables.tf", "outputs.tf", "versions.tf", "README.md"} <= set(listed)
    assert "modules/function/main.tf" in listed and "examples/multi-region/main.tf" in listed
    assert not [n for n in listed if ".terraform" in n or n.startswith("tests/")]
