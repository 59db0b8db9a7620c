"""Fast patterns: the literals a rule needs before its full expression is worth running.

Signature IDS engines (Snort, Suricata) give every rule one selective literal, run one
multi-pattern search per buffer, and evaluate a rule only where its literal occurred.
neakta does the same per column, with two refinements:

- a pattern is a *conjunction of slots*, each slot a set of (column, literal) pairs of
  which at least one must occur: ``selection_img and selection_cli`` can require a hit
  in ``Image`` and one in ``CommandLine``, so a rule on ``\\cmd.exe`` with a rare
  command-line flag is not a candidate on every ``cmd.exe`` row;
- the choice is driven by a cost per literal, the share of rows it hits in a sample of
  real events (:meth:`detect.engine.CompiledRuleSet.calibrate`); before any sample
  exists, longer literals are assumed rarer.

All functions here are pure and only read the IR.
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Callable, Iterator
from functools import lru_cache
from typing import Any, TypeAlias

from detect.folding import fold
from detect.ir import (
    ALL_TEXT,
    TEXT_SEPARATOR,
    WILDCARD_ANY,
    WILDCARD_ONE,
    And,
    Const,
    Glob,
    Node,
    Or,
    Regex,
    StrMatch,
)

__all__ = [
    "USELESS_ABOVE",
    "Pattern",
    "Slot",
    "choose_pattern",
    "pattern_literals",
    "regex_literals",
    "static_cost",
]

Slot: TypeAlias = frozenset[tuple[str, str]]
"""(column, lower-cased literal) pairs; at least one must occur for the rule to be true."""

Pattern: TypeAlias = tuple[Slot, ...]
"""Slots that must all be satisfied; the empty slot means the rule can never be true."""

Cost: TypeAlias = Callable[[str, str], float]

MIN_LENGTH = 2
# A pattern expected to hit more rows than this share is not worth searching for.
USELESS_ABOVE = 0.5
# A second slot only pays when the first still leaves many candidates, and only when its
# own literals are rare enough not to flood the multi-pattern search with hits.
SECOND_SLOT_ABOVE = 0.002
SECOND_SLOT_BELOW = 0.25


def _literal(node: StrMatch | Glob) -> str:
    if isinstance(node, StrMatch):
        return fold(node.value)
    parts = [p for p in node.parts if p not in (WILDCARD_ANY, WILDCARD_ONE)]
    return fold(max(parts, key=len, default=""))


def _column(field: str | None) -> str:
    """Where a test's literals are searched: its field, or the joined text for a keyword."""
    return ALL_TEXT if field is None else field


def _searchable(field: str | None, literal: str) -> bool:
    # Bytes, not characters: a 4-byte emoji is as selective as a 4-letter word. A keyword's
    # literal holding the separator could span two values of the joined text.
    return len(literal.encode("utf-8")) >= MIN_LENGTH and (
        field is not None or TEXT_SEPARATOR not in literal
    )


def _slot_literal(node: StrMatch | Glob) -> tuple[str, str] | None:
    """``(column, literal)`` of a string test, or None where it gives no usable literal."""
    literal = _literal(node)
    return (_column(node.field), literal) if _searchable(node.field, literal) else None


# Python's parser reads the regex to find its required literals, but Polars runs it with
# Rust's engine: where the two dialects differ (POSIX and nested classes, set operations,
# word-boundary escapes, verbose mode) no literal is taken, and the rule simply runs on
# every row.
sre: Any = importlib.import_module("re._parser")  # the parser behind ``re``; no public API
_DIALECT_TRAPS = ("\\<", "\\>", "(?x", "\\p", "\\P")
# Inside a character class only: Rust reads ``&&``, ``--`` and ``~~`` as set operations and
# ``[`` as a nested (or POSIX) class, where Python reads text. Outside one, both read text
# (``cmd.exe /c a && b``).
_CLASS_TRAPS = ("&&", "--", "~~", "[")


def _class_texts(pattern: str) -> list[str] | None:
    r"""What each character class of ``pattern`` holds; None where one is not closed.

    A ``]`` first in a class (after ``[`` or ``[^``) is a member in both dialects.

    >>> _class_texts(r"a[^]x\]]b[c-e]&&")
    [']x\\]', 'c-e']
    """
    texts = []
    at = 0
    while at < len(pattern):
        if pattern[at] == "\\":
            at += 2
            continue
        if pattern[at] != "[":
            at += 1
            continue
        start = at + 1 + pattern.startswith("^", at + 1)
        end = start + pattern.startswith("]", start)
        while end < len(pattern) and pattern[end] != "]":
            end += 2 if pattern[end] == "\\" else 1
        if end >= len(pattern):
            return None
        texts.append(pattern[start:end])
        at = end + 1
    return texts


def _dialect_trap(pattern: str) -> bool:
    """Whether Rust's engine may read ``pattern`` otherwise than Python's parser does."""
    if any(trap in pattern for trap in _DIALECT_TRAPS):
        return True
    texts = _class_texts(pattern)
    return texts is None or any(trap in text for text in texts for trap in _CLASS_TRAPS)


@lru_cache(maxsize=4096)
def regex_literals(pattern: str) -> frozenset[str] | None:
    """Lower-cased literals of which one must occur wherever ``pattern`` matches.

    None when the regex guarantees no literal of at least ``MIN_LENGTH`` bytes (each
    pattern is parsed once: calibration asks again for every rule set it picks for).

    >>> sorted(regex_literals(r"(?i)cmd.{0,5}/c.+(?:certutil|bitsadmin)"))
    ['bitsadmin', 'certutil']
    >>> regex_literals(r"\\w+`\\w+`") is None
    True
    """
    if _dialect_trap(pattern):
        return None
    try:
        parsed = sre.parse(pattern)
    except (re.error, RecursionError, OverflowError):
        return None
    return _sequence_literals(list(parsed))


