"""The submissions the examples' READMEs tell users to send pass this API's validation."""

from __future__ import annotations

import json
import re
from pathlib import Path

from carbon_aware.engine.timeutil import parse_seconds
from carbon_aware.runtime.config import WorkloadSettings
from carbon_aware.runtime.submission import parse_submission

ROOT = Path(__file__).resolve().parents[2]
ACCOUNT = "111122223333"


def readme_json(example: str) -> dict:
    """The one JSON block of an example's README."""
    text = (ROOT / "examples" / example / "README.md").read_text()
    blocks = re.findall(r"```json\n(.*?)```", text, flags=re.S)
    assert len(blocks) == 1, f"{example}/README.md should show one JSON submission"
    return json.loads(blocks[0])


def test_the_checkpointing_job_submission_is_accepted() -> None:
    body = readme_json("checkpointing-job")
    regions = ("eu-west-1", "eu-north-1")
    # The allow-list examples/checkpointing-job/main.tf passes as execution_targets.
    allowlist = tuple(
        f"arn:aws:ecs:{r}:{ACCOUNT}:{kind}"
        for r in regions
        for kind in ("cluster/checkpointing-job", "task-definition/checkpointing-job:*")
    )
    settings = WorkloadSettings(
        workloads_table="workloads",
        regions=regions,
        home_region=regions[0],
        default_strategy="follow_the_sun",
        target_allowlist=allowlist,
        checkpoint_buckets={r: f"carbon-aware-ckpt-checkpoints-{r}" for r in regions},
    )
    now = parse_seconds(body["deadline"]) - 24 * 3600
    spec = parse_submission(body, now, settings)
    assert spec["interruptible"] is True and spec["strategy"] == "follow_the_sun"
    for region in regions:
        containers = spec["targets"][region]["overrides"]["containerOverrides"]
        assert containers == [{"name": "job"}]
