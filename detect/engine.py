"""Compile a rule set once; evaluate it on each batch of events.

The strategy is the one signature IDS engines use. Every rule gets a *fast pattern*
(:mod:`detect.patterns`): one or two slots of lower-cased literals, and in each slot at
least one literal must occur in its column for the rule to match. Literals come from
string matches and from the required parts of regexes. Per batch:

1. each referenced string column is lower-cased once, shared by all rules;
2. one Aho-Corasick pass per column over all the fast patterns of that column gives the
   candidate (row, rule, slot) triples; a column whose values repeat (executable paths,
   hashes, users) is searched once per distinct value; a rule is a candidate on a row
   where every slot of its pattern was hit;
3. the full rule expressions run only on the candidate rows of the rules that have any;
4. rules without a usable fast pattern (short literals, numbers, negations) run on every row.

So the cost of most rules is one shared multi-pattern pass, not one scan each. On the first
batch, :meth:`CompiledRuleSet.calibrate` counts how often every literal occurs and picks
each rule's pattern by that count. The ``naive`` strategy (every rule's expression over
every row, in one lazy query) is kept as the baseline the benchmarks compare against.

Where the time still goes on SigmaHQ's 1,183 process_creation rules (README, Benchmarks):
rules whose only usable literals are common on Windows hosts (``\\svchost.exe``) verify
on a large share of rows, and a few rules have no literal at all. A rule whose columns
take few distinct combinations in the sample (executables, parents, users) is evaluated
once per distinct combination and joined back to its rows. Not done yet: evaluating an
AND's cheap parts first and the rest only on the rows that pass.
"""

from __future__ import annotations

import copy
import math
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

import polars as pl
from sigma.correlations import SigmaCorrelationRule
from sigma.exceptions import SigmaError
from sigma.rule import SigmaRule

from detect import ir
from detect.backend import PolarsBackend, UnsupportedFeatureError
from detect.expressions import INTERNAL_PREFIX, InlineColumns, to_expr
from detect.loader import RuleProblem, SourcedRule, line_of, parse_rules
from detect.patterns import USELESS_ABOVE, Pattern, choose_pattern, pattern_literals
from detect.pipelines import DEFAULT_PIPELINE, UNROUTED, resolve_pipeline

__all__ = ["MATCH_SCHEMA", "CompiledRule", "CompiledRuleSet", "Strategy"]

Strategy = Literal["fast", "naive"]

MATCH_SCHEMA: dict[str, pl.DataType] = {
    "row": pl.UInt32(),
    "rule_index": pl.UInt32(),
    "rule_id": pl.String(),
    "rule_title": pl.String(),
    "level": pl.String(),
}
_LOWER = f"{INTERNAL_PREFIX}lc_"
# A rule whose fast pattern hits more than this share of a batch runs on the whole batch:
# gathering most rows costs more than evaluating the rule on all of them.
DENSE_SHARE = 0.5
# A column whose sample has fewer distinct values than this share of its rows (executable
# paths, hashes, users) is searched once per distinct value instead of once per row.
REPETITIVE_SHARE = 0.5
# A rule whose columns can take at most this share of a sample's row count as distinct
# combinations (the product of each column's distinct values in the sample) is evaluated
# once per distinct combination and joined back to its rows.
DISTINCT_SHARE = 0.05


@dataclass(frozen=True, slots=True)
class CompiledRule:
    """A rule ready to run, with the metadata alerts need."""

    index: int
    id: str
    title: str
    level: str
    status: str
    tags: tuple[str, ...]
    description: str
    author: str
    references: tuple[str, ...]
    falsepositives: tuple[str, ...]
    logsource: tuple[str | None, str | None, str | None]
    path: str
    line: int
    node: ir.Node = field(repr=False)
    literals: tuple[tuple[str, str], ...] = field(repr=False)

    @property
    def pattern(self) -> Pattern:
        """The statically best fast pattern (empty: the rule runs on every row)."""
        return choose_pattern(self.node, second_slot=False)


