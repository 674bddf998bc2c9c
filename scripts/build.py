"""Build the Lambda bundles: one reproducible zip per function, holding what its handler imports.

    python scripts/build.py [--arch arm64|x86_64] [--python-version 3.13] [--interpreter PATH]
                            [--offline] [--package]

The functions and their handler modules come from ``carbon_aware.runtime.handlers.HANDLERS``.
Dependencies come from manylinux wheels for the target platform (``pip install --platform ...
--only-binary=:all: --target``), pinned by ``constraints.txt``, plus aws-xray-sdk so that tracing,
when the module turns it on, traces the handlers' own calls. Downloads are cached under
``build/wheels/<tag>`` so a rebuild needs no network. boto3 and its dependencies are left out: the
Lambda runtime provides them.

Each bundle ships what its handler module really imports, found by importing it in a fresh
interpreter of the Lambda's Python version and recording ``sys.modules``: our modules one by one,
third-party distributions whole (less their tests, type stubs, console scripts and RECORD files).
The import runs against a tree for the build machine's architecture (the target's extension
modules may not load here); the distributions it names are then taken from the target's tree.
Every ``.py`` gets its bytecode in ``__pycache__``, compiled by that interpreter (the pyc magic
number must match the Lambda runtime's) as unchecked-hash pycs: Lambda's read-only code directory
never needs a recompile, and the pycs carry no timestamp. Zips are byte-for-byte reproducible:
sorted entries, a fixed timestamp, fixed permissions, no build machine paths.

Writes ``<dist>/<arch>/<function>.zip`` and ``.zip.sha256`` beside each. ``--package`` also writes
the module's release archive (``<dist>/terraform-aws-carbon-aware-compute-<version>.tar.gz``: the
Terraform files, docs, examples and the prebuilt bundles), reproducible too.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import io
import json
import os
import platform
import shutil
import subprocess
import sys
import tarfile
import tempfile
import tomllib
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "lambda_src" / "carbon_aware"
MACHINES = {"arm64": "aarch64", "x86_64": "x86_64"}
# Lambda's python3.13 runtime is Amazon Linux 2023 (glibc 2.34); pip does not expand a manylinux
# tag to older glibc versions by itself, so every accepted tag is listed.
GLIBC_MINORS = range(34, 16, -1)
# Provided by the Lambda runtime; a bundled copy would only shadow it.
RUNTIME_PROVIDED = ("boto3", "botocore", "s3transfer")
# Bundled beyond the package's pins: the X-Ray SDK behind Powertools' Tracer (pinned in
# constraints.txt), so active tracing records the handlers' own calls.
BUNDLED_EXTRAS = ("aws-xray-sdk",)
# Parts of our package the handlers never import (the CLI pulls in matplotlib and tqdm; the
# checkpoint agent runs inside workloads, never in a function).
PACKAGE_EXCLUDES = ("cli", "agent")
# Stripped from dependencies: their test suites and type stubs.
STRIPPED_DIRS = ("tests",)
STRIPPED_SUFFIXES = (".pyi",)
ZIP_DATE = (1980, 1, 1, 0, 0, 0)
FILE_MODE = 0o100644
# What a release archive holds besides the bundles: the module as users consume it.
RELEASE_FILES = ("*.tf", "README.md", "LICENSE", "modules/**/*.tf", "modules/**/README.md")
RELEASE_FILES += ("examples/**/*.tf", "examples/**/*.tftest.hcl", "examples/**/README.md")

# Run by the Lambda's interpreter: import a handler module as Lambda would (tracing on) and
# print the top-level names and our modules it loaded.
TRACE = """
import json, os, sys
os.environ.setdefault("AWS_REGION", "us-east-1")
os.environ.setdefault("AWS_LAMBDA_FUNCTION_NAME", "import-trace")
before = set(sys.modules)
__import__(sys.argv[1])
loaded = sorted(set(sys.modules) - before)
print(json.dumps(loaded))
"""

# Run by the Lambda's interpreter: compile every .py under the tree into unchecked-hash pycs.
COMPILE = """
import importlib.util, pathlib, py_compile, sys
tree = pathlib.Path(sys.argv[1])
for src in sorted(tree.rglob("*.py")):
    py_compile.compile(
        str(src),
        cfile=importlib.util.cache_from_source(str(src)),
        dfile=src.relative_to(tree).as_posix(),
        doraise=True,
        invalidation_mode=py_compile.PycInvalidationMode.UNCHECKED_HASH,
    )
