"""The names of the shipped pipelines, for option choices and defaults, without pySigma.

The pipelines themselves (:mod:`detect.pipelines`) are pySigma objects; the command line
only needs their names to parse its options, and a rule set read from the cache only its
pipeline's name.
"""

from __future__ import annotations

__all__ = ["DEFAULT_PIPELINE", "PIPELINE_NAMES"]

PIPELINE_NAMES = ("ecs", "none", "raw")
"""The keys of :data:`detect.pipelines.PIPELINES`, sorted."""

DEFAULT_PIPELINE = "raw"
