"""Rules verified row by row in Python, on the few candidate rows a small batch leaves them.

On a batch of a thousand events, the rules whose fast patterns hit a few rows are most of
the verification's cost, and almost none of it is the rows: each Polars expression node
costs some 10-30 microseconds whatever the rows, and a SigmaHQ rule is dozens of nodes.
Here a rule is compiled once to a Python function over the candidate rows' values, which
costs per (rule, row) pair instead, about a microsecond for a rule of a few dozen tests.

The function reads the columns the engine prepared for the batch, as the Polars expression
of :mod:`detect.expressions` does: case-folded text for case-insensitive tests, the text of
the field (``cast(pl.String)``, so numbers compare as Polars writes them) for cased tests
and numbers, null-ness for ``exists``, and the boolean columns of shared conjuncts. A
missing or null value fails every test, and ``not`` of a failed test holds: the same truth
as the expressions, which read null as false at the root and under each ``not``.

Python tests string tests, wildcards (as Python regexes anchored like the Polars ones),
integers, booleans, ``exists`` and null tests, and ``and``/``or``/``not``. Any other test
of one field (a regex, whose Rust syntax Python does not share; a comparison, a network, a
field reference, a time part) is a *leaf test* (:class:`LeafTests`): its own Polars
expression, the one the rule's expression holds, runs once per batch on the rows the
programs verify, and the program reads its truth like a column. A keyword (a test of
every text field) has no program: such a rule is verified in Polars as before.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import polars as pl

from detect import ir
from detect.expressions import InlineColumns, glob_body, to_expr
from detect.folding import fold
from detect.plans import has_keywords, lowered_fields

__all__ = ["LeafTests", "RowProgram", "compile_program", "run_programs"]

# An input of a program: (kind, name). Kinds: "lower" (the engine's case-folded column of
# a field, read as it is), "text" (a field as text), "present" (whether a field is not
# null), "flag" (a shared conjunct's boolean column, read as it is), "test" (a leaf test's
# truth, see LeafTests).
Input = tuple[str, str]
Verify = Callable[..., list[int]]


@dataclass(frozen=True, slots=True)
class RowProgram:
    """One rule as a Python function: ``verify(positions, *columns)`` -> positions kept.

    ``inputs`` are the columns it reads, in the order it takes them.
    """

    inputs: tuple[Input, ...]
    verify: Verify


class _UnsupportedError(Exception):
    """A node the row-by-row programs do not compile."""


class _PreparedColumns(InlineColumns):
    """Case-folded text from the columns the engine prepared (``lowered(field)``)."""

    def __init__(self, lowered: Callable[[str], str]) -> None:
        super().__init__()
        self._lowered = lowered

    def lower(self, field: str) -> pl.Expr:
        return pl.col(self._lowered(field))


class LeafTests:
    """The leaf tests of a rule set's programs, each named once with its Polars expression.

    A leaf test is a test of one field that Python does not run (a regex, a comparison, a
    network, a field reference, a time part). Its expression is the one the rule's own
    expression holds for it (:func:`detect.expressions.to_expr`, reading case-folded text
    from ``lowered(field)``), with null read as false, as there; so a program reading its
    truth keeps the rule's. A leaf that several rules hold is one column per batch.

    >>> tests = LeafTests(lambda field: "lc_" + field)
    >>> name = tests.name(ir.Regex("CommandLine", "a.c"))
    >>> name == tests.name(ir.Regex("CommandLine", "a.c")), tests.columns(name)
    (True, ('CommandLine',))
    """

    def __init__(self, lowered: Callable[[str], str]) -> None:
        self._lowered = lowered
        self._cols = _PreparedColumns(lowered)
        self._names: dict[ir.Node, str] = {}
        self._tests: dict[str, tuple[pl.Expr, tuple[str, ...]]] = {}

    def name(self, node: ir.Node) -> str:
        """The name of the leaf's truth column (the same for an equal leaf)."""
        found = self._names.get(node)
        if found is None:
            found = self._names[node] = f"leaf{len(self._names)}"
            read = ir.fields_of(node) | {self._lowered(f) for f in lowered_fields(node)}
            self._tests[found] = (to_expr(node, self._cols), tuple(sorted(read)))
        return found

    def expr(self, name: str) -> pl.Expr:
        """The leaf's truth on a prepared frame (never null)."""
        return self._tests[name][0]

    def columns(self, name: str) -> tuple[str, ...]:
        """The columns of the prepared frame the leaf reads."""
        return self._tests[name][1]