"""


def handlers() -> dict[str, str]:
    """Function name -> handler module, from the package's one definition."""
    sys.path.insert(0, str(PACKAGE.parent))
    try:
        from carbon_aware.runtime.handlers import HANDLERS
    finally:
        sys.path.remove(str(PACKAGE.parent))
    return dict(HANDLERS)


def requirements() -> list[str]:
    """The package's own dependencies plus its `runtime` extra, as pinned in pyproject.toml, less
    what the Lambda runtime provides, plus :data:`BUNDLED_EXTRAS`."""
    project = _project()
    pins = [*project["dependencies"], *project["optional-dependencies"]["runtime"]]
    kept = [p for p in pins if p.split("==")[0].lower() not in RUNTIME_PROVIDED]
    return [*kept, *BUNDLED_EXTRAS]


def runtime_provided() -> list[str]:
    """The pins of what the Lambda runtime provides (installed only to trace imports)."""
    pins = _project()["optional-dependencies"]["runtime"]
    return [p for p in pins if p.split("==")[0].lower() in RUNTIME_PROVIDED]


def _project() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]


def pip_install(
    target: Path,
    pins: list[str],
    arch: str,
    python_version: str,
    cache: Path,
    offline: bool = False,
) -> None:
    """Install ``pins`` for ``arch`` into ``target``, downloading only what the cache lacks
    (nothing at all when ``offline``)."""
    cache.mkdir(parents=True, exist_ok=True)
    tags = [f"manylinux_2_{minor}_{MACHINES[arch]}" for minor in GLIBC_MINORS]
    platform_args = [arg for tag in tags for arg in ("--platform", tag)]
    common = [
        *platform_args,
        "--implementation",
        "cp",
        "--python-version",
        python_version,
        "--only-binary=:all:",
        "--constraint",
        str(ROOT / "constraints.txt"),
        *pins,
    ]
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "--quiet"]
    install = [*pip, "install", "--no-compile", "--target", str(target), *common]
    from_cache = [*install, "--no-index", "--find-links", str(cache)]
    cached = subprocess.run(from_cache, capture_output=True, text=True)
    if cached.returncode != 0:
        if offline:
            raise SystemExit(f"--offline, but the wheel cache {cache} lacks:\n{cached.stderr}")
        subprocess.run([*pip, "download", "--dest", str(cache), *common], check=True)
        subprocess.run(from_cache, check=True)


def install_dependencies(
    target: Path, arch: str, python_version: str, cache: Path, offline: bool = False
) -> None:
    """Install the bundled dependencies for ``arch`` into ``target``. aws-xray-sdk pulls in
    botocore: it stays in the tree (for tracing imports) but out of every zip."""
    pip_install(target, requirements(), arch, python_version, cache, offline)


def copy_package(target: Path) -> None:
    """Copy ``carbon_aware`` without its CLI, agent, bytecode or caches."""
    shutil.copytree(
        PACKAGE,
        target / PACKAGE.name,
        ignore=shutil.ignore_patterns("__pycache__", "*.pyc", *PACKAGE_EXCLUDES),
    )


