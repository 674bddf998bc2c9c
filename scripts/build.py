"""Build the Lambda bundle: our package plus its pinned runtime dependencies, as a reproducible zip.

    python scripts/build.py [--arch arm64|x86_64] [--python-version 3.13] [--offline] [--package]

Dependencies come from manylinux wheels for the target platform (``pip install --platform ...
--only-binary=:all: --target``), pinned by ``constraints.txt``. Downloads are cached under
``build/wheels/<tag>`` so a rebuild needs no network. boto3 and its dependencies are left out:
the Lambda runtime provides them. The zip is byte-for-byte reproducible: sorted entries, a fixed
timestamp, fixed permissions, no bytecode, nothing that records the build machine's paths.
Writes ``<dist>/carbon-aware-lambda-<arch>.zip`` and ``.zip.sha256`` beside it. ``--package`` also
writes the module's release archive (``<dist>/terraform-aws-carbon-aware-compute-<version>.tar.gz``:
the Terraform files, docs, examples and the prebuilt bundle), reproducible too.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import io
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
# Parts of our package the handlers never import (the CLI pulls in matplotlib and tqdm).
PACKAGE_EXCLUDES = ("cli",)
ZIP_DATE = (1980, 1, 1, 0, 0, 0)
FILE_MODE = 0o100644
# What a release archive holds besides the bundle: the module as users consume it.
RELEASE_FILES = ("*.tf", "README.md", "LICENSE", "modules/**/*.tf", "modules/**/README.md")
RELEASE_FILES += ("examples/**/*.tf", "examples/**/*.tftest.hcl", "examples/**/README.md")


def requirements() -> list[str]:
    """The package's own dependencies plus its `runtime` extra, as pinned in pyproject.toml, less
    what the Lambda runtime provides."""
    project = _project()
    pins = [*project["dependencies"], *project["optional-dependencies"]["runtime"]]
    return [p for p in pins if p.split("==")[0].lower() not in RUNTIME_PROVIDED]


def _project() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]


def install_dependencies(
    target: Path, arch: str, python_version: str, cache: Path, offline: bool = False
) -> None:
    """Install the pinned dependencies for ``arch`` into ``target``, downloading only what the
    cache lacks (nothing at all when ``offline``)."""
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
        *requirements(),
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
    bundled = {p.name.split("-")[0].lower() for p in target.glob("*.dist-info")}
    if leaked := bundled & set(RUNTIME_PROVIDED):
        raise SystemExit(f"runtime-provided packages pulled in by a dependency: {sorted(leaked)}")


def copy_package(target: Path) -> None:
    """Copy ``carbon_aware`` without its CLI, bytecode or caches."""
    shutil.copytree(
        PACKAGE,
        target / PACKAGE.name,
        ignore=shutil.ignore_patterns("__pycache__", "*.pyc", *PACKAGE_EXCLUDES),
    )


def bundle_files(tree: Path) -> list[Path]:
    """Files that go into the zip, sorted. Console scripts (``bin/``, with the build machine's
    interpreter path in their shebang) and pip's RECORD files (which hash them) stay out."""
    files = []
    for path in tree.rglob("*"):
        rel = path.relative_to(tree)
        if not path.is_file() or rel.parts[0] == "bin" or "__pycache__" in rel.parts:
            continue
        if rel.suffix == ".pyc" or (rel.name == "RECORD" and rel.parent.suffix == ".dist-info"):
            continue
        files.append(rel)
    return sorted(files, key=lambda p: p.as_posix())


def write_zip(tree: Path, files: list[Path], out: Path) -> None:
    """Write ``files`` (relative to ``tree``) with fixed timestamps and permissions."""
    with zipfile.ZipFile(out, "w") as zf:
        for rel in files:
            info = zipfile.ZipInfo(rel.as_posix(), date_time=ZIP_DATE)
            info.external_attr = FILE_MODE << 16
            info.create_system = 3  # Unix, so the mode above is honoured
            info.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(info, (tree / rel).read_bytes(), compresslevel=6)


def build(arch: str, python_version: str, dist: Path, cache: Path, offline: bool = False) -> Path:
    """Build the bundle for ``arch`` into ``dist`` and return the zip's path."""
    dist.mkdir(parents=True, exist_ok=True)
    cache = cache / f"cp{python_version.replace('.', '')}-{arch}"
    cache.mkdir(parents=True, exist_ok=True)
    out = dist / f"carbon-aware-lambda-{arch}.zip"
    with tempfile.TemporaryDirectory(prefix="carbon-aware-bundle-") as tmp:
        tree = Path(tmp)
        install_dependencies(tree, arch, python_version, cache, offline)
        copy_package(tree)
        files = bundle_files(tree)
        write_zip(tree, files, out)
        unzipped = sum((tree / f).stat().st_size for f in files)
    digest = _write_sha256(out)
    print(
        f"{out}: {out.stat().st_size / 1e6:.1f} MB zipped, {unzipped / 1e6:.1f} MB unzipped, "
        f"{len(files)} files, sha256 {digest}"
    )
    return out


def _write_sha256(path: Path) -> str:
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    path.with_name(path.name + ".sha256").write_text(f"{digest}  {path.name}\n")
    return digest


def package(bundle: Path, dist: Path, source: Path = ROOT) -> Path:
    """Write the module's release archive with ``bundle`` at its default path (``dist/``)."""
    members = {f.relative_to(source): f for pattern in RELEASE_FILES for f in source.glob(pattern)}
    members[Path("dist") / bundle.name] = bundle
    members[Path("dist") / (bundle.name + ".sha256")] = bundle.with_name(bundle.name + ".sha256")
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
    parser.add_argument("--dist", type=Path, default=ROOT / "dist")
    parser.add_argument("--cache", type=Path, default=ROOT / "build" / "wheels")
    parser.add_argument("--offline", action="store_true", help="use the wheel cache only")
    parser.add_argument("--package", action="store_true", help="also write the release archive")
    args = parser.parse_args(argv)
    bundle = build(args.arch, args.python_version, args.dist, args.cache, args.offline)
    if args.package:
        package(bundle, args.dist)
    return 0


if __name__ == "__main__":
    sys.exit(main())
