"""Turn detection nodes (:mod:`detect.ir`) into Polars expressions.

A missing or null field is simply no match, so ``not selection`` is true on events without
the field, as Sigma intends. Leaves may yield null for such a field: AND and OR follow
Kleene's logic, and for a formula without negation, reading null as false once at its root
gives what reading it as false at every leaf would. So null becomes false only at the root
and under each ``not``, one node each instead of one per leaf.

Columns are reached through a :class:`Columns` resolver. The default one casts and
lower-cases inline, which gives a self-contained expression per rule (what
``sigma convert -t polars`` prints); the engine passes a resolver that points at columns it
lower-cased once for all rules.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Protocol

import polars as pl

from detect.addresses import in_networks
from detect.folding import fold, fold_expr
from detect.ir import (
    TEXT_SEPARATOR,
    WILDCARD_ANY,
    WILDCARD_ONE,
    And,
    BoolEq,
    Cidr,
    Compare,
    Const,
    Exists,
    FieldRef,
    Glob,
    IsNull,
    Node,
    Not,
    NumEq,
    Or,
    Regex,
    StrKind,
    StrMatch,
    TimePart,
)
from detect.regexes import literal_alternation, trim_search_regex

__all__ = ["INTERNAL_PREFIX", "Columns", "InlineColumns", "glob_body", "glob_regex", "to_expr"]

INTERNAL_PREFIX = "__neakta_"


class Columns(Protocol):
    """Where the expression finds a field, as text and as case-folded text.

    A field that holds lists (``is_list``) gives lists of text: a test on it holds where
    it holds for some element.
    """

    def is_list(self, field: str) -> bool: ...

    def text(self, field: str) -> pl.Expr: ...

    def lower(self, field: str) -> pl.Expr: ...

    def any_text(self) -> pl.Expr: ...

    def any_lower(self) -> pl.Expr: ...

    def all_lower(self) -> pl.Expr | None:
        """The case-folded text of every text column joined (``ALL_TEXT``), or None."""
        ...


class InlineColumns:
    """Resolve fields straight from the frame, case-folding inline.

    ``lists`` names the fields that hold lists in the frames the expression will see.
    """

    def __init__(self, lists: frozenset[str] = frozenset()) -> None:
        self.lists = lists

    def is_list(self, field: str) -> bool:
        return field in self.lists

    def text(self, field: str) -> pl.Expr:
        if field in self.lists:
            return pl.col(field).cast(pl.List(pl.String))
        return pl.col(field).cast(pl.String)

    def lower(self, field: str) -> pl.Expr:
        if field in self.lists:
            return self.text(field).list.eval(fold_expr(pl.element()))
        return fold_expr(self.text(field))

    def any_text(self) -> pl.Expr:
        return pl.col(pl.String).exclude(f"^{INTERNAL_PREFIX}.*$")

    def any_lower(self) -> pl.Expr:
        return fold_expr(self.any_text())

    def all_lower(self) -> pl.Expr | None:
        return None


def _any_list(test: Callable[[pl.Expr], pl.Expr], *, lower: bool) -> pl.Expr:
    """A keyword test on the elements of every list-of-text column."""
    lists = pl.col(pl.List(pl.String)).exclude(f"^{INTERNAL_PREFIX}.*$")
    element = fold_expr(pl.element()) if lower else pl.element()
    return lists.list.eval(test(element).fill_null(False)).list.any()


def _on(
    c: Columns, field: str, test: Callable[[pl.Expr], pl.Expr], *, lower: bool = False
) -> pl.Expr:
    """``test`` on a field's text (case-folded if ``lower``); on any element of a list."""
    target = c.lower(field) if lower else c.text(field)
    if c.is_list(field):
        return target.list.eval(test(pl.element()).fill_null(False)).list.any()
    return test(target)


def glob_regex(parts: tuple[str, ...], *, lower: bool) -> str:
    """Regex for a wildcard value (``*`` any run, ``?`` one character), whole-value semantics.

    A leading or trailing ``*`` drops the anchor instead of adding ``.*``: the unanchored
    search lets the regex engine skip ahead with its literal prefilter.

    >>> glob_regex((WILDCARD_ANY, ">", WILDCARD_ONE, "%TEMP%", WILDCARD_ANY), lower=True)
    '(?s)>.%temp%'
    """
    head, body, tail = glob_body(parts, lower=lower, escape=pl.escape_regex)
    return "(?s)" + ("^" if head else "") + body + ("$" if tail else "")


def glob_body(
    parts: tuple[str, ...], *, lower: bool, escape: Callable[[str], str]
) -> tuple[bool, str, bool]:
    """A wildcard value's regex body, and whether it is anchored at its start and its end.

    ``escape`` quotes literal text for the regex dialect at hand (Rust's, Python's); ``.``
    stands for one character, which the caller makes match newlines too.

    >>> glob_body((WILDCARD_ANY, "a.b", WILDCARD_ONE), lower=True, escape=re.escape)
    (False, 'a\\\\.b.', True)
    """
    body = list(parts)
    head = tail = True
    if body and body[0] == WILDCARD_ANY:
        body, head = body[1:], False
    if body and body[-1] == WILDCARD_ANY:
        body, tail = body[:-1], False
    out = []
    for part in body:
        if part == WILDCARD_ANY:
            out.append(".*")
        elif part == WILDCARD_ONE:
            out.append(".")
        else:
            out.append(escape(fold(part) if lower else part))
    return head, "".join(out), tail


