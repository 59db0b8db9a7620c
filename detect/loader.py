"""Load Sigma rules from files leniently and report every problem precisely.

One broken file or rule never stops the others: each problem names the file, the line, the
rule and what is wrong, so ``neakta rules check`` can print ``path:line: reason``.

Correlation rules are kept apart (``LoadedRules.correlations``): they run on the stream in
:mod:`detect.correlation`, not in the batch engine, and may name base rules of other files,
so their references are resolved there, across everything loaded, not per file.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import reduce
from pathlib import Path

import yaml
from sigma.collection import SigmaCollection
from sigma.correlations import SigmaCorrelationRule
from sigma.exceptions import SigmaError
from sigma.filters import SigmaFilter
from sigma.rule import SigmaRule

# Registers utf16 and utf16le as the specification defines them, before any rule is read.
import detect.modifiers  # noqa: F401
from detect.files import RuleProblem, find_rule_files

__all__ = [
    "LoadedRules",
    "RuleProblem",
    "SourcedRule",
    "find_rule_files",
    "load_rules",
    "parse_rules",
]


@dataclass(frozen=True, slots=True)
class SourcedRule:
    """A parsed rule and where it came from (``line``: 1-based line of its document)."""

    rule: SigmaRule | SigmaCorrelationRule
    path: str
    line: int


@dataclass(frozen=True, slots=True)
class LoadedRules:
    """Detection rules (``rules``), correlation rules and the problems met loading them."""

    rules: tuple[SourcedRule, ...]
    problems: tuple[RuleProblem, ...]
    correlations: tuple[SourcedRule, ...] = ()


def _document_lines(text: str) -> list[int]:
    """1-based first line of each YAML document in ``text``."""
    starts = [1]
    for number, line in enumerate(text.splitlines(), start=1):
        if line.startswith("---") and number > 1:
            starts.append(number + 1)
    return starts


def line_of(text: str, needle: str, default: int) -> int:
    """The first line of ``text`` containing ``needle`` (1-based), else ``default``."""
    if needle:
        for number, line in enumerate(text.splitlines(), start=1):
            if needle in line:
                return number
    return default


def _error_needle(error: Exception) -> str:
    match = re.search(r"'([^']{2,80})'", str(error))
    return match.group(1) if match else ""


def parse_rules(text: str, path: str = "<string>") -> LoadedRules:
    """Parse every Sigma rule in one YAML text (several documents allowed)."""
    try:
        # References of correlation rules are resolved by detect.correlation, across files.
        collection = SigmaCollection.from_yaml(text, collect_errors=True, resolve_references=False)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        line = mark.line + 1 if mark is not None else 1
        return LoadedRules((), (RuleProblem(path, line, "invalid YAML", str(error)),))
    except SigmaError as error:
        return LoadedRules((), (RuleProblem(path, 1, type(error).__name__, str(error)),))
    starts = _document_lines(text)
    rules: list[SourcedRule] = []
    correlations: list[SourcedRule] = []
    problems: list[RuleProblem] = []
    for index, rule in enumerate(_apply_filters(collection.rules)):
        doc_line = starts[index] if index < len(starts) else 1
        title = getattr(rule, "title", None)
        rule_id = str(rule.id) if getattr(rule, "id", None) else None
        if rule.errors:
            for rule_error in rule.errors:
                line = line_of(text, _error_needle(rule_error), doc_line)
                problems.append(
                    RuleProblem(
                        path, line, type(rule_error).__name__, str(rule_error), rule_id, title
                    )
                )
            continue
        if title:
            doc_line = line_of(text, f"title: {title}", doc_line)
        kept = correlations if isinstance(rule, SigmaCorrelationRule) else rules
        kept.append(SourcedRule(rule, path, doc_line))
    reported = {str(e) for r in collection.rules for e in r.errors}
    for other in collection.errors:
        if str(other) not in reported:
            problems.append(RuleProblem(path, 1, type(other).__name__, str(other)))
    return LoadedRules(tuple(rules), tuple(problems), tuple(correlations))


def _apply_filters(
    parsed: Sequence[object],
) -> list[SigmaRule | SigmaCorrelationRule]:
    """The rules of one file, with the file's Sigma filters applied to the rules they name."""
    filters = [r for r in parsed if isinstance(r, SigmaFilter)]
    rules = [r for r in parsed if isinstance(r, SigmaRule | SigmaCorrelationRule)]
    if not filters:
        return rules
    return [reduce(lambda r, f: f.apply_on_rule(r), filters, rule) for rule in rules]


def load_rules(paths: Sequence[str | Path]) -> LoadedRules:
    """Load every rule file under ``paths``; unreadable files become problems, not crashes."""
    rules: list[SourcedRule] = []
    correlations: list[SourcedRule] = []
    problems: list[RuleProblem] = []
    for path in find_rule_files(paths):
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as error:
            problems.append(RuleProblem(str(path), 1, "unreadable file", str(error)))
            continue
        loaded = parse_rules(text, str(path))
        rules.extend(loaded.rules)
        correlations.extend(loaded.correlations)
        problems.extend(loaded.problems)
    return LoadedRules(tuple(rules), tuple(problems), tuple(correlations))
