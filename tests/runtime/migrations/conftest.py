"""The moto environment the workload migrations run in (a file may define its own ``env``)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from tests.runtime.migrations.migration_env import Env, create_env, ecs_targets

from carbon_aware.cli.demo_migrations import T0, tasks_keep_running


@pytest.fixture
def env(moto_aws: None) -> Iterator[Env]:
    """Both regions' ECS targets, checkpoint buckets and keys, from ``T0``; tasks keep running."""
    with tasks_keep_running():
        yield create_env([T0], ecs_targets())