class _Builder:
    def __init__(
        self,
        shared: Mapping[ir.Node, str],
        lowered: Callable[[str], str],
        tests: LeafTests | None,
    ) -> None:
        self.shared = shared
        self.lowered = lowered
        self.tests = tests
        self.inputs: dict[Input, str] = {}
        self.constants: dict[str, object] = {}

    def column(self, kind: str, name: str) -> str:
        key = (kind, name)
        if key not in self.inputs:
            self.inputs[key] = f"c{len(self.inputs)}"
        return f"{self.inputs[key]}[i]"

    def constant(self, value: object) -> str:
        name = f"k{len(self.constants)}"
        self.constants[name] = value
        return name

    def build(self, node: ir.Node) -> str:
        if node in self.shared:
            return self.column("flag", self.shared[node])
        match node:
            case ir.And(children):
                return "(" + " and ".join(self.build(c) for c in children) + ")"
            case ir.Or(children):
                return "(" + " or ".join(self._either(children)) + ")"
            case ir.Not(child):
                return f"(not {self.build(child)})"
            case ir.Const(value):
                return repr(value)
            case ir.StrMatch(field=str(field), kind=kind, value=value, cased=cased):
                value_of = self._text(field, cased)
                return _string_test(value_of, kind, [value if cased else fold(value)], self)
            case ir.Glob(field=str(field), parts=parts, cased=cased):
                value_of = self._text(field, cased)
                pattern = self.constant(re.compile(glob_pattern(parts, lower=not cased), re.S))
                return f"({value_of} is not None and {pattern}.search({value_of}) is not None)"
            case ir.NumEq(field=str(field), number=int(number)) if not isinstance(number, bool):
                return f"{self.column('text', field)} == {str(number)!r}"
            case ir.BoolEq(field, value):
                return f"{self.column('lower', field)} == {'true' if value else 'false'!r}"
            case ir.Exists(field):
                return self.column("present", field)
            case ir.IsNull(field):
                return f"(not {self.column('present', field)})"
            case _:
                return self._leaf(node)

    def _leaf(self, node: ir.Node) -> str:
        """A test of one field that Python does not run: its truth, read as a column."""
        if self.tests is None or has_keywords(node):
            raise _UnsupportedError(type(node).__name__)
        return self.column("test", self.tests.name(node))

    def _text(self, field: str, cased: bool) -> str:
        return self.column("text", field) if cased else self.column("lower", field)

    def _either(self, children: tuple[ir.Node, ...]) -> list[str]:
        """OR-ed children; string tests of one kind on one column become one test."""
        groups: dict[tuple[str, ir.StrKind, bool], list[str]] = {}
        tests: list[str] = []
        for child in children:
            if (
                isinstance(child, ir.StrMatch)
                and child.field is not None
                and child not in self.shared
            ):
                value = child.value if child.cased else fold(child.value)
                groups.setdefault((child.field, child.kind, child.cased), []).append(value)
            else:
                tests.append(self.build(child))
        for (field, kind, cased), values in groups.items():
            tests.append(_string_test(self._text(field, cased), kind, values, self))
        return tests


def _string_test(value_of: str, kind: ir.StrKind, needles: list[str], builder: _Builder) -> str:
    """A test that holds where the value is kind-of any of ``needles`` (already folded)."""
    match kind:
        case ir.StrKind.EQ:
            if len(needles) == 1:
                return f"{value_of} == {needles[0]!r}"
            return f"{value_of} in {builder.constant(frozenset(needles))}"
        case ir.StrKind.PREFIX | ir.StrKind.SUFFIX:
            method = "startswith" if kind is ir.StrKind.PREFIX else "endswith"
            argument = repr(needles[0]) if len(needles) == 1 else repr(tuple(needles))
            return f"({value_of} is not None and {value_of}.{method}({argument}))"
        case ir.StrKind.CONTAINS:
            found = " or ".join(f"{n!r} in {value_of}" for n in needles)
            return f"({value_of} is not None and ({found}))"


def glob_pattern(parts: tuple[str, ...], *, lower: bool) -> str:
    r"""A Python regex for a wildcard value, matched (searched) against the whole value.

    As :func:`detect.expressions.glob_regex`, anchored with ``\A`` and ``\Z`` (Python's
    ``$`` would also match before a final newline); compiled with ``re.S``.

    >>> glob_pattern((ir.WILDCARD_ANY, "A.b", ir.WILDCARD_ONE), lower=True)
    'a\\.b.\\Z'
    """
    head, body, tail = glob_body(parts, lower=lower, escape=re.escape)
    return ("\\A" if head else "") + body + ("\\Z" if tail else "")