class _EngineColumns(InlineColumns):
    """Lower-cased text comes from the columns the engine prepared once per batch."""

    def lower(self, field: str) -> pl.Expr:
        return pl.col(_LOWER + field)


def _metadata(rule: SigmaRule, index: int, path: str, line: int, node: ir.Node) -> CompiledRule:
    level = rule.level.name.lower() if rule.level else "medium"
    status = rule.status.name.lower() if rule.status else ""
    logsource = rule.logsource
    return CompiledRule(
        index=index,
        id=str(rule.id) if rule.id else f"{path}:{line}",
        title=rule.title or "",
        level=level,
        status=status,
        tags=tuple(str(t) for t in rule.tags or ()),
        description=rule.description or "",
        author=rule.author or "",
        references=tuple(rule.references or ()),
        falsepositives=tuple(rule.falsepositives or ()),
        logsource=(logsource.category, logsource.product, logsource.service),
        path=path,
        line=line,
        node=node,
        literals=tuple(dict.fromkeys(pattern_literals(node))),
    )


def _problem(source: SourcedRule, reason: str, detail: str) -> RuleProblem:
    rule = source.rule
    return RuleProblem(
        path=source.path,
        line=source.line,
        reason=reason,
        detail=detail,
        rule_id=str(rule.id) if rule.id else None,
        title=rule.title,
    )


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
        self._fields = sorted(set().union(*(ir.fields_of(r.node) for r in self.rules)))
        self._lowered = sorted(
            {f for r in self.rules for f in _lowered_fields(r.node)}
            | {f for r in self.rules for f, _ in r.literals}
        )
        cols = _EngineColumns()
        self._exprs = [to_expr(r.node, cols).alias(str(r.index)) for r in self.rules]
        self._needs = [
            sorted(ir.fields_of(r.node) | {_LOWER + f for f in _lowered_fields(r.node)})
            for r in self.rules
        ]
        self._keywords = [_has_keywords(r.node) for r in self.rules]
        self.calibrated = False
        self._repetitive: set[str] = set()
        self._per_distinct: set[int] = set()
        self._bases = [sorted(ir.fields_of(r.node) | _lowered_fields(r.node)) for r in self.rules]
        self._lowers = [sorted(_lowered_fields(r.node)) for r in self.rules]
        self._choose([r.pattern for r in self.rules])
        self._meta = pl.DataFrame(
            {
                "rule_index": [r.index for r in self.rules],
                "rule_id": [r.id for r in self.rules],
                "rule_title": [r.title for r in self.rules],
                "level": [r.level for r in self.rules],
            },
            schema={k: MATCH_SCHEMA[k] for k in ("rule_index", "rule_id", "rule_title", "level")},
        )

    def _choose(self, patterns: Sequence[Pattern]) -> None:
        """Install one fast pattern per rule and index its literals by column."""
        self._choice = list(patterns)
        self._unfiltered = [i for i, pattern in enumerate(self._choice) if not pattern]
        rows: dict[str, list[tuple[str, int, int]]] = defaultdict(list)
        for index, pattern in enumerate(self._choice):
            for slot_number, slot in enumerate(pattern):
                for column, literal in slot:
                    rows[column].append((literal, index, slot_number))
        self._patterns = {
            column: (
                sorted({literal for literal, _, _ in entries}),
                pl.DataFrame(
                    entries,
                    schema={"literal": pl.String, "rule_index": pl.UInt32, "slot": pl.UInt8},
                    orient="row",
                ),
            )
            for column, entries in rows.items()
        }
        self._slot_counts = pl.DataFrame(
            {
                "rule_index": range(len(self._choice)),
                "slots": [len(p) for p in self._choice],
            },
            schema={"rule_index": pl.UInt32, "slots": pl.UInt32},
        ).filter(pl.col("slots") > 1)

    def calibrate(self, events: pl.DataFrame, sample_rows: int = 20_000) -> dict[str, int]:
        """Re-pick each rule's fast pattern by how often its literals occur in real events.

        Counts, on a sample of ``events``, the rows hit by every literal any rule could
        use, and gives each rule the pattern expected to leave fewest candidate rows
        (``\\cmd.exe`` is a poor fast pattern on Windows hosts; ``-urlcache`` is a good
        one), with a second required slot where the first still leaves many rows.
        Results never change, only the work done. Returns the per-column hit totals.
        """
        sample = self._prepare(events.head(sample_rows))
        by_column: dict[str, set[str]] = defaultdict(set)
        for rule in self.rules:
            for column, literal in rule.literals:
                by_column[column].add(literal)
        frequency: dict[tuple[str, str], int] = {}
        for column, literals in by_column.items():
            counts = (
                sample.select(
                    pl.col(_LOWER + column)
                    .str.extract_many(sorted(literals), overlapping=True)
                    .list.unique()
                    .alias("literal")
                )
                .explode("literal")
                .drop_nulls()
                .group_by("literal")
                .len()
            )
            frequency.update(((column, lit), n) for lit, n in counts.iter_rows())
        rows = max(sample.height, 1)
        distinct = {column: sample[column].n_unique() for column in self._fields}
        self._per_distinct = {
            index
            for index, base in enumerate(self._bases)
            if base
            and not self._keywords[index]
            and math.prod(distinct[c] for c in base) <= DISTINCT_SHARE * rows
        }
        self._repetitive = {
            column
            for column in by_column
            if sample[_LOWER + column].n_unique() < REPETITIVE_SHARE * rows
        }

        def share(column: str, literal: str) -> float:
            # Never zero: a literal absent from the sample is rare, not free, and longer
            # literals still break ties.
            unseen = 0.1 / rows / len(literal.encode("utf-8"))
            return frequency.get((column, literal), 0) / rows + unseen

        self._choose([choose_pattern(r.node, share, drop_above=USELESS_ABOVE) for r in self.rules])
        self.calibrated = True
        totals: dict[str, int] = defaultdict(int)
        for (column, _), n in frequency.items():
            totals[column] += n
        return dict(totals)

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
        backend = PolarsBackend(resolve_pipeline(pipeline, placeholders))
        backend.init_processing_pipeline()
        compiled: list[CompiledRule] = []
        rejected: list[RuleProblem] = []
        for given in sources:
            source = given if isinstance(given, SourcedRule) else SourcedRule(given, "<memory>", 1)
            # pySigma's pipelines edit the rule they convert: work on a copy, so the same
            # parsed rules can be compiled again (another pipeline, another rule set).
            rule = copy.deepcopy(source.rule)
            if isinstance(rule, SigmaCorrelationRule):
                rejected.append(
                    _problem(source, "correlation rule", "correlation rules run on the stream")
                )
                continue
            try:
                node = backend.rule_node(rule)
            except UnsupportedFeatureError as error:
                rejected.append(_problem(source, error.reason, error.detail))
                continue
            except SigmaError as error:
                message = str(error).split(" (while ")[0]
                reason = UNROUTED.split(":")[0] if UNROUTED in message else type(error).__name__
                problem = _problem(source, reason, message)
                rejected.append(problem)
                continue
            compiled.append(_metadata(rule, len(compiled), source.path, source.line, node))
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
        sources: list[SourcedRule] = []
        problems: list[RuleProblem] = []
        for number, text in enumerate(documents):
            loaded = parse_rules(text, f"<yaml {number}>")
            sources.extend(loaded.rules)
            sources.extend(loaded.correlations)
            problems.extend(loaded.problems)
        ruleset = cls.compile(
            sources, pipeline=pipeline, placeholders=placeholders, strategy=strategy
        )
        ruleset.rejected = tuple(problems) + ruleset.rejected
        return ruleset

    # Inspecting -----------------------------------------------------------------------

    def expressions(self) -> dict[str, pl.Expr]:
        """One self-contained ``pl.Expr`` per rule id (inline lower-casing)."""
        return {r.id: to_expr(r.node).alias(r.id) for r in self.rules}

    @property
    def patterns(self) -> tuple[Pattern, ...]:
        """The fast pattern each rule runs with now (after calibration, if any)."""
        return tuple(self._choice)

    @property
    def fast_pattern_coverage(self) -> float:
        """Share of rules that have a fast pattern (the rest run on every row)."""
        with_pattern = sum(1 for r in self.rules if r.pattern)
        return with_pattern / len(self.rules) if self.rules else 1.0

    # Evaluating -----------------------------------------------------------------------

    def evaluate(self, events: pl.DataFrame) -> pl.DataFrame:
        """Every (row, rule) match of the batch, sorted by row then rule (``MATCH_SCHEMA``)."""
        if not self.rules or events.height == 0:
            return pl.DataFrame(schema=MATCH_SCHEMA)
        if self.strategy == "fast" and not self.calibrated:
            self.calibrate(events)
        frame = self._prepare(events)
        if self.strategy == "naive":
            pairs = _true_pairs(frame.lazy().select(self._exprs).collect(), None)
        else:
            pairs = pl.concat([self._run_unfiltered(frame), self._run_candidates(frame)])
        return (
            pairs.unique()
            .join(self._meta, on="rule_index", how="left")
            .sort("row", "rule_index")
            .select(list(MATCH_SCHEMA))
        )

    def _prepare(self, events: pl.DataFrame) -> pl.DataFrame:
        missing = [f for f in self._fields if f not in events.columns]
        frame = events.with_columns(pl.lit(None, dtype=pl.String).alias(f) for f in missing)
        return frame.with_columns(
            pl.col(f).cast(pl.String).str.to_lowercase().alias(_LOWER + f) for f in self._lowered
        )

    def _run_unfiltered(self, frame: pl.DataFrame) -> pl.DataFrame:
        if not self._unfiltered:
            return pl.DataFrame(schema={"row": pl.UInt32, "rule_index": pl.UInt32})
        by_distinct = [i for i in self._unfiltered if i in self._per_distinct]
        whole = [i for i in self._unfiltered if i not in self._per_distinct]
        found = pl.collect_all([self._distinct_query(frame, i, None) for i in by_distinct])
        if whole:
            result = frame.lazy().select(self._exprs[i] for i in whole).collect()
            found.append(_true_pairs(result, None))
        return pl.concat(found) if found else _NO_PAIRS.clear()

    def _distinct_query(
        self, frame: pl.DataFrame, index: int, rows: pl.Series | None
    ) -> pl.LazyFrame:
        """The rule on each distinct combination of its columns, joined back to the rows."""
        base = self._bases[index]
        source = frame.select(base) if rows is None else frame.select(base)[rows]
        row_ids = pl.int_range(pl.len(), dtype=pl.UInt32) if rows is None else pl.lit(rows)
        lowered = [
            pl.col(f).cast(pl.String).str.to_lowercase().alias(_LOWER + f)
            for f in self._lowers[index]
        ]
        hits = source.lazy().unique().with_columns(lowered).filter(self._exprs[index]).select(base)
        return (
            source.lazy()
            .with_columns(row_ids.alias("row"))
            .join(hits, on=base, nulls_equal=True)
            .select("row", pl.lit(index, dtype=pl.UInt32).alias("rule_index"))
        )

    def _candidates(self, frame: pl.DataFrame) -> pl.DataFrame:
        """(row, rule_index) pairs whose rows satisfy every slot of the rule's pattern."""
        found = []
        for column, (literals, table) in self._patterns.items():
            lowered = _LOWER + column
            search = pl.col(lowered).str.extract_many(literals, overlapping=True).list.unique()
            rows = frame.lazy().select(lowered).with_row_index("row")
            if column in self._repetitive:
                # Search each distinct value once, then fan the hits out to its rows.
                rows = rows.group_by(lowered).agg("row")
            hits = (
                rows.with_columns(search.alias("literal"))
                .filter(pl.col("literal").list.len() > 0)
                .select("row", "literal")
                .explode("literal")
                .join(table.lazy(), on="literal")
                .select("row", "rule_index", "slot")
            )
            if column in self._repetitive:
                hits = hits.unique().explode("row")
            found.append(hits)
        if not found:
            return pl.DataFrame(schema={"row": pl.UInt32, "rule_index": pl.UInt32})
        pairs = pl.concat(pl.collect_all(found)).unique()
        if self._slot_counts.height == 0:
            return pairs.select("row", "rule_index").unique()
        single = pairs.join(self._slot_counts, on="rule_index", how="anti")
        multi = (
            pairs.join(self._slot_counts, on="rule_index", how="semi")
            .group_by("row", "rule_index")
            .agg(pl.col("slot").n_unique().alias("hit"))
            .join(self._slot_counts, on="rule_index")
            .filter(pl.col("hit") == pl.col("slots"))
        )
        return pl.concat(
            [single.select("row", "rule_index").unique(), multi.select("row", "rule_index")]
        )

    def _run_candidates(self, frame: pl.DataFrame) -> pl.DataFrame:
        candidates = self._candidates(frame)
        if candidates.height == 0:
            return candidates
        queries = []
        dense: list[int] = []
        for (rule_index,), rows in (
            candidates.sort("row")
            .partition_by("rule_index", as_dict=True, include_key=False)
            .items()
        ):
            index = int(rule_index)
            if index in self._per_distinct:
                queries.append(self._distinct_query(frame, index, rows["row"]))
                continue
            if rows.height > DENSE_SHARE * frame.height:
                dense.append(index)
                continue
            columns = None if self._keywords[index] else self._needs[index]
            subset = (frame if columns is None else frame.select(columns))[rows["row"]]
            queries.append(
                subset.lazy()
                .select(rows["row"].alias("row"), self._exprs[index].alias("hit"))
                .filter("hit")
                .select("row", pl.lit(index, dtype=pl.UInt32).alias("rule_index"))
            )
        found = pl.collect_all(queries) if queries else []
        if dense:
            full = frame.lazy().select(self._exprs[i] for i in dense).collect()
            found.append(_true_pairs(full, None))
        return pl.concat(found)


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


