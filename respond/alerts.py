"""Detection matches to ECS alert documents, one row per (event, rule) match.

An alert carries every column of the event that triggered it (they are already flat,
dotted ECS names), plus the fields that make it an alert. Where the two clash, the alert
wins and the event's value moves under ``neakta.original.``, the way Elastic's detection
engine keeps the source event's ``event.*`` in ``kibana.alert.original_event.*``:

==========================  ==============================================================
alert column                value
==========================  ==============================================================
``_id``                     BLAKE2b-128 hex of ``rule.id``, NUL, the event's id
``event.kind``              ``alert``
``event.id``                the alert's ``_id``
``event.severity``          1 / 21 / 47 / 73 / 99 for informational ... critical
``event.risk_score``        severity, + a step for the asset's criticality (see below)
``event.ingested``          the ``ingested`` argument (time is a parameter)
``rule.*``, ``tags``        the Sigma rule's id, title, description, author, references,
                            level, status, tags
``message``                 ``<rule title> on <host.name, else source.ip, else unknown>``
``neakta.original.<name>``  the event's own ``event.id``, ``event.kind``,
                            ``event.severity``, ``event.risk_score``, ``event.ingested``,
                            ``message``, ``rule.*`` (a firewall's policy) and ``tags``
==========================  ==============================================================

The event's own id is ``event.id`` when the event has one, else a hash of
``event.original``, else a hash of the whole row (sorted keys, JSON): so the alert ``_id``
of a replayed event is the same. ``@timestamp`` stays the event's time (alerts and
incidents are windowed on event time); the processing time is ``event.ingested``.

Columns other stages add (``organization.id``, ``neakta.asset.*``, ``threat.*``,
``*.geo.*``) travel through unchanged.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Final

import orjson
import polars as pl

from detect import CompiledRule, CompiledRuleSet
from ingest.schema import TIMESTAMP
from respond.sinks import SinkBatch

__all__ = [
    "CRITICALITY_STEP",
    "SEVERITY",
    "alert_id",
    "build_alerts",
    "rule_metadata",
    "simple_alerts",
]

SEVERITY: Final[dict[str, int]] = {
    "informational": 1,
    "low": 21,
    "medium": 47,
    "high": 73,
    "critical": 99,
}
"""ECS ``event.severity`` for each Sigma level."""

CRITICALITY_STEP: Final[dict[str, float]] = {
    "low": -10.0,
    "medium": 0.0,
    "high": 10.0,
    "critical": 20.0,
}
"""What ``neakta.asset.criticality`` adds to the risk score (clipped to 0..100)."""

_OWNED: Final = (
    "event.id",
    "event.kind",
    "event.severity",
    "event.risk_score",
    "event.ingested",
    "message",
    "tags",
)
_ORIGINAL: Final = "neakta.original."


def alert_id(rule_id: str, event_id: str) -> str:
    """The deterministic ``_id`` of the alert a rule raised on an event.

    Examples
    --------
    >>> alert_id("r1", "e1")
    '3bc2a2af53ecef0abd1ef2d0734ef932'
    """
    digest = hashlib.blake2b(f"{rule_id}\x00{event_id}".encode(), digest_size=16)
    return digest.hexdigest()


def rule_metadata(rules: Sequence[CompiledRule]) -> pl.DataFrame:
    """The ``rule.*`` columns of each compiled rule, keyed by ``rule_index``.

    Examples
    --------
    >>> rule_metadata([]).columns[:3]
    ['rule_index', 'rule.id', 'rule.uuid']
    """
    text = pl.String()
    names = pl.List(pl.String())
    return pl.DataFrame(
        {
            "rule_index": [r.index for r in rules],
            "rule.id": [r.id for r in rules],
            "rule.uuid": [r.id for r in rules],
            "rule.name": [r.title for r in rules],
            "rule.description": [r.description or None for r in rules],
            "rule.author": [[r.author] if r.author else None for r in rules],
            "rule.reference": [list(r.references) or None for r in rules],
            "rule.ruleset": ["sigma" for _ in rules],
            "rule.category": [r.logsource[0] for r in rules],
            "neakta.rule.level": [r.level for r in rules],
            "neakta.rule.status": [r.status or None for r in rules],
            "tags": [list(r.tags) or None for r in rules],
        },
        schema={
            "rule_index": pl.UInt32(),
            "rule.id": text,
            "rule.uuid": text,
            "rule.name": text,
            "rule.description": text,
            "rule.author": names,
            "rule.reference": names,
            "rule.ruleset": text,
            "rule.category": text,
            "neakta.rule.level": text,
            "neakta.rule.status": text,
            "tags": names,
        },
    )


def _utc(moment: datetime) -> datetime:
    """A naive datetime is taken to be UTC already."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _row_json(row: dict[str, object]) -> str:
    present = {k: v for k, v in row.items() if v is not None}
    return orjson.dumps(present, option=orjson.OPT_SORT_KEYS, default=str).decode()