def compile_program(
    node: ir.Node,
    shared: Mapping[ir.Node, str],
    lowered: Callable[[str], str],
    tests: LeafTests | None = None,
) -> RowProgram | None:
    """The rule's program, or None where it holds a node that is verified in Polars only.

    ``shared`` names the boolean column of each shared conjunct; ``lowered(field)`` the
    case-folded column of a field; ``tests`` the rule set's leaf tests (None: a rule
    with a leaf test has no program).

    >>> rule = ir.And((ir.StrMatch("Image", ir.StrKind.SUFFIX, "\\\\CMD.exe"),
    ...                ir.Not(ir.StrMatch("CommandLine", ir.StrKind.CONTAINS, "/c"))))
    >>> program = compile_program(rule, {}, lambda field: "lc_" + field)
    >>> program.inputs
    (('lower', 'Image'), ('lower', 'CommandLine'))
    >>> program.verify([0, 1, 2], ["c:\\\\cmd.exe", "c:\\\\cmd.exe", None], ["/c dir", "", None])
    [1]
    """
    builder = _Builder(shared, lowered, tests)
    try:
        test = builder.build(node)
    except _UnsupportedError:
        return None
    names = ", ".join(builder.inputs.values())
    source = f"def verify(positions, {names}):\n    return [i for i in positions if {test}]\n"
    namespace: dict[str, object] = dict(builder.constants)
    exec(compile(source, "<rule program>", "exec"), namespace)
    verify = namespace["verify"]
    assert callable(verify)
    return RowProgram(tuple(builder.inputs), verify)


def _sources(key: Input, lowered: Callable[[str], str], tests: LeafTests | None) -> tuple[str, ...]:
    """The columns of the prepared frame an input is read from."""
    kind, name = key
    if kind == "test":
        assert tests is not None, "a program with a leaf test runs with its LeafTests"
        return tests.columns(name)
    return (lowered(name),) if kind == "lower" else (name,)


def _input_expr(key: Input, lowered: Callable[[str], str], tests: LeafTests | None) -> pl.Expr:
    kind, name = key
    if kind == "test":
        assert tests is not None
        return tests.expr(name).alias(f"{kind}:{name}")
    column = pl.col(_sources(key, lowered, tests)[0])
    if kind == "text":
        column = column.cast(pl.String)
    elif kind == "present":
        column = column.is_not_null()
    return column.alias(f"{kind}:{name}")


def run_programs(
    frame: pl.DataFrame,
    groups: Sequence[tuple[Sequence[tuple[int, RowProgram]], pl.Series]],
    lowered: Callable[[str], str],
    tests: LeafTests | None = None,
) -> pl.DataFrame:
    """(row, rule_index) where each group's rules hold on the group's rows.

    ``groups``: rules (index, program) and the rows (u32, sorted, unique) they run on.
    The rows any group needs are gathered once, each column a Python list; the leaf
    tests (``tests``, those the programs were compiled with) run in the same select.
    """
    if not groups:
        return pl.DataFrame(schema={"row": pl.UInt32, "rule_index": pl.UInt32})
    rows = pl.concat([rows for _, rows in groups]).unique().sort()
    keys = list(dict.fromkeys(k for rules, _ in groups for _, p in rules for k in p.inputs))
    sources = list(dict.fromkeys(c for k in keys for c in _sources(k, lowered, tests)))
    gathered = frame.select(sources)[rows].select(_input_expr(k, lowered, tests) for k in keys)
    values = {k: gathered.get_column(f"{k[0]}:{k[1]}").to_list() for k in keys}
    row_ids = rows.to_list()
    position = {row: n for n, row in enumerate(row_ids)}
    found_rows: list[int] = []
    found_rules: list[int] = []
    for rules, group_rows in groups:
        positions = [position[row] for row in group_rows.to_list()]
        for index, program in rules:
            kept = program.verify(positions, *(values[k] for k in program.inputs))
            found_rows.extend(row_ids[p] for p in kept)
            found_rules.extend([index] * len(kept))
    return pl.DataFrame(
        {"row": found_rows, "rule_index": found_rules},
        schema={"row": pl.UInt32, "rule_index": pl.UInt32},
    )