def _has_keywords(node: ir.Node) -> bool:
    """Whether a node searches every text column (so it needs the whole frame)."""
    match node:
        case ir.And(children) | ir.Or(children):
            return any(_has_keywords(c) for c in children)
        case ir.Not(child):
            return _has_keywords(child)
        case ir.Const() | ir.BoolEq() | ir.Compare() | ir.Cidr() | ir.IsNull() | ir.Exists():
            return False
        case ir.FieldRef() | ir.TimePart():
            return False
        case _:
            return node.field is None


def _lowered_fields(node: ir.Node) -> set[str]:
    """Fields that some case-insensitive string test reads lower-cased."""
    match node:
        case ir.And(children) | ir.Or(children):
            return set().union(*(_lowered_fields(c) for c in children))
        case ir.Not(child):
            return _lowered_fields(child)
        case ir.StrMatch(field=str(f), cased=False) | ir.Glob(field=str(f), cased=False):
            return {f}
        case ir.BoolEq(field=f):
            return {f}
        case ir.FieldRef(field=f, other=o):
            return {f, o}
        case _:
            return set()


def problem_line(text: str, problem: RuleProblem) -> int:
    """Refine a problem's line by looking for its detail in the rule text."""
    return line_of(text, problem.detail[:60], problem.line)