def find_interpreter(python_version: str) -> Path:
    """An interpreter of the Lambda's Python version: ``pythonX.Y`` on PATH, else pyenv's."""
    candidates = [shutil.which(f"python{python_version}")]
    pyenv = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv")) / "versions"
    candidates += sorted(map(str, pyenv.glob(f"{python_version}.*/bin/python{python_version}")))
    for candidate in filter(None, candidates):
        probe = [candidate, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"]
        found = subprocess.run(probe, capture_output=True, text=True)
        if found.returncode == 0 and found.stdout.strip() == python_version:
            return Path(candidate)
    raise SystemExit(
        f"no Python {python_version} interpreter found (python{python_version} on PATH or "
        f"under {pyenv}): the bytecode must be compiled by the Lambda runtime's version; "
        "pass --interpreter"
    )


def traced_modules(interpreter: Path, path: list[Path], module: str) -> list[str]:
    """Modules loaded by importing ``module`` in a fresh ``interpreter`` with only ``path``."""
    env = {"PYTHONPATH": os.pathsep.join(map(str, path)), "PYTHONNOUSERSITE": "1"}
    env |= {"PATH": os.environ.get("PATH", ""), "PYTHONDONTWRITEBYTECODE": "1"}
    done = subprocess.run(
        [str(interpreter), "-S", "-c", TRACE, module], capture_output=True, text=True, env=env
    )
    if done.returncode != 0:
        raise SystemExit(f"importing {module} failed:\n{done.stderr}")
    return json.loads(done.stdout)


def distributions(tree: Path) -> dict[str, list[Path]]:
    """Files of each installed distribution in ``tree`` (from RECORD), by top-level name."""
    by_top: dict[str, list[Path]] = {}
    for info in sorted(tree.glob("*.dist-info")):
        files = [Path(line.split(",")[0]) for line in (info / "RECORD").read_text().splitlines()]
        files = [f for f in files if (tree / f).is_file()]
        for top in {f.parts[0].split(".")[0] for f in files if f.parts[0] != info.name}:
            by_top.setdefault(top, []).extend(files)
    return by_top


def bundle_files(tree: Path, modules: list[str]) -> list[Path]:
    """Files of ``tree`` that ``modules`` need, sorted: our modules one by one with our data
    files, third-party distributions whole. Console scripts (``bin/``, with the build machine's
    interpreter path in their shebang), RECORD files (which hash them), tests and type stubs of
    dependencies stay out."""
    ours = PACKAGE.name
    files: set[Path] = {p.relative_to(tree) for p in (tree / ours).rglob("*") if _is_data(p)}
    by_top = distributions(tree)
    for name in modules:
        parts = name.split(".")
        if parts[0] == ours:
            source = tree.joinpath(*parts)
            init = source / "__init__.py"
            files.add((init if init.is_file() else source.with_suffix(".py")).relative_to(tree))
        elif parts[0] not in RUNTIME_PROVIDED:
            files.update(by_top.get(parts[0], ()))
    return sorted((f for f in files if _shipped(tree, f)), key=lambda p: p.as_posix())


def _is_data(path: Path) -> bool:
    return path.is_file() and path.suffix not in (".py", ".pyc") and "__pycache__" not in path.parts


def _shipped(tree: Path, rel: Path) -> bool:
    if rel.parts[0] == "bin" or "__pycache__" in rel.parts or rel.suffix == ".pyc":
        return False
    if rel.name == "RECORD" and rel.parent.suffix == ".dist-info":
        return False
    in_dependency = rel.parts[0] != PACKAGE.name
    if in_dependency and (
        set(rel.parts[:-1]) & set(STRIPPED_DIRS) or rel.suffix in STRIPPED_SUFFIXES
    ):
        return False
    return (tree / rel).is_file()


def compile_bytecode(interpreter: Path, tree: Path) -> None:
    """Unchecked-hash pycs for every ``.py`` in ``tree``, compiled by ``interpreter``."""
    subprocess.run([str(interpreter), "-c", COMPILE, str(tree)], check=True)


def write_zip(tree: Path, files: list[Path], out: Path) -> None:
    """Write ``files`` (relative to ``tree``) with fixed timestamps and permissions."""
    with zipfile.ZipFile(out, "w") as zf:
        for rel in files:
            info = zipfile.ZipInfo(rel.as_posix(), date_time=ZIP_DATE)
            info.external_attr = FILE_MODE << 16
            info.create_system = 3  # Unix, so the mode above is honoured
            info.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(info, (tree / rel).read_bytes(), compresslevel=6)


def host_arch() -> str:
    """The build machine's architecture in Lambda's naming."""
    machine = platform.machine()
    return next((arch for arch, m in MACHINES.items() if m == machine), machine)


def build(
    arch: str,
    python_version: str,
    dist: Path,
    cache: Path,
    offline: bool = False,
    interpreter: Path | None = None,
) -> dict[str, Path]:
    """Build every function's bundle for ``arch`` into ``dist/<arch>``; returns the zips."""
    interpreter = interpreter or find_interpreter(python_version)
    out_dir = dist / arch
    out_dir.mkdir(parents=True, exist_ok=True)
    tag = f"cp{python_version.replace('.', '')}"
    with tempfile.TemporaryDirectory(prefix="carbon-aware-bundle-") as tmp:
        site = Path(tmp) / "site"
        install_dependencies(site, arch, python_version, cache / f"{tag}-{arch}", offline)
        copy_package(site)
        trace_site = site
        if arch != host_arch():
            trace_site = Path(tmp) / "trace"
            here = host_arch()
            install_dependencies(trace_site, here, python_version, cache / f"{tag}-{here}", offline)
            copy_package(trace_site)
        boto = Path(tmp) / "boto"
        pip_install(
            boto, runtime_provided(), host_arch(), python_version, cache / "runtime", offline
        )
        zips = {}
        for function, module in handlers().items():
            modules = traced_modules(interpreter, [trace_site, boto], module)
            files = bundle_files(site, modules)
            stage = Path(tmp) / "functions" / function
            for rel in files:
                (stage / rel).parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(site / rel, stage / rel)
            compile_bytecode(interpreter, stage)
            shipped = sorted(
                (p.relative_to(stage) for p in stage.rglob("*") if p.is_file()),
                key=lambda p: p.as_posix(),
            )
            out = out_dir / f"{function}.zip"
            write_zip(stage, shipped, out)
            unzipped = sum((stage / f).stat().st_size for f in shipped)
            digest = _write_sha256(out)
            print(
                f"{out}: {out.stat().st_size / 1e6:.2f} MB zipped, {unzipped / 1e6:.1f} MB "
                f"unzipped, {len(shipped)} files, sha256 {digest}"
            )
            zips[function] = out
    return zips


def _write_sha256(path: Path) -> str:
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    path.with_name(path.name + ".sha256").write_text(f"{digest}  {path.name}\n")
    return digest


def package(bundles: list[Path], dist: Path, source: Path = ROOT) -> Path:
    """Write the module's release archive with ``bundles`` at ``dist/<arch>/<function>.zip``."""
    members = {f.relative_to(source): f for pattern in RELEASE_FILES for f in source.glob(pattern)}
    for bundle in bundles:
        at = Path("dist") / bundle.parent.name
        members[at / bundle.name] = bundle
        members[at / (bundle.name + ".sha256")] = bundle.with_name(bundle.name + ".sha256")
    out = dist / f"terraform-aws-carbon-aware-compute-{_project()['version']}.tar.gz"
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for rel in sorted(members, key=lambda p: p.as_posix()):
            data = members[rel].read_bytes()
            info = tarfile.TarInfo(rel.as_posix())
            info.size, info.mode, info.mtime = len(data), 0o644, 0
            tar.addfile(info, io.BytesIO(data))
    with out.open("wb") as f, gzip.GzipFile(fileobj=f, mode="wb", mtime=0, filename="") as gz:
        gz.write(buffer.getvalue())
    print(f"{out}: {len(members)} files, sha256 {_write_sha256(out)}")
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--arch", choices=sorted(MACHINES), default="arm64")
    parser.add_argument("--python-version", default="3.13", help="Lambda runtime's Python")
    parser.add_argument(
        "--interpreter", type=Path, help="Python of that version (default: found on PATH/pyenv)"
    )
    parser.add_argument("--dist", type=Path, default=ROOT / "dist")
    parser.add_argument("--cache", type=Path, default=ROOT / "build" / "wheels")
    parser.add_argument("--offline", action="store_true", help="use the wheel cache only")
    parser.add_argument("--package", action="store_true", help="also write the release archive")
    args = parser.parse_args(argv)
    zips = build(
        args.arch, args.python_version, args.dist, args.cache, args.offline, args.interpreter
    )
    if args.package:
        package(list(zips.values()), args.dist)
    return 0


if __name__ == "__main__":
    sys.exit(main())
