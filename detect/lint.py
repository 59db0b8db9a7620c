"""Warnings about rules that compile but cannot work as their author meant.

A rule can compile and still never fire: it reads a field no parser of its log source
produces, compares an address network with a field that holds no address, a word with a
number column, or loses a modifier on the way through the pipeline. :func:`lint_rule`
compares each detection item of a rule, before and after the pipeline, with the columns
the parsers of its log family produce (:mod:`ingest.schema`, through
:data:`detect.families.LOGSOURCE_FAMILIES`), and says so by file and line.
"""

from __future__ import annotations

import copy
import re
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import polars as pl
from sigma.exceptions import SigmaError
from sigma.processing.pipeline import ProcessingPipeline
from sigma.rule import SigmaDetection, SigmaDetectionItem, SigmaRule
from sigma.types import (
    SigmaCIDRExpression,
    SigmaCompareExpression,
    SigmaNumber,
    SigmaString,
    SigmaType,
    SpecialChars,
)

from detect.backend import PolarsBackend, UnsupportedFeatureError
from detect.compiled import CompiledRule
from detect.families import family_schema
from detect.loader import SourcedRule

__all__ = ["Finding", "lint_rule", "noise_findings", "source_line"]


@dataclass(frozen=True, slots=True, order=True)
class Finding:
    """One warning (or note) about a rule, at a line of its file."""

    path: str
    line: int
    message: str
    severity: str = "warning"

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.severity}: {self.message}"


@cache
def _file_lines(path: str) -> tuple[str, ...]:
    try:
        return tuple(Path(path).read_text(encoding="utf-8").splitlines())
    except (OSError, UnicodeDecodeError):
        return ()


def source_line(source: SourcedRule, field: str | None, occurrence: int = 0) -> int:
    """The line where ``field`` is written (its ``occurrence``-th time), else the rule's line."""
    if field is None:
        return source.line
    key = re.compile(r"^\s*(?:-\s*)?['\"]?" + re.escape(field) + r"(?:\||['\"]?\s*:)")
    lines = _file_lines(source.path)
    found = [n for n in range(source.line, len(lines) + 1) if key.match(lines[n - 1])]
    return found[min(occurrence, len(found) - 1)] if found else source.line


def _values(item: SigmaDetectionItem | SigmaDetection) -> str:
    while isinstance(item, SigmaDetection) and item.detection_items:
        item = item.detection_items[0]
    return repr([str(v) for v in item.value]) if isinstance(item, SigmaDetectionItem) else ""


def _aligned(
    before: SigmaDetection, after: SigmaDetection
) -> list[SigmaDetectionItem | SigmaDetection | None]:
    """What became of each item of ``before``: in place, or matched by value if some went."""
    done: list[SigmaDetectionItem | SigmaDetection | None] = list(after.detection_items)
    if len(done) == len(before.detection_items):
        return done
    aligned: list[SigmaDetectionItem | SigmaDetection | None] = []
    for item in before.detection_items:
        if done and done[0] is not None and _values(done[0]) == _values(item):
            aligned.append(done.pop(0))
        else:
            aligned.append(None)
    return aligned


def _pairs(
    before: SigmaDetection, after: SigmaDetection
) -> Iterator[tuple[SigmaDetectionItem, list[SigmaDetectionItem]]]:
    """Each detection item as written, with what the pipeline made of it (may be none)."""
    for item, done in zip(before.detection_items, _aligned(before, after), strict=True):
        if isinstance(item, SigmaDetection):
            if isinstance(done, SigmaDetection):
                yield from _pairs(item, done)
            continue
        if isinstance(done, SigmaDetectionItem):
            yield item, [done]
        elif isinstance(done, SigmaDetection):
            yield item, [d for d in done.detection_items if isinstance(d, SigmaDetectionItem)]
        else:
            yield item, []


def _is_address(column: str) -> bool:
    return column.endswith((".ip", ".address"))


def _literal(value: SigmaString) -> str:
    return "".join(p for p in value.s if isinstance(p, str))


def _wildcarded(value: SigmaString) -> bool:
    return any(isinstance(p, SpecialChars) for p in value.s)


