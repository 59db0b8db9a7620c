"""What a compiled correlation rule is: its condition, inputs and alert metadata."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

__all__ = [
    "CORRELATION_TYPES",
    "CompiledCorrelation",
    "Condition",
    "Expression",
    "Input",
    "Op",
]

CORRELATION_TYPES = (
    "event_count",
    "value_count",
    "value_sum",
    "value_avg",
    "value_median",
    "value_percentile",
    "temporal",
    "temporal_ordered",
)
Op = Literal["gt", "gte", "lt", "lte", "eq", "neq"]
# An extended temporal condition: ("ref", position) | ("and", parts) | ("or", parts).
Expression = tuple[str, int] | tuple[str, tuple["Expression", ...]]


@dataclass(frozen=True, slots=True)
class Condition:
    """``value <op> count``; ``value`` is what the correlation type aggregates."""

    op: Op
    count: float

    def holds(self, value: float) -> bool:
        """Whether ``value`` satisfies the condition (plain Python; see ``windows``).

        >>> Condition("gte", 3).holds(3.0), Condition("lt", 3).holds(3.0)
        (True, False)
        """
        match self.op:
            case "gt":
                return value > self.count
            case "gte":
                return value >= self.count
            case "lt":
                return value < self.count
            case "lte":
                return value <= self.count
            case "eq":
                return value == self.count
            case _:
                return value != self.count


@dataclass(frozen=True, slots=True)
class Input:
    """One referenced rule of a correlation, with the columns its events give.

    ``kind`` is ``"rule"`` (``index`` into the base rule set; ``group`` and ``value`` are
    event column names) or ``"correlation"`` (``index`` of the inner correlation; ``group``
    holds positions in the inner correlation's group values, as strings).
    """

    position: int
    kind: Literal["rule", "correlation"]
    index: int
    reference: str
    group: tuple[str, ...]
    value: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class CompiledCorrelation:
    """A correlation rule ready to run, with the metadata its alerts carry."""

    index: int
    id: str
    name: str | None
    title: str
    level: str
    tags: tuple[str, ...]
    description: str
    author: str
    references: tuple[str, ...]
    type: str
    timespan_us: int
    group_by: tuple[str, ...]
    generate: bool
    condition: Condition
    expression: Expression | None
    percentile: float | None
    inputs: tuple[Input, ...]
    path: str
    line: int
