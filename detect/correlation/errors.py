"""Errors of correlation: compiling correlation rules, restoring state, checkpoints.

Hierarchy::

    DetectError                        (detect.errors)
    ├── CorrelationStateError          a state snapshot cannot be read (corrupt, other format)
    └── CheckpointError                the checkpoint store cannot be read or written now

Callers decide by ``retriable``: a snapshot that cannot be read stays unreadable, while a
checkpoint store that is busy or briefly unavailable may work on the next attempt.
"""

from __future__ import annotations

from typing import ClassVar

from detect.errors import DetectError

__all__ = ["CheckpointError", "CorrelationStateError"]


class CorrelationStateError(DetectError):
    """A correlation state snapshot is not one this version can restore."""

    retriable: ClassVar[bool] = False


class CheckpointError(DetectError):
    """The checkpoint store could not save or load a checkpoint (e.g. the file is locked)."""

    retriable: ClassVar[bool] = True
