"""Candidate rows: where the fast patterns of a rule set occur in a batch.

A rule's fast pattern (:mod:`detect.patterns`) is a conjunction of slots; rules often share
a slot (``\\svchost.exe`` in ``Image`` or ``svchost.exe`` in ``OriginalFileName``) or a
whole pattern. The index below numbers each distinct slot once and groups the rules that
share a pattern, so one batch's search yields (row, slot) pairs, not (row, rule, slot)
triples, and each group of rules gets its candidate rows once:

1. one Aho-Corasick pass per column over all the literals of that column (a column whose
   values repeat is searched once per distinct value and the hits fanned out to its rows;
   a column whose literals are rare is first narrowed to the rows any of them occurs in,
   by one regular expression, see :meth:`CandidateIndex.with_prefilters`);
2. the rows of each slot, from every column it names;
3. the rows of each pattern: those of its one slot, or the rows every slot hit.
"""

from __future__ import annotations

import copy
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence, Set
from dataclasses import dataclass
from functools import lru_cache

import polars as pl

from detect.patterns import Pattern, Slot
from detect.regexes import literal_alternation

__all__ = [
    "ONE_STEP_ROWS",
    "PREFILTER_MAX_BYTES",
    "REPETITIVE_MIN_ROWS",
    "SLICE_ROWS",
    "CandidateIndex",
    "RuleGroup",
]

# A column whose values rarely repeat is searched in slices of at least this many rows.
SLICE_ROWS = 50_000
# A frame shorter than this is searched in one step (:meth:`CandidateIndex.pairs`): the
# per-column queries and the per-slot steps cost more than they save.
ONE_STEP_ROWS = 20_000
# A column's literals narrow it by one regular expression only up to this many bytes in
# all: the expression is compiled at every search, about 0.25 ms a kilobyte here (SigmaHQ's
# 351 hash literals of process_creation: 17 KB, 4 ms).
PREFILTER_MAX_BYTES = 32 << 10
# In a shorter frame (a small batch, or a batch's distinct rows) a repetitive column is
# searched row by row too: grouping its values costs more than it saves.
REPETITIVE_MIN_ROWS = 10_000


@dataclass(frozen=True, slots=True)
class RuleGroup:
    """Rules that share one fast pattern, given by the numbers of its slots."""

    slots: tuple[int, ...]
    rules: tuple[int, ...]