def _sequence_literals(items: list[tuple[Any, Any]]) -> frozenset[str] | None:
    """The most selective requirement of a concatenation of parsed regex items."""
    best: frozenset[str] | None = None

    def offer(found: frozenset[str] | None) -> None:
        nonlocal best
        if found and (best is None or _weakest(found) > _weakest(best)):
            best = found

    run: list[str] = []
    for op, av in [*items, (None, None)]:
        if op is sre.LITERAL and av < 128:
            run.append(chr(av).lower())
            continue
        offer(frozenset({"".join(run)}) if _bytes("".join(run)) >= MIN_LENGTH else None)
        run = []
        if op is sre.SUBPATTERN:
            offer(_sequence_literals(list(av[-1])))
        elif op in (sre.MAX_REPEAT, sre.MIN_REPEAT) and av[0] >= 1:
            offer(_sequence_literals(list(av[2])))
        elif op is sre.BRANCH:
            branches = [_sequence_literals(list(b)) for b in av[1]]
            if all(branches):
                offer(frozenset().union(*(b for b in branches if b)))
    return best


def _bytes(literal: str) -> int:
    return len(literal.encode("utf-8"))


def _weakest(literals: frozenset[str]) -> tuple[int, int]:
    # Prefer the set whose shortest literal is longest, then the smaller set.
    return (min(_bytes(lit) for lit in literals), -len(literals))


def static_cost(column: str, literal: str) -> float:
    """Cost before calibration: longer literals are assumed to hit fewer rows.

    >>> static_cost("Image", "certutil.exe") < static_cost("CommandLine", "-ur")
    True
    """
    return 1.0 / len(literal.encode("utf-8"))


def pattern_literals(node: Node) -> Iterator[tuple[str, str]]:
    """Every (column, literal) pair that could serve in a pattern of ``node``.

    >>> from detect.ir import StrKind
    >>> list(pattern_literals(And((StrMatch("Image", StrKind.SUFFIX, "\\\\Cmd.exe"),
    ...                            StrMatch("CommandLine", StrKind.CONTAINS, "c")))))
    [('Image', '\\\\cmd.exe')]
    """
    match node:
        case StrMatch() | Glob():
            pair = _slot_literal(node)
            if pair is not None:
                yield pair
        case Regex(field=field, pattern=pattern):
            for literal in regex_literals(pattern) or ():
                if field is not None or TEXT_SEPARATOR not in literal:
                    yield (_column(field), literal)
        case And(children) | Or(children):
            for child in children:
                yield from pattern_literals(child)
        case _:
            return


def _cheapest(node: Node, cost: Cost) -> tuple[float, Slot] | None:
    """The slot of least cost that ``node`` needs, or None when it needs none."""
    match node:
        case StrMatch() | Glob():
            pair = _slot_literal(node)
            return None if pair is None else (cost(*pair), frozenset({pair}))
        case Regex(field=field, pattern=pattern):
            literals = regex_literals(pattern)
            if literals is None or (field is None and any(TEXT_SEPARATOR in x for x in literals)):
                return None
            column = _column(field)
            return sum(cost(column, lit) for lit in literals), frozenset(
                (column, lit) for lit in literals
            )
        case And(children):
            found = [s for c in children if (s := _cheapest(c, cost)) is not None]
            return min(found, key=lambda s: s[0], default=None)
        case Or(children):
            total, union = 0.0, set[tuple[str, str]]()
            for child in children:
                slot = _cheapest(child, cost)
                if slot is None:
                    return None
                total += slot[0]
                union |= slot[1]
            return total, frozenset(union)
        case Const(value=False):
            return 0.0, frozenset()
        case _:
            return None


def choose_pattern(
    node: Node,
    cost: Cost = static_cost,
    *,
    second_slot: bool = True,
    drop_above: float | None = None,
) -> Pattern:
    """The pattern to search for ``node``: one slot, or two for a costly top-level AND.

    An empty tuple means the rule has no pattern and runs on every row; so does a pattern
    whose cost is above ``drop_above`` (with sampled shares: one that would hit most rows).

    >>> from detect.ir import StrKind
    >>> rule = And((StrMatch("Image", StrKind.SUFFIX, "\\\\cmd.exe"),
    ...             StrMatch("CommandLine", StrKind.CONTAINS, "-encodedcommand")))
    >>> share = {"\\\\cmd.exe": 0.2, "-encodedcommand": 0.01}
    >>> choose_pattern(rule, lambda column, literal: share[literal])
    (frozenset({('CommandLine', '-encodedcommand')}), frozenset({('Image', '\\\\cmd.exe')}))
    >>> choose_pattern(rule, lambda column, literal: share[literal], second_slot=False)
    (frozenset({('CommandLine', '-encodedcommand')}),)
    """
    # A top-level AND's children are costed once, for its best slot and its second one.
    found = (
        [s for c in node.children if (s := _cheapest(c, cost)) is not None]
        if isinstance(node, And)
        else []
    )
    best = min(found, key=lambda s: s[0], default=None) if found else _cheapest(node, cost)
    if best is None or (drop_above is not None and best[0] > drop_above):
        return ()
    if not best[1] or not second_slot or not isinstance(node, And) or best[0] <= 0:
        return (best[1],)
    others = sorted((s for s in found if s[1] != best[1]), key=lambda s: s[0])
    if others and best[0] > SECOND_SLOT_ABOVE and others[0][0] < SECOND_SLOT_BELOW:
        return (best[1], others[0][1])
    return (best[1],)
