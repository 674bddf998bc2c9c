"""The checkpoint protocol's fixed parts: environment, exit codes, object layout, the manifest.

See docs/checkpoint-protocol.md: this module is its executable form and both sides (the runtime
that starts segments, the agent inside the workload) read the names from here.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass

ENV_WORKLOAD_ID = "CARBON_AWARE_WORKLOAD_ID"
ENV_SEGMENT = "CARBON_AWARE_SEGMENT"
ENV_CHECKPOINT_URI = "CARBON_AWARE_CHECKPOINT_URI"
ENV_RESUME_FROM = "CARBON_AWARE_RESUME_FROM"
ENV_BUDGET_SECONDS = "CARBON_AWARE_CHECKPOINT_BUDGET_SECONDS"
# Optional, agent side only: a file whose appearance asks for checkpoint-and-stop (what an SSM
# Run Command writes on EC2), and a switch for the instance-metadata watch.
ENV_STOP_FILE = "CARBON_AWARE_STOP_FILE"
ENV_WATCH_IMDS = "CARBON_AWARE_WATCH_IMDS"

# The workload finished: nothing to resume.
EXIT_DONE = 0
# A checkpoint was committed after a stop request: resume me from it (sysexits EX_TEMPFAIL).
EXIT_CHECKPOINTED = 75
# Any other exit status is a failure; the runtime resumes from the last committed checkpoint.

DEFAULT_BUDGET_SECONDS = 30.0
MAX_BUDGET_SECONDS = 120.0
MANIFEST_NAME = "latest.json"
CHECKPOINT_SUFFIX = ".ckpt"


def checkpoint_name(sequence: int) -> str:
    """Object name (relative to the prefix) of checkpoint ``sequence``: ``00000042.ckpt``."""
    return f"{sequence:08d}{CHECKPOINT_SUFFIX}"


class ManifestError(ValueError):
    """A manifest or the checkpoint it names is malformed or does not match its digest."""


@dataclass(frozen=True)
class Manifest:
    """``latest.json``: the one committed checkpoint of a prefix.

    ``key`` is the checkpoint's full key in the same bucket (or directory) as the manifest; the
    prefix is the same in every Region's bucket, so a copied manifest needs no rewrite, unless
    it names ``snapshot_id``: an EBS snapshot in the manifest's Region holding the state too
    large for the object (encrypted under the Region's checkpoint key), which the runtime copies
    with the checkpoint and names anew in the copied manifest.
    """

    sequence: int
    key: str
    sha256: str
    bytes: int
    written_at: str
    progress: float | None = None
    snapshot_id: str | None = None

    def to_json(self) -> bytes:
        """The manifest's stored form (without ``snapshot_id`` when there is none)."""
        fields = asdict(self)
        if self.snapshot_id is None:
            del fields["snapshot_id"]
        return json.dumps(fields, sort_keys=True).encode()

    @classmethod
    def from_json(cls, raw: bytes) -> Manifest:
        """Parse a stored manifest; raise ManifestError naming the bad field."""
        try:
            data = json.loads(raw)
        except ValueError as err:
            raise ManifestError(f"manifest: not JSON ({err})") from err
        if not isinstance(data, dict):
            raise ManifestError("manifest: not an object")
        types = {"sequence": int, "key": str, "sha256": str, "bytes": int, "written_at": str}
        for name, kind in types.items():
            if not isinstance(data.get(name), kind) or isinstance(data.get(name), bool):
                raise ManifestError(f"manifest.{name}: missing or not a {kind.__name__}")
        progress = data.get("progress")
        if progress is not None and not isinstance(progress, int | float):
            raise ManifestError("manifest.progress: not a number")
        snapshot_id = data.get("snapshot_id")
        if snapshot_id is not None and not isinstance(snapshot_id, str):
            raise ManifestError("manifest.snapshot_id: not a string")
        return cls(
            sequence=data["sequence"],
            key=data["key"],
            sha256=data["sha256"],
            bytes=data["bytes"],
            written_at=data["written_at"],
            progress=None if progress is None else float(progress),
            snapshot_id=snapshot_id,
        )

    def verify(self, data: bytes) -> bytes:
        """``data`` when it is the checkpoint this manifest names, else ManifestError."""
        if len(data) != self.bytes or hashlib.sha256(data).hexdigest() != self.sha256:
            raise ManifestError(f"checkpoint {self.key}: size or sha256 differs from the manifest")
        return data
