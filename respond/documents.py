"""Flat, dotted frame columns to the nested JSON documents Elasticsearch and files take."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

import polars as pl

__all__ = ["ColumnTree", "column_tree", "documents", "iter_documents", "nest"]

ColumnTree = dict[str, "ColumnTree | str"]
"""Dotted column names as nested objects: a leaf is the column's full name."""


def column_tree(columns: list[str]) -> ColumnTree | None:
    """The nesting of dotted names; None where a name is both a field and a parent.

    >>> column_tree(["a.b", "a.c", "d"])
    {'a': {'b': 'a.b', 'c': 'a.c'}, 'd': 'd'}
    >>> column_tree(["a", "a.b"]) is None
    True
    """
    root: ColumnTree = {}
    for column in columns:
        *parents, leaf = column.split(".")
        node = root
        for part in parents:
            child = node.setdefault(part, {})
            if isinstance(child, str):
                return None
            node = child
        if leaf in node:
            return None
        node[leaf] = column
    return root


Document = tuple[str, dict[str, Any]]


def nest(row: Mapping[str, Any]) -> dict[str, Any]:
    """Nest dotted keys into objects, leaving out nulls (ECS documents omit empty fields).

    Examples
    --------
    >>> nest({"event.kind": "alert", "rule.id": "r1", "rule.name": None, "message": "m"})
    {'event': {'kind': 'alert'}, 'rule': {'id': 'r1'}, 'message': 'm'}
    """
    paths = [(i, *_path(key)) for i, key in enumerate(row)]
    return _nested(tuple(row.values()), paths)


def iter_documents(frame: pl.DataFrame) -> Iterator[tuple[str, dict[str, Any]]]:
    """Each row as ``(_id, nested document)``; ``_id`` is not part of the document.

    Examples
    --------
    >>> frame = pl.DataFrame({"_id": ["a1"], "event.kind": ["alert"], "host.name": ["pc1"]})
    >>> list(iter_documents(frame))
    [('a1', {'event': {'kind': 'alert'}, 'host': {'name': 'pc1'}})]
    """
    columns = frame.columns
    if frame.height and "_id" not in columns:
        raise KeyError("_id")
    at = columns.index("_id") if "_id" in columns else -1
    # Each name is split once per frame, not once per row.
    paths = [(i, *_path(name)) for i, name in enumerate(columns) if i != at]
    for row in frame.iter_rows():
        yield str(row[at]), _nested(row, paths)


_Paths = list[tuple[int, tuple[str, ...], str]]


def _nested(values: tuple[Any, ...], paths: _Paths) -> dict[str, Any]:
    """One document from a row's values, each placed at its (parents, leaf) path."""
    document: dict[str, Any] = {}
    for i, parents, leaf in paths:
        value = values[i]
        if value is None:
            continue
        node = document
        for part in parents:
            child = node.get(part)
            if not isinstance(child, dict):
                child = node[part] = {}
            node = child
        node[leaf] = value
    return document


def _path(name: str) -> tuple[tuple[str, ...], str]:
    *parents, leaf = name.split(".")
    return tuple(parents), leaf


_RECENT: list[tuple[pl.DataFrame, list[Document]]] = []


def documents(frame: pl.DataFrame) -> list[Document]:
    """:func:`iter_documents` as a list, built once for the frame every sink is handed.

    The pipeline gives each sink the same batch; the last two frames' documents are kept
    (a batch's alerts and incidents), so the second sink does not nest them again. The
    documents are shared: callers must not change them.

    Examples
    --------
    >>> frame = pl.DataFrame({"_id": ["a1"], "event.kind": ["alert"]})
    >>> documents(frame) is documents(frame)
    True
    """
    for known, built in _RECENT:
        if known is frame:
            return built
    built = list(iter_documents(frame))
    _RECENT[:] = [*_RECENT[-1:], (frame, built)]
    return built