def _value_problem(column: str, dtype: pl.DataType, value: SigmaType) -> str | None:
    numeric = dtype.is_integer() or dtype.is_float()
    if isinstance(value, SigmaCIDRExpression) and not _is_address(column):
        return f"cidr {value.network} on {column}, which holds no address: never matches"
    if isinstance(value, SigmaNumber) and dtype == pl.String():
        return (
            f"number {value.number} compared with text column {column}: "
            f"matches only a value that is exactly {value.number}"
        )
    if isinstance(value, SigmaCompareExpression) and not numeric:
        return f"numeric comparison on text column {column}: only values that read as numbers"
    if isinstance(value, SigmaString) and numeric:
        digits = _literal(value).strip()
        if re.search(r"[^0-9.+-]", digits):
            return f"text {digits!r} compared with number column {column}: never matches"
        if not _wildcarded(value) and not digits:
            return f"empty text compared with number column {column}: never matches"
    return None


def _item_findings(
    source: SourcedRule,
    line: int,
    *,
    written: SigmaDetectionItem,
    done: list[SigmaDetectionItem],
    schema: Mapping[str, pl.DataType] | None,
    pipeline: str,
) -> Iterator[Finding]:
    shown = written.field if written.field is not None else "keyword"
    if not done:
        yield Finding(source.path, line, f"{shown}: the pipeline {pipeline} drops this test")
        return
    for item in done:
        lost = [m.__name__ for m in written.modifiers if m not in item.modifiers]
        if lost:
            names = ", ".join(sorted(lost))
            yield Finding(source.path, line, f"{shown}: the pipeline {pipeline} drops {names}")
        if item.field is None or schema is None:
            continue
        if item.field not in schema:
            mapped = f" ({item.field} under {pipeline})" if item.field != written.field else ""
            yield Finding(
                source.path,
                line,
                f"field {written.field}{mapped} is produced by no parser of this log source",
            )
            continue
        for value in item.value:
            problem = _value_problem(item.field, schema[item.field], value)
            if problem is not None:
                yield Finding(source.path, line, f"{written.field}: {problem}")


def lint_rule(source: SourcedRule, processing: ProcessingPipeline, pipeline: str) -> list[Finding]:
    """The findings about one rule under one pipeline (``pipeline`` names it in messages).

    A rule the pipeline or backend rejects is one finding with the reason.
    """
    rule = source.rule
    if not isinstance(rule, SigmaRule):
        return []
    written = copy.deepcopy(rule)
    done = copy.deepcopy(rule)
    backend = PolarsBackend(processing)
    try:
        backend.rule_node(done)
    except UnsupportedFeatureError as error:
        detail = f": {error.detail}" if error.detail else ""
        return [Finding(source.path, source.line, f"rejected: {error.reason}{detail}")]
    except SigmaError as error:
        message = str(error).split(" (while ")[0]
        return [Finding(source.path, source.line, f"rejected: {message}")]
    schema = family_schema(rule.logsource, pipeline)
    findings: list[Finding] = []
    seen: Counter[str | None] = Counter()
    for name, detection in written.detection.detections.items():
        processed = done.detection.detections.get(name)
        if processed is None:
            line = source_line(source, name)
            findings.append(Finding(source.path, line, f"{name}: the pipeline {pipeline} drops it"))
            continue
        for item, results in _pairs(detection, processed):
            line = source_line(source, item.field, seen[item.field])
            seen[item.field] += 1
            findings.extend(
                _item_findings(
                    source, line, written=item, done=results, schema=schema, pipeline=pipeline
                )
            )
    return sorted(set(findings))


def noise_findings(
    rules: Sequence[CompiledRule], matches: pl.DataFrame, events: int, max_share: float
) -> list[Finding]:
    """How often each rule fires on sample events; a warning above ``max_share``.

    ``matches`` is :meth:`detect.engine.CompiledRuleSet.evaluate`'s result on ``events``
    sample events (its ``rule_index`` column names the rule).
    """
    counts = dict(matches.group_by("rule_index").len().iter_rows()) if matches.height else {}
    findings = []
    for rule in rules:
        fired = counts.get(rule.index, 0)
        share = fired / events if events else 0.0
        text = f"fires on {fired} of {events} events ({100 * share:.2f}%)"
        if share > max_share:
            text += f", above {100 * max_share:.2f}%"
            findings.append(Finding(rule.path, rule.line, text))
        else:
            findings.append(Finding(rule.path, rule.line, text, severity="note"))
    return findings
