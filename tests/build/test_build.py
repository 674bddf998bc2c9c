"""The Lambda bundle is reproducible, complete and lean; the release archive carries it."""

from __future__ import annotations

import hashlib
import importlib.util
import tarfile
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
_spec = importlib.util.spec_from_file_location("build_script", ROOT / "scripts" / "build.py")
build = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(build)

CACHE = ROOT / "build" / "wheels"


@pytest.fixture(scope="module")
def bundles(tmp_path_factory) -> list[Path]:
    """The arm64 bundle built twice, from the wheel cache only (no network in tests)."""
    if not any(CACHE.glob("cp313-arm64/numpy-*.whl")):
        pytest.skip("wheel cache build/wheels is empty: run `make build` first")
    return [
        build.build("arm64", "3.13", tmp_path_factory.mktemp(f"dist{i}"), CACHE, offline=True)
        for i in range(2)
    ]


def test_building_twice_gives_the_same_sha256(bundles):
    first, second = (hashlib.sha256(b.read_bytes()).hexdigest() for b in bundles)
    assert first == second
    assert bundles[0].with_name(bundles[0].name + ".sha256").read_text().split()[0] == first


def test_entries_are_sorted_with_fixed_time_and_mode(bundles):
    infos = zipfile.ZipFile(bundles[0]).infolist()
    names = [i.filename for i in infos]
    assert names == sorted(names)
    assert {i.date_time for i in infos} == {build.ZIP_DATE}
    assert {i.external_attr >> 16 for i in infos} == {build.FILE_MODE}


def test_bundle_holds_the_package_and_pinned_dependencies_only(bundles):
    names = zipfile.ZipFile(bundles[0]).namelist()
    top = {n.split("/")[0] for n in names}
    assert "carbon_aware" in top and "numpy" in top and "aws_lambda_powertools" in top
    assert "carbon_aware/data/profiles.json" in names
    assert not [n for n in names if n.startswith("carbon_aware/cli/")], "the CLI stays out"
    assert not top & {"boto3", "botocore", "s3transfer", "bin"}
    assert not [n for n in names if n.endswith(".pyc") or "__pycache__" in n]
    assert "numpy-2.4.6.dist-info/METADATA" in names
    so = [n for n in names if n.startswith("numpy/_core/_multiarray_umath")]
    assert so and all("aarch64" in n for n in so), so


def test_release_archive_is_reproducible_and_carries_the_bundle(tmp_path):
    bundle = tmp_path / "carbon-aware-lambda-arm64.zip"
    bundle.write_bytes(b"not really a zip")
    (tmp_path / (bundle.name + ".sha256")).write_text("x\n")
    archives = []
    for i in range(2):
        (tmp_path / f"out{i}").mkdir()
        archives.append(build.package(bundle, tmp_path / f"out{i}"))
    assert archives[0].read_bytes() == archives[1].read_bytes()
    with tarfile.open(archives[0]) as tar:
        names = tar.getnames()
    assert "dist/carbon-aware-lambda-arm64.zip" in names
    assert {"main.tf", "variables.tf", "outputs.tf", "versions.tf", "README.md"} <= set(names)
    assert "modules/function/main.tf" in names and "examples/multi-region/main.tf" in names
    assert not [n for n in names if ".terraform" in n or n.startswith("tests/")]