def _string_test(target: pl.Expr, kind: StrKind, value: str) -> pl.Expr:
    match kind:
        case StrKind.EQ:
            return target == value
        case StrKind.PREFIX:
            return target.str.starts_with(value)
        case StrKind.SUFFIX:
            return target.str.ends_with(value)
        case StrKind.CONTAINS:
            return target.str.contains(value, literal=True)


_TIME_PARTS: dict[str, Callable[[pl.Expr], pl.Expr]] = {
    "minute": lambda e: e.dt.minute(),
    "hour": lambda e: e.dt.hour(),
    "day": lambda e: e.dt.day(),
    "week": lambda e: e.dt.week(),
    "month": lambda e: e.dt.month(),
    "year": lambda e: e.dt.year(),
}


def to_expr(node: Node, cols: Columns | None = None) -> pl.Expr:
    """Build the boolean Polars expression of a detection node.

    >>> from detect.ir import StrKind, StrMatch
    >>> frame = pl.DataFrame({"Image": [r"C:\\Windows\\System32\\CMD.exe", None]})
    >>> frame.select(to_expr(StrMatch("Image", StrKind.SUFFIX, r"\\cmd.exe")))["Image"].to_list()
    [True, False]
    """
    c = cols or InlineColumns()
    return _build(node, c).fill_null(False)


def _build_or(children: tuple[Node, ...], c: Columns) -> list[pl.Expr]:
    """OR-ed children; many literals, or networks, on one column become one test.

    Several ``contains`` become one Aho-Corasick search, several equalities one set
    lookup, several prefixes or suffixes one anchored regex: one expression node instead
    of dozens, which costs less to plan and run than the scan itself on a few rows.
    """
    groups: dict[tuple[str, StrKind, bool], list[StrMatch]] = {}
    networks: dict[str, list[str]] = {}
    searches: dict[tuple[str, bool], list[str]] = {}
    exprs: list[pl.Expr] = []
    for child in children:
        if isinstance(child, Glob) and child.field is not None:
            pattern = glob_regex(child.parts, lower=not child.cased)
            searches.setdefault((child.field, not child.cased), []).append(pattern)
        elif isinstance(child, Regex) and child.field is not None and _groupable(child.pattern):
            searches.setdefault((child.field, False), []).append(trim_search_regex(child.pattern))
        elif isinstance(child, Cidr):
            networks.setdefault(child.field, []).append(child.network)
        elif isinstance(child, StrMatch) and child.field is not None and child.value:
            groups.setdefault((child.field, child.kind, child.cased), []).append(child)
        else:
            exprs.append(_build(child, c))
    for (field, kind, cased), members in groups.items():
        if len(members) == 1:
            exprs.append(_build(members[0], c))
            continue
        values = [m.value if cased else fold(m.value) for m in members]
        exprs.append(_on(c, field, _any_of(kind, values), lower=not cased))
    exprs.extend(
        _on(c, field, lambda t, nets=nets: in_networks(t, nets))  # type: ignore[misc]
        for field, nets in networks.items()
    )
    for (field, lower), patterns in searches.items():
        for start in range(0, len(patterns), SEARCHES_PER_REGEX):
            either = _either(patterns[start : start + SEARCHES_PER_REGEX])
            exprs.append(_on(c, field, lambda t, e=either: t.str.contains(e), lower=lower))  # type: ignore[misc]
    return exprs


# Up to this many literals OR-ed on one column are searched with one regex, not with
# ``contains_any``.
LITERALS_PER_REGEX = 64
# Searches OR-ed on one column become one regex of at most this many alternatives.
SEARCHES_PER_REGEX = 32
_VERBOSE_FLAG = re.compile(r"\(\?[a-zA-Z-]*x")


def _groupable(pattern: str) -> bool:
    """Whether a rule's regex keeps its meaning as one alternative of a larger one.

    Inside ``(?:...)`` a regex's inline flags apply to it alone; verbose mode is left
    out, where a ``#`` comment would swallow the closing parenthesis.
    """
    return "#" not in pattern and _VERBOSE_FLAG.search(pattern) is None


def _either(patterns: list[str]) -> str:
    """One regex that matches where any of ``patterns`` does (a search, unanchored).

    >>> _either(["(?s)^a.b", "(?i)c$"])
    '(?:(?s)^a.b)|(?:(?i)c$)'
    """
    if len(patterns) == 1:
        return patterns[0]
    return "|".join(f"(?:{p})" for p in patterns)


