"""Errors of the detection stage.

Hierarchy::

    DetectError                      base of everything detect/ raises
    ├── RuleLoadError                a file or document could not be read as Sigma
    └── RuleRejectedError            pySigma parsed the rule but neakta cannot evaluate it

Callers decide by the ``retriable`` flag, never by lists of classes: nothing in detection is
retriable, a broken rule stays broken until its author fixes it.
"""

from __future__ import annotations

from typing import ClassVar

__all__ = ["DetectError", "RuleLoadError", "RuleRejectedError"]


class DetectError(Exception):
    """Base class of detection errors."""

    retriable: ClassVar[bool] = False


class RuleLoadError(DetectError):
    """A rule file or YAML document could not be parsed as a Sigma rule."""


class RuleRejectedError(DetectError):
    """A parsed rule uses a feature the Polars backend cannot evaluate.

    Parameters
    ----------
    reason
        A short, stable reason used to count rejections (e.g. ``"regex: look-around"``).
    detail
        Free text with the specifics (the offending value, the field).
    """

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason
        self.detail = detail
