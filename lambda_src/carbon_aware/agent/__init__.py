"""The checkpoint agent a workload imports to honour the checkpoint protocol.

Standard library only, plus boto3 for S3 (imported only when a checkpoint lives in S3); it imports
nothing else from carbon_aware, so a workload image needs just ``carbon_aware/__init__.py`` and
this directory. See docs/checkpoint-protocol.md.
"""

from .checkpointer import CheckpointedStop, Checkpointer, Stats
from .protocol import EXIT_CHECKPOINTED, EXIT_DONE, Manifest, ManifestError
from .stores import LocalStore, S3Store, StoreConflict

__all__ = [
    "EXIT_CHECKPOINTED",
    "EXIT_DONE",
    "CheckpointedStop",
    "Checkpointer",
    "LocalStore",
    "Manifest",
    "ManifestError",
    "S3Store",
    "Stats",
    "StoreConflict",
]
