"""Fixtures shared by the fleet tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from tests.fleet.fleet_env import fleets_table

from carbon_aware.runtime.fleet.repository import FleetRepository


@pytest.fixture
def repo(moto_aws: None) -> Iterator[FleetRepository]:
    """The fleets table, empty, on moto."""
    yield fleets_table()