def _event_ids(events: pl.DataFrame) -> pl.Series:
    """Each event's own id: ``event.id``, else a hash of its text, else of its row."""
    ids = (
        events["event.id"].cast(pl.String)
        if "event.id" in events.columns
        else pl.Series([None] * events.height, dtype=pl.String)
    )
    missing = ids.is_null()
    if not missing.any():
        return ids.alias("id")
    rows = events.filter(missing)
    originals = (
        rows["event.original"].cast(pl.String).to_list()
        if "event.original" in rows.columns
        else [None] * rows.height
    )
    fallback = [
        hashlib.blake2b(
            (original if original is not None else _row_json(row)).encode(), digest_size=16
        ).hexdigest()
        for row, original in zip(rows.iter_rows(named=True), originals, strict=True)
    ]
    filled = iter(fallback)
    return pl.Series(
        "id", [next(filled) if value is None else value for value in ids.to_list()], pl.String
    )


def build_alerts(
    events: pl.DataFrame,
    matches: pl.DataFrame,
    rules: Sequence[CompiledRule] | pl.DataFrame,
    *,
    ingested: datetime,
) -> pl.DataFrame:
    """Turn detection matches into alert rows (flat ECS columns and a ``_id``).

    Parameters
    ----------
    events
        The batch the rules ran on (flat ECS columns).
    matches
        ``CompiledRuleSet.evaluate(events)``: ``row`` and ``rule_index`` are used.
    rules
        The rule set's ``rules``, or a frame from :func:`rule_metadata` (``rule_index``
        plus the columns to copy into each alert; it must have ``rule.id``, ``rule.name``
        and ``neakta.rule.level``).
    ingested
        The processing time, written to ``event.ingested``.

    Returns
    -------
    polars.DataFrame
        One row per match, in the order of ``matches``.

    Examples
    --------
    >>> from datetime import UTC, datetime
    >>> events = pl.DataFrame({"event.id": ["e1"], "host.name": ["pc1"]})
    >>> matches = pl.DataFrame({"row": [0], "rule_index": [0]}, schema_overrides={
    ...     "row": pl.UInt32, "rule_index": pl.UInt32})
    >>> rules = pl.DataFrame({"rule_index": [0], "rule.id": ["r1"], "rule.name": ["Mimikatz"],
    ...     "neakta.rule.level": ["high"]}, schema_overrides={"rule_index": pl.UInt32})
    >>> alerts = build_alerts(events, matches, rules, ingested=datetime(2026, 1, 1, tzinfo=UTC))
    >>> alerts.select("_id", "event.severity", "message", "neakta.original.event.id").row(0)
    ('3bc2a2af53ecef0abd1ef2d0734ef932', 73, 'Mimikatz on pc1', 'e1')
    """
    meta = rules if isinstance(rules, pl.DataFrame) else rule_metadata(rules)
    triggered = events.select(pl.all().gather(matches["row"]))
    triggered = triggered.with_columns(_event_ids(triggered).alias("_event_id"))
    clashing = [c for c in triggered.columns if c in _OWNED or c.startswith("rule.")]
    triggered = triggered.rename({c: _ORIGINAL + c for c in clashing})
    joined = triggered.with_columns(
        rule_index=matches["rule_index"].cast(pl.UInt32), _order=pl.int_range(pl.len())
    ).join(meta.with_columns(pl.col("rule_index").cast(pl.UInt32)), on="rule_index", how="left")
    joined = joined.sort("_order")
    ids = [
        alert_id(rule, event)
        for rule, event in zip(joined["rule.id"], joined["_event_id"], strict=True)
    ]
    severity = (
        pl.col("neakta.rule.level")
        .str.to_lowercase()
        .replace_strict(SEVERITY, default=SEVERITY["medium"], return_dtype=pl.Int64)
    )
    risk = severity.cast(pl.Float64)
    if "neakta.asset.criticality" in joined.columns:
        step = (
            pl.col("neakta.asset.criticality")
            .cast(pl.String)
            .str.to_lowercase()
            .replace_strict(CRITICALITY_STEP, default=0.0, return_dtype=pl.Float64)
        )
        risk = (risk + step).clip(0.0, 100.0)
    entity = pl.coalesce(
        *(pl.col(c).cast(pl.String) for c in ("host.name", "source.ip") if c in joined.columns),
        pl.lit("unknown"),
    )
    alerts = joined.with_columns(
        pl.Series("_id", ids, dtype=pl.String),
        pl.Series("event.id", ids, dtype=pl.String),
        pl.lit("alert").alias("event.kind"),
        severity.alias("event.severity"),
        risk.alias("event.risk_score"),
        pl.lit(_utc(ingested), dtype=TIMESTAMP).alias("event.ingested"),
        pl.concat_str(pl.col("rule.name"), pl.lit(" on "), entity).alias("message"),
    )
    own = [
        "_id",
        *(["@timestamp"] if "@timestamp" in alerts.columns else []),
        "event.kind",
        "event.id",
        "event.severity",
        "event.risk_score",
        "event.ingested",
        "message",
        *(c for c in meta.columns if c != "rule_index"),
    ]
    rest = [
        c for c in alerts.columns if c not in own and c not in {"_event_id", "_order", "rule_index"}
    ]
    return alerts.select(*own, *rest)