def _any_of(kind: StrKind, values: list[str]) -> Callable[[pl.Expr], pl.Expr]:
    """One test for several values of one kind (``values`` already folded if need be)."""
    if kind is StrKind.CONTAINS:
        if len(values) > LITERALS_PER_REGEX:
            return lambda target: target.str.contains_any(values)
        # Polars builds an Aho-Corasick automaton per call of ``contains_any``; a regex
        # of the escaped literals finds the same values and costs a fraction of that.
        either = literal_alternation(values)
        return lambda target: target.str.contains(either)
    if kind is StrKind.EQ:
        return lambda target: target.is_in(values)
    # One anchored regex: its engine reads only the start or the end of a value.
    either = literal_alternation(values)
    anchored = f"^(?:{either})" if kind is StrKind.PREFIX else f"(?:{either})$"
    return lambda target: target.str.contains(anchored)


def _regex(field: str | None, pattern: str, c: Columns) -> pl.Expr:
    # A search: the trimmed pattern matches the same values, often much faster.
    search = trim_search_regex(pattern)
    if field is None:
        test = c.any_text().str.contains(search).fill_null(False)
        listed = _any_list(lambda t: t.str.contains(search), lower=False)
        return pl.any_horizontal(pl.lit(False), test, listed)
    return _on(c, field, lambda t: t.str.contains(search))


def _build(node: Node, c: Columns) -> pl.Expr:
    match node:
        case And(children):
            return pl.all_horizontal([_build(child, c) for child in children])
        case Or(children):
            return pl.any_horizontal(_build_or(children, c))
        case Not(child):
            # Null (a missing field) is no match, so ``not`` of it is true.
            return ~_build(child, c).fill_null(False)
        case Const(value):
            return pl.lit(value)
        case StrMatch(field, kind, value, cased):
            needle = value if cased else fold(value)
            if field is None:
                joined = None if cased or kind is not StrKind.CONTAINS else c.all_lower()
                if joined is not None and TEXT_SEPARATOR not in needle:
                    # One search of the joined text, not one per column.
                    test = joined.str.contains(needle, literal=True)
                else:
                    target = c.any_text() if cased else c.any_lower()
                    test = _string_test(target, kind, needle)
                listed = _any_list(lambda t: _string_test(t, kind, needle), lower=not cased)
                return pl.any_horizontal(pl.lit(False), test.fill_null(False), listed)
            return _on(c, field, lambda t: _string_test(t, kind, needle), lower=not cased)
        case Glob(field, parts, cased):
            pattern = glob_regex(parts, lower=not cased)
            if field is None:
                target = c.any_text() if cased else c.any_lower()
                test = target.str.contains(pattern).fill_null(False)
                listed = _any_list(lambda t: t.str.contains(pattern), lower=not cased)
                return pl.any_horizontal(pl.lit(False), test, listed)
            return _on(c, field, lambda t: t.str.contains(pattern), lower=not cased)
        case Regex(field, pattern):
            return _regex(field, pattern, c)
        case NumEq(field, number):
            if field is None:
                test = _number_test(number)(c.any_text()).fill_null(False)
                return pl.any_horizontal(pl.lit(False), test)
            return _on(c, field, _number_test(number)).fill_null(False)
        case BoolEq(field, value):
            word = "true" if value else "false"
            return _on(c, field, lambda t: t == word, lower=True).fill_null(False)
        case Compare(field, op, number):
            return _on(c, field, lambda t: _compare(t, op, number)).fill_null(False)
        case Cidr(field, network):
            return _on(c, field, lambda t: in_networks(t, [network]))
        case IsNull(field):
            return pl.col(field).is_null()
        case Exists(field):
            return pl.col(field).is_not_null()
        case FieldRef(field, other, kind):
            if c.is_list(field) or c.is_list(other):
                # Which elements of lists to compare is not defined: no match (one per row).
                return pl.col(field).is_null() & pl.lit(False)
            return _field_test(c.lower(field), kind, c.lower(other)).fill_null(False)
        case TimePart(field, part, number):

            def in_part(text: pl.Expr) -> pl.Expr:
                parsed = text.str.to_datetime(strict=False, time_unit="us")
                return _TIME_PARTS[part](parsed) == number

            return _on(c, field, in_part).fill_null(False)


def _number_test(number: int | float) -> Callable[[pl.Expr], pl.Expr]:
    if isinstance(number, int):
        return lambda target: target == str(number)
    return lambda target: target.cast(pl.Float64, strict=False) == number


def _compare(text: pl.Expr, op: str, number: int | float) -> pl.Expr:
    parsed = text.cast(pl.Float64, strict=False)
    match op:
        case "<":
            return parsed < number
        case "<=":
            return parsed <= number
        case ">":
            return parsed > number
        case ">=":
            return parsed >= number
        case _:
            return parsed != number


def _field_test(left: pl.Expr, kind: StrKind, right: pl.Expr) -> pl.Expr:
    match kind:
        case StrKind.EQ:
            return left == right
        case StrKind.PREFIX:
            return left.str.starts_with(right)
        case StrKind.SUFFIX:
            return left.str.ends_with(right)
        case StrKind.CONTAINS:
            return left.str.contains(right, literal=True)
