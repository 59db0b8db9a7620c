"""MITRE ATT&CK tactic, technique, group and software names from Sigma rule tags.

Sigma tags a rule with ``attack.<tactic-shortname>`` (``attack.execution``),
``attack.t1059`` / ``attack.t1059.001`` (technique / sub-technique), ``attack.g0032``
(group) and ``attack.s0002`` (software). :func:`attack_columns` turns a column of tag
lists into ECS ``threat.*`` columns with the names from a small table shipped in
``enrich/data/attack.csv``. A technique, group or software id missing from the table
keeps its id with a null name; a sub-technique also lists its parent technique (as ECS
does); tactic short names missing from the table, and tags outside ``attack.``, are left
out. Tactics are written as Sigma writes them today (``defense-evasion``); the older
``defense_evasion`` spelling is accepted too.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Final

import polars as pl

from enrich.errors import SourceFileError

__all__ = [
    "ATTACK_COLUMNS",
    "DEFAULT_ATTACK",
    "AttackCatalog",
    "attack_columns",
    "load_attack",
    "tag_attack",
]

DEFAULT_ATTACK: Final = Path(__file__).resolve().parent / "data" / "attack.csv"
"""The bundled table: every enterprise tactic, and the techniques our rules and SigmaHQ's
process_creation rules use most."""

_KINDS: Final = {
    "tactic": "threat.tactic",
    "technique": "threat.technique",
    "subtechnique": "threat.technique.subtechnique",
    "group": "threat.group",
    "software": "threat.software",
}
ATTACK_COLUMNS: Final = (
    "threat.framework",
    *(f"{prefix}.{part}" for prefix in _KINDS.values() for part in ("id", "name")),
)
"""Columns :func:`attack_columns` returns, in this order."""

_LIST: Final = pl.List(pl.String())


@dataclass(frozen=True, slots=True)
class AttackCatalog:
    """``key`` (lower-case tag without ``attack.``), ``kind``, ``id`` and ``name``."""

    entries: pl.DataFrame


def load_attack(path: Path = DEFAULT_ATTACK) -> AttackCatalog:
    """Read an ``id,kind,shortname,name`` table (tactics are keyed by short name and id).

    Raises
    ------
    SourceFileError
        The file cannot be read or lacks those columns.
    """
    try:
        table = pl.read_csv(
            path, schema=dict.fromkeys(("id", "kind", "shortname", "name"), pl.String())
        )
    except (OSError, pl.exceptions.PolarsError) as error:
        raise SourceFileError(f"{path}: cannot read the ATT&CK table: {error}") from error
    by_id = table.filter(pl.col("id").is_not_null()).select(
        pl.col("id").str.to_lowercase().alias("key"), "kind", "id", "name"
    )
    by_shortname = table.filter(pl.col("shortname").is_not_null()).select(
        pl.col("shortname").str.to_lowercase().alias("key"), "kind", "id", "name"
    )
    entries = pl.concat([by_id, by_shortname]).unique("key", keep="first", maintain_order=True)
    return AttackCatalog(entries)


def attack_columns(tags: pl.Series, catalog: AttackCatalog) -> pl.DataFrame:
    """ECS ``threat.*`` columns for each list of Sigma tags (one output row per input row).

    Lists that are empty, because a row has no tag of that kind, come out as null, and so
    does ``threat.framework`` (``MITRE ATT&CK``) for a row without any ATT&CK tag.

    Examples
    --------
    >>> tags = pl.Series([["attack.execution", "attack.t1059.001", "attack.t9999"], None])
    >>> attack_columns(tags, load_attack()).row(0, named=True)
    {'threat.framework': 'MITRE ATT&CK', 'threat.tactic.id': ['TA0002'], \
'threat.tactic.name': ['Execution'], 'threat.technique.id': ['T1059', 'T9999'], \
'threat.technique.name': ['Command and Scripting Interpreter', None], \
'threat.technique.subtechnique.id': ['T1059.001'], \
'threat.technique.subtechnique.name': ['PowerShell'], 'threat.group.id': None, \
'threat.group.name': None, 'threat.software.id': None, 'threat.software.name': None}
    """
    rows = pl.DataFrame({"tags": tags.cast(_LIST)}).with_row_index("i")
    key = pl.col("tag").str.strip_prefix("attack.")
    kind = (
        pl.when(key.str.contains(r"^t\d{4}\.\d{3}$"))
        .then(pl.lit("subtechnique"))
        .when(key.str.contains(r"^t\d{4}$"))
        .then(pl.lit("technique"))
        .when(key.str.contains(r"^g\d{4}$"))
        .then(pl.lit("group"))
        .when(key.str.contains(r"^s\d{4}$"))
        .then(pl.lit("software"))
        .otherwise(pl.lit("tactic"))
    )
    tagged = (
        rows.explode("tags")
        .select(
            "i",
            pl.col("tags")
            .str.strip_chars()
            .str.to_lowercase()
            .str.replace_all("_", "-")
            .alias("tag"),
        )
        .filter(pl.col("tag").str.starts_with("attack."))
        .select("i", key.alias("key"), kind.alias("kind"))
    )
    parents = tagged.filter(pl.col("kind") == "subtechnique").select(
        "i",
        pl.col("key").str.split(".").list.first().alias("key"),
        pl.lit("technique").alias("kind"),
    )
    entries = catalog.entries.select("key", pl.col("id").alias("known_id"), "name")
    found = (
        pl.concat([tagged, parents])
        .join(entries, on="key", how="left", maintain_order="left")
        .with_columns(
            id=pl.when(pl.col("kind") == "tactic")
            .then(pl.col("known_id"))
            .otherwise(pl.coalesce("known_id", pl.col("key").str.to_uppercase()))
        )
        .filter((pl.col("kind") != "tactic") | pl.col("name").is_not_null())
        .unique(["i", "kind", "id", "name"], maintain_order=True)
        .sort("i", pl.col("kind"), "id", maintain_order=True, nulls_last=True)
    )
    result = rows.select("i")
    for name, prefix in _KINDS.items():
        lists = (
            found.filter(pl.col("kind") == name)
            .group_by("i", maintain_order=True)
            .agg(pl.col("id").alias(f"{prefix}.id"), pl.col("name").alias(f"{prefix}.name"))
        )
        result = result.join(lists, on="i", how="left", maintain_order="left")
    framework = pl.when(pl.col("i").is_in(found.get_column("i").implode())).then(
        pl.lit("MITRE ATT&CK")
    )
    return result.with_columns(framework.alias("threat.framework")).select(
        pl.col(column).cast(pl.String() if column == "threat.framework" else _LIST)
        for column in ATTACK_COLUMNS
    )


def tag_attack(
    alerts: pl.DataFrame, catalog: AttackCatalog, *, tags: str = "rule.tags"
) -> pl.DataFrame:
    """Add :data:`ATTACK_COLUMNS` to alerts, worked out once per distinct tag list.

    Examples
    --------
    >>> alerts = pl.DataFrame({"rule.tags": [["attack.impact", "attack.t1490"]] * 2})
    >>> tag_attack(alerts, load_attack()).select("threat.tactic.name",
    ...                                           "threat.technique.name").rows()
    [(['Impact'], ['Inhibit System Recovery']), (['Impact'], ['Inhibit System Recovery'])]
    """
    key = pl.col(tags).cast(_LIST).list.join("\x1f").alias("_tags_key")
    distinct = alerts.select(pl.col(tags).cast(_LIST), key).unique("_tags_key", maintain_order=True)
    table = pl.concat(
        [distinct.select("_tags_key"), attack_columns(distinct.get_column(tags), catalog)],
        how="horizontal",
    )
    keys = alerts.select(key)
    joined = keys.join(table, on="_tags_key", how="left", maintain_order="left", nulls_equal=True)
    return alerts.with_columns(joined.drop("_tags_key"))
