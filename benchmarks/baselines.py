"""What a SOC could pick instead of neakta, run on the same rules and events."""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Sequence

import polars as pl
from sigma.backends.sqlite.sqlite import sqliteBackend
from sigma.collection import SigmaCollection
from sigma.rule import SigmaRule

from detect import CompiledRuleSet, SourcedRule, resolve_pipeline
from detect.reference import reference_matches

__all__ = ["PerRuleFilter", "PythonMatcher", "SqliteMatcher"]


class PerRuleFilter:
    """One Polars ``filter`` per rule, each with its own inline lower-casing."""

    def __init__(self, ruleset: CompiledRuleSet) -> None:
        self.exprs = list(ruleset.expressions().values())
        self.fields = sorted({f for e in self.exprs for f in e.meta.root_names()})

    def count(self, frame: pl.DataFrame) -> int:
        """How many matches the baseline finds in ``frame``."""
        missing = [f for f in self.fields if f not in frame.columns]
        lazy = frame.lazy().with_columns(pl.lit(None, pl.String).alias(f) for f in missing)
        queries = [lazy.filter(e).select(pl.len()) for e in self.exprs]
        return sum(int(q.collect().item()) for q in queries)


def _regexp(pattern: str, value: object) -> bool:
    return value is not None and re.search(pattern, str(value)) is not None


class SqliteMatcher:
    """pySigma's SQLite backend: one SQL query per rule on an in-memory table."""

    def __init__(self, rules: Sequence[SourcedRule]) -> None:
        collection = SigmaCollection([r.rule for r in rules])
        backend = sqliteBackend(resolve_pipeline("none"), collect_errors=True)  # type: ignore[arg-type]
        self.queries = [q.replace("<TABLE_NAME>", "events") for q in backend.convert(collection)]
        self.failed = len(backend.errors)

    def count(self, frame: pl.DataFrame) -> int:
        """How many matches the baseline finds in ``frame``."""
        db = sqlite3.connect(":memory:")
        db.create_function("regexp", 2, _regexp, deterministic=True)
        columns = ", ".join(f'"{c}"' for c in frame.columns)
        db.execute(f"CREATE TABLE events ({columns})")
        marks = ", ".join("?" for _ in frame.columns)
        db.executemany(f"INSERT INTO events VALUES ({marks})", frame.iter_rows())
        total = 0
        for query in self.queries:
            try:
                total += len(db.execute(query).fetchall())
            except sqlite3.OperationalError:
                continue  # a column the events lack: no match, as in neakta
        db.close()
        return total


class PythonMatcher:
    """The plain-Python reference matcher: every rule on every event dict."""

    def __init__(self, rules: Sequence[SourcedRule]) -> None:
        self.rules = [r.rule for r in rules if isinstance(r.rule, SigmaRule)]

    def count(self, frame: pl.DataFrame) -> int:
        """How many matches the baseline finds in ``frame``."""
        rows = frame.to_dicts()
        return sum(len(reference_matches(rule, rows)) for rule in self.rules)
