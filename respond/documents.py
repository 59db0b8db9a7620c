"""Flat, dotted frame columns to the nested JSON documents Elasticsearch and files take."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

import polars as pl

__all__ = ["iter_documents", "nest"]


def nest(row: Mapping[str, Any]) -> dict[str, Any]:
    """Nest dotted keys into objects, leaving out nulls (ECS documents omit empty fields).

    Examples
    --------
    >>> nest({"event.kind": "alert", "rule.id": "r1", "rule.name": None, "message": "m"})
    {'event': {'kind': 'alert'}, 'rule': {'id': 'r1'}, 'message': 'm'}
    """
    document: dict[str, Any] = {}
    for key, value in row.items():
        if value is None:
            continue
        *parents, leaf = key.split(".")
        node = document
        for part in parents:
            child = node.get(part)
            if not isinstance(child, dict):
                child = node[part] = {}
            node = child
        node[leaf] = value
    return document


def iter_documents(frame: pl.DataFrame) -> Iterator[tuple[str, dict[str, Any]]]:
    """Each row as ``(_id, nested document)``; ``_id`` is not part of the document.

    Examples
    --------
    >>> frame = pl.DataFrame({"_id": ["a1"], "event.kind": ["alert"], "host.name": ["pc1"]})
    >>> list(iter_documents(frame))
    [('a1', {'event': {'kind': 'alert'}, 'host': {'name': 'pc1'}})]
    """
    for row in frame.iter_rows(named=True):
        identifier = row.pop("_id")
        yield str(identifier), nest(row)
