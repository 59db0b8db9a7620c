"""Evaluate a detection node on one event, with *null* for what a missing field decides.

The engine answers one question per row: does the rule match? An author asking *why* needs
the value of every part of the detection, and a third value besides true and false: a
test on a field the event does not have is *null*. Leaves are evaluated with the engine's
own expressions (:func:`detect.expressions.to_expr`) on a one-row frame, so explaining
agrees with detecting; the boolean structure follows the engine too: ``and`` and ``or``
are Kleene's (null stays null unless a false or true decides), ``not`` of null is true
(a missing field is no match), and only a true result is a match.
"""

from __future__ import annotations

from collections.abc import Mapping

import polars as pl

from detect import ir
from detect.expressions import to_expr

__all__ = ["Truth", "evaluate", "event_frame", "missing_fields"]

Truth = bool | None
"""True, false, or null (decided by a missing field)."""


def event_frame(event: Mapping[str, object], fields: set[str]) -> pl.DataFrame:
    """One row holding ``event``, with every field of ``fields`` it lacks as a null string.

    >>> event_frame({"a": "x"}, {"a", "b"}).to_dicts()
    [{'a': 'x', 'b': None}]
    """
    row = dict(event)
    frame = pl.DataFrame([row]) if row else pl.DataFrame({"__empty": [None]})
    missing = sorted(f for f in fields if f not in frame.columns)
    return frame.with_columns(pl.lit(None, pl.String).alias(f) for f in missing)


def missing_fields(node: ir.Node, frame: pl.DataFrame) -> list[str]:
    """The fields ``node`` reads that are null in the event (one-row ``frame``)."""
    row = frame.row(0, named=True)
    return sorted(f for f in ir.fields_of(node) if row.get(f) is None)


def _leaf(node: ir.Node, frame: pl.DataFrame) -> Truth:
    if not isinstance(node, ir.IsNull | ir.Exists | ir.Const) and missing_fields(node, frame):
        return None
    return bool(frame.select(to_expr(node).alias("v"))["v"][0])


def evaluate(node: ir.Node, frame: pl.DataFrame) -> Truth:
    """The value of ``node`` on the event in the one-row ``frame``.

    >>> frame = event_frame({"Image": "C:\\\\cmd.exe"}, {"Image", "CommandLine"})
    >>> image = ir.StrMatch("Image", ir.StrKind.SUFFIX, "cmd.exe")
    >>> command = ir.StrMatch("CommandLine", ir.StrKind.CONTAINS, "whoami")
    >>> evaluate(image, frame), evaluate(command, frame)
    (True, None)
    >>> evaluate(ir.And((image, command)), frame), evaluate(ir.Not(command), frame)
    (None, True)
    """
    match node:
        case ir.And(children):
            return kleene_and([evaluate(child, frame) for child in children])
        case ir.Or(children):
            return kleene_or([evaluate(child, frame) for child in children])
        case ir.Not(child):
            return not evaluate(child, frame)
        case _:
            return _leaf(node, frame)


def kleene_and(values: list[Truth]) -> Truth:
    """False if any is false, else null if any is null, else true."""
    if any(v is False for v in values):
        return False
    return None if any(v is None for v in values) else True


def kleene_or(values: list[Truth]) -> Truth:
    """True if any is true, else null if any is null, else false."""
    if any(v is True for v in values):
        return True
    return None if any(v is None for v in values) else False
