"""The ATT&CK matrix of the techniques seen, and the same as an ATT&CK Navigator layer.

Tactics (the matrix's columns, in kill-chain order) and names come from enrich's bundled
table (:func:`enrich.attack.load_attack`); which tactics a technique belongs to comes from
``respond/report/data/technique_tactics.csv`` (the enterprise matrix, for the techniques
that table names). A technique missing from it is placed under the tactics its alerts
were tagged with, so nothing seen is left out of the matrix.
"""

from __future__ import annotations

import csv
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import polars as pl

from enrich.attack import AttackCatalog

__all__ = [
    "NAVIGATOR_VERSIONS",
    "TECHNIQUE_TACTICS",
    "MatrixCell",
    "MatrixColumn",
    "attack_matrix",
    "load_technique_tactics",
    "navigator_layer",
]

TECHNIQUE_TACTICS: Final = Path(__file__).resolve().parent / "data" / "technique_tactics.csv"
NAVIGATOR_VERSIONS: Final = {"attack": "16", "navigator": "5.1.0", "layer": "4.5"}
"""The versions a layer names: ATT&CK content, Navigator application, layer format."""
_GRADIENT: Final = ["#fff3e0", "#fb8c00", "#b71c1c"]


@dataclass(frozen=True, slots=True)
class MatrixCell:
    """One technique under one tactic: its alert count and the sub-techniques seen."""

    id: str
    name: str | None
    count: int
    subtechniques: tuple[tuple[str, str | None, int], ...] = ()


@dataclass(frozen=True, slots=True)
class MatrixColumn:
    """One tactic and the techniques seen under it, most alerts first."""

    id: str
    shortname: str
    name: str
    cells: list[MatrixCell] = field(default_factory=list)


def load_technique_tactics(path: Path = TECHNIQUE_TACTICS) -> dict[str, tuple[str, ...]]:
    """``technique id -> tactic short names`` from a ``technique,tactics`` CSV."""
    with path.open(encoding="utf-8", newline="") as handle:
        return {row["technique"]: tuple(row["tactics"].split()) for row in csv.DictReader(handle)}


def _tactics(catalog: AttackCatalog) -> list[tuple[str, str, str]]:
    """(id, short name, name) of each tactic with an id, in the table's order."""
    entries = catalog.entries.filter(
        (pl.col("kind") == "tactic")
        & pl.col("id").is_not_null()
        & (pl.col("key") != pl.col("id").str.to_lowercase())
    )
    return [(row["id"], row["key"], row["name"]) for row in entries.iter_rows(named=True)]


def _names(catalog: AttackCatalog) -> dict[str, str]:
    entries = catalog.entries.filter(pl.col("id").is_not_null())
    return dict(zip(entries["id"], entries["name"], strict=True))


def attack_matrix(
    counts: pl.DataFrame,
    alert_tactics: Mapping[str, Sequence[str]],
    catalog: AttackCatalog,
    technique_tactics: Mapping[str, Sequence[str]],
) -> list[MatrixColumn]:
    """The matrix: every tactic of the catalog as a column, the techniques seen in it.

    Parameters
    ----------
    counts
        ``technique, count`` as :func:`respond.report.summary.technique_counts` gives.
    alert_tactics
        Technique id -> tactic ids its alerts were tagged with (for unmapped techniques).
    catalog
        Tactic and technique names.
    technique_tactics
        Technique id -> tactic short names.

    Examples
    --------
    >>> from enrich.attack import load_attack
    >>> counts = pl.DataFrame({"technique": ["T1059", "T1059.001"], "count": [3, 1]})
    >>> matrix = attack_matrix(counts, {}, load_attack(), {"T1059": ("execution",)})
    >>> [(c.name, [(t.id, t.count, t.subtechniques) for t in c.cells])
    ...  for c in matrix if c.cells]
    [('Execution', [('T1059', 3, (('T1059.001', 'PowerShell', 1),))])]
    """
    names = _names(catalog)
    tactics = _tactics(catalog)
    by_id = {tactic_id: shortname for tactic_id, shortname, _ in tactics}
    seen = dict(zip(counts["technique"], counts["count"], strict=True))
    parents = {t.split(".")[0] for t in seen}
    placed: dict[str, list[MatrixCell]] = {shortname: [] for _, shortname, _ in tactics}
    for parent in sorted(parents):
        subs = tuple(
            (sub, names.get(sub), seen[sub]) for sub in sorted(seen) if sub.startswith(f"{parent}.")
        )
        count = seen.get(parent, sum(n for _, _, n in subs))
        cell = MatrixCell(parent, names.get(parent), count, subs)
        columns = technique_tactics.get(parent) or [
            by_id[t] for t in alert_tactics.get(parent, ()) if t in by_id
        ]
        for shortname in columns:
            placed.setdefault(shortname, []).append(cell)
    return [
        MatrixColumn(
            tactic_id,
            shortname,
            name,
            sorted(placed[shortname], key=lambda c: (-c.count, c.id)),
        )
        for tactic_id, shortname, name in tactics
    ]


def navigator_layer(
    counts: pl.DataFrame,
    *,
    name: str,
    description: str,
    technique_tactics: Mapping[str, Sequence[str]] | None = None,
) -> dict[str, Any]:
    """An ATT&CK Navigator layer (format 4.5) scoring each technique by its alert count.

    A technique listed in ``technique_tactics`` gets one entry per tactic (the Navigator
    shows a technique under each tactic it has); others get one entry without a tactic.

    Examples
    --------
    >>> counts = pl.DataFrame({"technique": ["T1059", "T1105"], "count": [3, 1]})
    >>> layer = navigator_layer(counts, name="mef", description="7 days")
    >>> layer["versions"]["layer"], [(t["techniqueID"], t["score"]) for t in layer["techniques"]]
    ('4.5', [('T1059', 3), ('T1105', 1)])
    """
    mapping = technique_tactics or {}
    techniques: list[dict[str, Any]] = []
    for technique, count in counts.sort("technique").iter_rows():
        entry = {
            "techniqueID": technique,
            "score": int(count),
            "color": "",
            "comment": f"{count} alert(s)",
            "enabled": True,
            "metadata": [],
            "links": [],
            "showSubtechniques": "." not in technique,
        }
        tactics = mapping.get(technique.split(".")[0], ())
        techniques.extend([{**entry, "tactic": tactic} for tactic in tactics] or [entry])
    top = int(counts["count"].max() or 1) if counts.height else 1  # type: ignore[arg-type]
    return {
        "name": name,
        "versions": dict(NAVIGATOR_VERSIONS),
        "domain": "enterprise-attack",
        "description": description,
        "sorting": 3,
        "layout": {"layout": "side", "showID": True, "showName": True},
        "hideDisabled": False,
        "techniques": techniques,
        "gradient": {"colors": list(_GRADIENT), "minValue": 0, "maxValue": top},
        "legendItems": [],
        "metadata": [],
        "links": [],
        "showTacticRowBackground": False,
        "tacticRowBackground": "#dddddd",
        "selectTechniquesAcrossTactics": True,
        "selectSubtechniquesWithParent": False,
        "selectVisibleTechniques": False,
    }
