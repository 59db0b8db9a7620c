"""A small boolean algebra that Sigma detections compile to.

The Polars backend turns pySigma's condition tree into these nodes; from them we build
``pl.Expr`` (see :mod:`detect.expressions`) and read the literals the engine uses as fast
patterns (see :func:`required_literals`). Keeping this step separate lets the engine reason
about a rule (which literal must occur for it to match) without inspecting Polars
expressions.

String matching is case-insensitive unless ``cased`` is set: patterns are stored
lower-cased and compared with the lower-cased column.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import TypeAlias

__all__ = [
    "ALL_TEXT",
    "TEXT_SEPARATOR",
    "WILDCARD_ANY",
    "WILDCARD_ONE",
    "And",
    "BoolEq",
    "Cidr",
    "Compare",
    "Const",
    "Exists",
    "FieldRef",
    "Glob",
    "IsNull",
    "Node",
    "Not",
    "NumEq",
    "Or",
    "Regex",
    "StrKind",
    "StrMatch",
    "TimePart",
    "fields_of",
    "make_and",
    "make_or",
    "required_literals",
    "requirement_options",
]


class StrKind(Enum):
    """How a literal string value is compared with a field."""

    EQ = "eq"
    PREFIX = "prefix"
    SUFFIX = "suffix"
    CONTAINS = "contains"


# Glob parts: literal text, or one of these two wildcard markers.
WILDCARD_ANY = "\x00*"
WILDCARD_ONE = "\x00?"

# A keyword (a test with no field) reads every text column. The engine joins them into one
# column under this name, TEXT_SEPARATOR between values: text that holds no separator
# occurs in the joined text exactly where it occurs in one of the values, so a keyword is
# one search and its literals a fast pattern like a field's.
ALL_TEXT = "__neakta_text"
TEXT_SEPARATOR = "\x1f"


@dataclass(frozen=True, slots=True)
class StrMatch:
    """``field`` compared with a literal (``field`` None: any string column, a keyword)."""

    field: str | None
    kind: StrKind
    value: str
    cased: bool = False


@dataclass(frozen=True, slots=True)
class Glob:
    """A value with wildcards inside it (``a*b?c``), matched against the whole field."""

    field: str | None
    parts: tuple[str, ...]
    cased: bool = False


@dataclass(frozen=True, slots=True)
class Regex:
    """An unanchored regular expression search (Rust regex syntax, flags as a prefix)."""

    field: str | None
    pattern: str


@dataclass(frozen=True, slots=True)
class NumEq:
    field: str | None
    number: int | float


@dataclass(frozen=True, slots=True)
class BoolEq:
    field: str
    value: bool


@dataclass(frozen=True, slots=True)
class Compare:
    """Numeric comparison; ``op`` is one of ``<``, ``<=``, ``>``, ``>=``, ``!=``."""

    field: str
    op: str
    number: int | float


@dataclass(frozen=True, slots=True)
class Cidr:
    field: str
    network: str


@dataclass(frozen=True, slots=True)
class IsNull:
    field: str


@dataclass(frozen=True, slots=True)
class Exists:
    field: str


@dataclass(frozen=True, slots=True)
class FieldRef:
    """``field`` equals (or starts/ends with, or contains) the value of ``other``."""

    field: str
    other: str
    kind: StrKind


@dataclass(frozen=True, slots=True)
class TimePart:
    """A part (minute, hour, day, week, month, year) of a timestamp field equals ``number``."""

    field: str
    part: str
    number: int


@dataclass(frozen=True, slots=True)
class Const:
    value: bool


@dataclass(frozen=True, slots=True)
class And:
    children: tuple[Node, ...]


@dataclass(frozen=True, slots=True)
class Or:
    children: tuple[Node, ...]


@dataclass(frozen=True, slots=True)
class Not:
    child: Node


Node: TypeAlias = (
    StrMatch
    | Glob
    | Regex
    | NumEq
    | BoolEq
    | Compare
    | Cidr
    | IsNull
    | Exists
    | FieldRef
    | TimePart
    | Const
    | And
    | Or
    | Not
)


def make_and(children: list[Node]) -> Node:
    """AND of children, flattened and with constants folded."""
    flat: list[Node] = []
    for child in children:
        if isinstance(child, Const):
            if not child.value:
                return Const(False)
            continue
        flat.extend(child.children if isinstance(child, And) else (child,))
    if not flat:
        return Const(True)
    return flat[0] if len(flat) == 1 else And(tuple(flat))


def make_or(children: list[Node]) -> Node:
    """OR of children, flattened and with constants folded."""
    flat: list[Node] = []
    for child in children:
        if isinstance(child, Const):
            if child.value:
                return Const(True)
            continue
        flat.extend(child.children if isinstance(child, Or) else (child,))
    if not flat:
        return Const(False)
    return flat[0] if len(flat) == 1 else Or(tuple(flat))


def fields_of(node: Node) -> set[str]:
    """Every field a node reads (keywords read no named field)."""
    match node:
        case And(children) | Or(children):
            return set().union(*(fields_of(c) for c in children))
        case Not(child):
            return fields_of(child)
        case Const():
            return set()
        case FieldRef(field, other, _):
            return {field, other}
        case _:
            return set() if node.field is None else {node.field}


# A rule's fast-pattern requirement: the rule can only match rows where at least one of
# these (field, lower-cased literal) pairs occurs as a substring. None: no such guarantee.
Requirement: TypeAlias = frozenset[tuple[str, str]] | None


def _literal_of(node: StrMatch | Glob) -> str:
    if isinstance(node, StrMatch):
        return node.value.lower()
    literal_parts = [p for p in node.parts if p not in (WILDCARD_ANY, WILDCARD_ONE)]
    return max(literal_parts, key=len, default="").lower()


def _weight(literal: str) -> int:
    # Bytes, not characters: a 4-byte emoji is as selective as a 4-letter word.
    return len(literal.encode("utf-8"))


def _score(req: frozenset[tuple[str, str]]) -> tuple[int, int]:
    # Prefer the alternative set whose weakest literal is longest (selective), then fewer.
    return (min((_weight(lit) for _, lit in req), default=1 << 30), -len(req))


def requirement_options(node: Node, min_length: int = 3) -> list[frozenset[tuple[str, str]]]:
    """Every literal set that works as ``node``'s fast pattern (best first, statically).

    At least one literal of any returned set must occur (lower-cased, in its column) for
    ``node`` to be true. An empty list means no such guarantee; a list holding the empty
    set means the node can never be true.

    >>> sel = And((StrMatch("Image", StrKind.SUFFIX, "certutil.exe"),
    ...            StrMatch("CommandLine", StrKind.CONTAINS, "-urlcache")))
    >>> requirement_options(sel)
    [frozenset({('Image', 'certutil.exe')}), frozenset({('CommandLine', '-urlcache')})]
    """
    match node:
        case StrMatch(field=str(field)) | Glob(field=str(field)):
            literal = _literal_of(node)
            return [frozenset({(field, literal)})] if _weight(literal) >= min_length else []
        case And(children):
            options = [o for c in children for o in requirement_options(c, min_length)]
            if any(not o for o in options):
                return [frozenset()]
            return sorted(set(options), key=_score, reverse=True)
        case Or(children):
            union: set[tuple[str, str]] = set()
            for child in children:
                child_options = requirement_options(child, min_length)
                if not child_options:
                    return []
                union |= child_options[0]
            return [frozenset(union)]
        case Const(value=False):
            return [frozenset()]
        case _:
            return []


def required_literals(node: Node, min_length: int = 3) -> Requirement:
    """Literals of which at least one must occur (lower-cased) for ``node`` to be true.

    Used to pick each rule's fast patterns, as signature IDS engines do: one multi-pattern
    pass per column finds candidate rows, and the full rule runs only on those.

    >>> required_literals(And((StrMatch("Image", StrKind.SUFFIX, "certutil.exe"),
    ...                        StrMatch("CommandLine", StrKind.CONTAINS, "-urlcache"))))
    frozenset({('Image', 'certutil.exe')})
    """
    options = requirement_options(node, min_length)
    return options[0] if options else None