class CandidateIndex:
    """The fast patterns of a rule set, indexed for one multi-pattern search per column.

    >>> index = CandidateIndex([
    ...     (frozenset({("Image", "\\\\cmd.exe")}),),
    ...     (frozenset({("Image", "\\\\cmd.exe")}),),
    ...     (),
    ... ])
    >>> [(g.slots, g.rules) for g in index.groups], index.unfiltered
    ([((0,), (0, 1))], (2,))
    >>> lowered = pl.DataFrame({"Image": [r"c:\\x.exe", r"c:\\windows\\cmd.exe"]})
    >>> [(g.rules, rows.to_list()) for g, rows in index.search(lowered, str, set())]
    [((0, 1), [1])]
    """

    def __init__(self, patterns: Sequence[Pattern]) -> None:
        self.patterns: tuple[Pattern, ...] = tuple(patterns)
        self.unfiltered: tuple[int, ...] = tuple(i for i, p in enumerate(patterns) if not p)
        by_pattern: dict[Pattern, list[int]] = defaultdict(list)
        for index, pattern in enumerate(patterns):
            if pattern:
                by_pattern[pattern].append(index)
        numbers: dict[Slot, int] = {}
        for pattern in by_pattern:
            for slot in pattern:
                numbers.setdefault(slot, len(numbers))
        self.slots: tuple[Slot, ...] = tuple(numbers)  # by number
        self.groups: tuple[RuleGroup, ...] = tuple(
            RuleGroup(tuple(sorted({numbers[s] for s in p})), tuple(rules))
            for p, rules in by_pattern.items()
        )
        # A slot with several literals can be hit more than once on a row.
        self._repeatable = {n for slot, n in numbers.items() if len(slot) > 1}
        entries: dict[str, set[tuple[str, int]]] = defaultdict(set)
        for slot, number in numbers.items():
            for column, literal in _needed(slot):
                entries[column].add((literal, number))
        self.tables: dict[str, tuple[list[str], pl.DataFrame]] = {
            column: (
                sorted({literal for literal, _ in pairs}),
                pl.DataFrame(
                    sorted(pairs),
                    schema={"literal": pl.String, "slot": pl.UInt32},
                    orient="row",
                ),
            )
            for column, pairs in entries.items()
        }
        self._literals = (
            pl.concat(
                table.with_columns(pl.lit(column).alias("column"))
                for column, (_, table) in self.tables.items()
            )
            if self.tables
            else pl.DataFrame(schema={"literal": pl.String, "slot": pl.UInt32, "column": pl.String})
        )
        # Each slot of each group, and how many slots the group needs: (row, slot) pairs
        # become (row, group) pairs by one join and one count, for :meth:`pairs`.
        self._needs = pl.DataFrame(
            [(s, g, len(group.slots)) for g, group in enumerate(self.groups) for s in group.slots],
            schema={"slot": pl.UInt32, "group": pl.UInt32, "need": pl.UInt32},
            orient="row",
        )
        # Where a column's text is ASCII, a literal with any other character cannot occur
        # in it: the ASCII literals of each column that has others (half of SigmaHQ's
        # process_creation literals on CommandLine are emoji and other non-ASCII text).
        self._ascii: dict[str, list[str]] = {
            column: [literal for literal in literals if literal.isascii()]
            for column, (literals, _) in self.tables.items()
            if not all(literal.isascii() for literal in literals)
        }
        # Columns searched only on the rows their regular expression finds (see below),
        # and the expression for the column's ASCII literals.
        self.prefilters: dict[str, str] = {}
        self._ascii_prefilters: dict[str, str] = {}
        # What each search hands Polars, built at the first (see _searched).
        self._series: dict[tuple[str, bool], pl.Series] = {}

    def with_prefilters(self, columns: Iterable[str]) -> CandidateIndex:
        """The same index, ``columns`` first narrowed to the rows any of their literals hit.

        The narrowing is one regular expression, the alternation of a column's literals:
        where the literals share a few prefixes (``sha256=``, ``imphash=``) and their first
        bytes are common, Polars' Aho-Corasick search scans without skipping (60-100 MB/s
        here) while the regex engine skips to the prefixes (6x faster on SigmaHQ's hash
        literals). It pays only where few rows hold any literal: the Aho-Corasick pass
        still runs on those. The candidates are the same either way: a row holds one of
        the literals exactly where the alternation matches it.
        """
        index = copy.copy(self)
        index.prefilters = {}
        index._ascii_prefilters = {}
        for column in columns:
            if column not in self.tables:
                continue
            literals = self.tables[column][0]
            if sum(len(literal.encode()) for literal in literals) > PREFILTER_MAX_BYTES:
                continue
            index.prefilters[column] = literal_alternation(literals)
            index._ascii_prefilters[column] = (
                literal_alternation(self._ascii[column])
                if column in self._ascii
                else index.prefilters[column]
            )
        return index

    def all_ascii(self, column: str) -> bool:
        """Whether every literal searched for in ``column`` is ASCII (or none is)."""
        return column not in self._ascii

    def literals(self, column: str, ascii_text: bool) -> list[str]:
        """The literals searched for in ``column``: only the ASCII ones in ASCII text."""
        if ascii_text and column in self._ascii:
            return self._ascii[column]
        return self.tables[column][0]

    def _searched(self, column: str, ascii_text: bool) -> pl.Series:
        """:meth:`literals` as the value a search is given, built once.

        Polars turns a list of patterns into a Series at every call: 0.75 ms a batch for
        SigmaHQ's process_creation literals, against 0.07 ms from Series kept here.
        """
        key = (column, ascii_text and column in self._ascii)
        found = self._series.get(key)
        if found is None:
            # One row holding the list: Polars reads a list of patterns as one value.
            listed = pl.Series([self.literals(*key)], dtype=pl.List(pl.String))
            found = self._series[key] = listed
        return found

    def search(
        self,
        frame: pl.DataFrame,
        lowered: Callable[[str], str],
        repetitive: Set[str],
        one_step_rows: int = ONE_STEP_ROWS,
        ascii_text: Set[str] = frozenset(),
    ) -> list[tuple[RuleGroup, pl.Series]]:
        """Each group with candidates, and its candidate rows (``row``, u32, unique).

        ``lowered(column)`` names the lower-cased text of a column in ``frame``; columns
        in ``repetitive`` are searched once per distinct value; the lower-cased text of
        the columns in ``ascii_text`` is ASCII throughout ``frame``.
        """
        if frame.height < one_step_rows:
            pairs = self.pairs(frame, lowered, ascii_text).sort("row")
            by_group = pairs.partition_by("group", as_dict=True, include_key=False)
            found_rows = {int(key[0]): part.to_series() for key, part in by_group.items()}
            return [
                (group, found_rows[number])
                for number, group in enumerate(self.groups)
                if number in found_rows
            ]
        queries = []
        for column, (_, table) in self.tables.items():
            if _all_null(frame, lowered(column)):
                continue  # no literal occurs in a null (most of a family's fields)
            ascii_only = column in ascii_text
            if not self.literals(column, ascii_only):
                continue
            literals = self._searched(column, ascii_only)
            if column in repetitive and frame.height >= REPETITIVE_MIN_ROWS:
                queries.append(_column_hits(frame, lowered(column), literals, table, True))
                continue
            prefilters = self._ascii_prefilters if ascii_only else self.prefilters
            prefilter = prefilters.get(column)
            # One search per slice of rows, so the longest column is searched on every core.
            step = max(SLICE_ROWS, -(-frame.height // pl.thread_pool_size()))
            queries.extend(
                _column_hits(
                    frame.slice(start, step),
                    lowered(column),
                    literals,
                    table,
                    False,
                    prefilter=prefilter,
                ).with_columns(pl.col("row") + start)
                for start in range(0, max(frame.height, 1), step)
            )
        if not queries:
            return []
        hits = pl.concat(pl.collect_all(queries))
        rows_of: dict[int, pl.Series] = {}
        for (slot,), part in hits.partition_by("slot", as_dict=True, include_key=False).items():
            rows = part.to_series()
            rows_of[int(slot)] = rows.unique() if slot in self._repeatable else rows
        found: list[tuple[RuleGroup, pl.Series]] = []
        for group in self.groups:
            if any(s not in rows_of for s in group.slots):
                continue
            parts = sorted((rows_of[s] for s in group.slots), key=len)
            rows = parts[0]
            for other in parts[1:]:
                rows = rows.filter(rows.is_in(other.implode()))
            if len(rows):
                found.append((group, rows.sort()))
        return found

    def pairs(
        self,
        frame: pl.DataFrame,
        lowered: Callable[[str], str],
        ascii_text: Set[str] = frozenset(),
    ) -> pl.DataFrame:
        """Every (``row``, ``group``) where the group's pattern occurs, in one query.

        ``group`` numbers :attr:`groups`. The same candidates as :meth:`search` gives,
        with no per-column or per-slot step: for a short frame, where the fixed cost
        of each query is most of the work.
        """
        searched = {
            column: self._searched(column, column in ascii_text)
            for column in self.tables
            if self.literals(column, column in ascii_text) and not _all_null(frame, lowered(column))
        }
        if not searched:
            return pl.DataFrame(schema={"row": pl.UInt32, "group": pl.UInt32})
        # Eager steps: a short frame costs less than planning a lazy query does.
        found = frame.select(
            pl.int_range(pl.len(), dtype=pl.UInt32).alias("row"),
            *(
                pl.col(lowered(column)).str.extract_many(literals, overlapping=True).alias(column)
                for column, literals in searched.items()
            ),
        )
        hits = (
            found.unpivot(index="row", variable_name="column", value_name="literal")
            .explode("literal")
            .join(self._literals, on=["column", "literal"])
            .select("row", "slot")
        )
        counted = (
            hits.unique()
            .join(self._needs, on="slot")
            .group_by("row", "group")
            .agg(pl.len().alias("hit"), pl.col("need").first())
        )
        return counted.filter(pl.col("hit") == pl.col("need")).select("row", "group")


def _all_null(frame: pl.DataFrame, column: str) -> bool:
    """Whether ``column`` of ``frame`` holds no value at all (a field the family lacks)."""
    return frame.get_column(column).null_count() == frame.height


# A calibrated index shares most slots with the static one built before it (924 of
# 1,064 at SigmaHQ's process_creation rules): each is worked out once.
@lru_cache(maxsize=8192)
def _needed(slot: Slot) -> Slot:
    """The literals of a slot that the search needs: not those holding another one.

    Text holding ``-urlcache -f`` holds ``-urlcache``: a slot with both is hit exactly
    where ``-urlcache`` occurs, and the longer literal only makes the automaton larger.

    >>> sorted(_needed(frozenset({("c", "-urlcache"), ("c", "-urlcache -f"), ("d", "-f x")})))
    [('c', '-urlcache'), ('d', '-f x')]
    """
    by_column: dict[str, list[str]] = defaultdict(list)
    for column, literal in slot:
        by_column[column].append(literal)
    needed: list[tuple[str, str]] = []
    for column, literals in by_column.items():
        # Shortest first: a literal holding another one holds a kept one (the shortest
        # it holds), and only a shorter one, so testing against the kept shorter ones is
        # enough (hashes, all of one length, test nothing).
        shorter = _Kept()
        same_length: list[str] = []
        for literal in sorted(literals, key=len):
            if same_length and len(same_length[0]) < len(literal):
                shorter.extend(same_length)
                same_length = []
            if not shorter.any_in(literal):
                same_length.append(literal)
                needed.append((column, literal))
    return frozenset(needed)


class _Kept:
    """Literals kept so far, all shorter than the ones asked about, by length too."""

    def __init__(self) -> None:
        self.all: list[str] = []
        self.by_length: dict[int, set[str]] = {}

    def extend(self, literals: list[str]) -> None:
        self.all.extend(literals)
        for literal in literals:
            self.by_length.setdefault(len(literal), set()).add(literal)

    def any_in(self, text: str) -> bool:
        """Whether ``text`` holds one of them.

        Each one is tried, or each of ``text``'s substrings of their lengths looked up,
        whichever is fewer: thousands of hashes of three lengths take a few dozen lookups
        instead of thousands of searches.
        """
        size = len(text)
        windows = sum(size - length + 1 for length in self.by_length)
        if windows < len(self.all):
            return any(
                text[start : start + length] in kept
                for length, kept in self.by_length.items()
                for start in range(size - length + 1)
            )
        return any(other in text for other in self.all)


def _column_hits(
    frame: pl.DataFrame,
    column: str,
    literals: pl.Series,
    table: pl.DataFrame,
    repetitive: bool,
    *,
    prefilter: str | None = None,
) -> pl.LazyFrame:
    """(row, slot) pairs of one column; a pair may repeat when a slot has several literals.

    With ``prefilter`` (the alternation of ``literals``), only the rows it matches are
    searched for which literals they hold.
    """
    search = pl.col(column).str.extract_many(literals, overlapping=True).list.unique()
    rows = frame.lazy().select(column).with_row_index("row")
    if prefilter is not None:
        rows = rows.filter(pl.col(column).str.contains(prefilter))
    if repetitive:
        # Search each distinct value once, then fan the hits out to its rows.
        return (
            rows.group_by(column)
            .agg("row")
            .with_columns(search.alias("literal"))
            .filter(pl.col("literal").list.len() > 0)
            .explode("literal")
            .join(table.lazy(), on="literal")
            .unique([column, "slot"])
            .select("row", "slot")
            .explode("row")
        )
    return (
        rows.with_columns(search.alias("literal"))
        .filter(pl.col("literal").list.len() > 0)
        .select("row", "literal")
        .explode("literal")
        .join(table.lazy(), on="literal")
        .select("row", "slot")
    )