def simple_alerts(
    events: pl.DataFrame, matches: pl.DataFrame, ruleset: CompiledRuleSet
) -> SinkBatch:
    """One alert per match: the event's columns plus the rule and a deterministic ``_id``.

    The plain alternative to :func:`build_alerts` (no ``neakta.original.*``, no enrichment):
    the event keeps its own ``event.id``, and ``_id`` is :func:`alert_id` of the rule's and
    the event's ids.

    Examples
    --------
    >>> rules = CompiledRuleSet.from_yaml('''
    ... title: Whoami
    ... id: 6f8a4c1e-0d7b-4c8a-9a51-3c2f3b6e9d10
    ... logsource: {category: process_creation, product: windows}
    ... detection: {selection: {CommandLine|contains: whoami}, condition: selection}
    ... level: high
    ... ''', pipeline="none")
    >>> events = pl.DataFrame({"event.id": ["e1", "e2"], "CommandLine": ["ls", "whoami /all"]})
    >>> alerts = simple_alerts(events, rules.evaluate(events), rules).alerts
    >>> alerts.select("event.id", "rule.name", "event.severity", "event.kind").rows()
    [('e2', 'Whoami', 73, 'alert')]
    >>> alerts["_id"].item() == alert_id("6f8a4c1e-0d7b-4c8a-9a51-3c2f3b6e9d10", "e2")
    True
    """
    if matches.height == 0:
        return SinkBatch()
    rules = {rule.index: rule for rule in ruleset.rules}
    index = matches.get_column("rule_index").to_list()
    picked = events[matches.get_column("row")]
    rule_ids = matches.get_column("rule_id")
    event_ids = (
        picked.get_column("event.id")
        if "event.id" in picked.columns
        else pl.Series([None] * picked.height, dtype=pl.String)
    )
    pairs = zip(rule_ids.fill_null("").to_list(), event_ids.fill_null("").to_list(), strict=True)
    alerts = picked.with_columns(
        pl.Series("_id", [alert_id(rule, event) for rule, event in pairs], dtype=pl.String),
        pl.lit("alert").alias("event.kind"),
        rule_ids.alias("rule.id"),
        matches.get_column("rule_title").alias("rule.name"),
        pl.Series("rule.description", [rules[i].description for i in index], dtype=pl.String),
        matches.get_column("level")
        .replace_strict(SEVERITY, default=SEVERITY["medium"], return_dtype=pl.Int64)
        .alias("event.severity"),
        matches.get_column("rule_title").alias("message"),
    )
    return SinkBatch(alerts=alerts.select("_id", pl.exclude("_id")))
