"""The bundled sample files in ``samples/data``: how each is made, and writing them."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from os import PathLike
from pathlib import Path
from typing import Final

import orjson

from samples.endpoint import generate_endpoint_events_with_labels
from samples.firewall import generate_firewall_lines_with_labels
from samples.web import generate_iis_lines_with_labels, generate_nginx_lines_with_labels

__all__ = [
    "BUNDLED",
    "DATA_DIR",
    "Bundled",
    "bundled_labels",
    "write_bundled",
    "write_lines",
    "write_ndjson",
]

DATA_DIR: Final = Path(__file__).resolve().parent / "data"
"""Where the bundled samples live (``samples/data``)."""


def _endpoint(count: int, seed: int) -> tuple[list[str], dict[int, str]]:
    events, labels = generate_endpoint_events_with_labels(count, seed=seed)
    return [orjson.dumps(event).decode() for event in events], labels


@dataclass(frozen=True, slots=True)
class Bundled:
    """One bundled sample: its file name, log family, line count and generator."""

    name: str
    family: str
    count: int
    generate: Callable[[int, int], tuple[list[str], dict[int, str]]]
    seed: int = 7

    def lines_with_labels(self) -> tuple[list[str], dict[int, str]]:
        """The file's lines and its attack labels (line index -> attack kind)."""
        return self.generate(self.count, self.seed)


BUNDLED: Final = (
    Bundled("sample_endpoint.ndjson", "endpoint", 3000, _endpoint),
    Bundled(
        "sample_firewall.log",
        "firewall",
        800,
        lambda count, seed: generate_firewall_lines_with_labels(count, seed=seed),
    ),
    Bundled(
        "sample_web_nginx.log",
        "web",
        1208,
        lambda count, seed: generate_nginx_lines_with_labels(count, seed=seed),
    ),
    Bundled(
        "sample_web_iis.log",
        "web",
        1001,
        lambda count, seed: generate_iis_lines_with_labels(count, seed=seed),
    ),
)
"""Every bundled sample, in the order ``python -m samples --bundled`` writes them."""


def bundled_labels(name: str) -> dict[int, str]:
    """The attack labels of the bundled file ``name`` (0-based line -> attack kind).

    Examples
    --------
    >>> labels = bundled_labels("sample_firewall.log")
    >>> sorted(set(labels.values()))[:2]
    ['c2_download', 'port_scan']
    """
    for sample in BUNDLED:
        if sample.name == name:
            return sample.lines_with_labels()[1]
    raise KeyError(name)


def write_lines(lines: Iterable[str], path: str | PathLike[str]) -> int:
    """Write lines to ``path``, each ended by a newline, and return how many were written.

    Examples
    --------
    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     write_lines(["a", "b"], Path(folder) / "x.log")
    2
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    written = 0
    with target.open("w", encoding="utf-8", newline="\n") as out:
        for line in lines:
            out.write(line + "\n")
            written += 1
    return written


def write_bundled(folder: str | PathLike[str] = DATA_DIR) -> dict[str, int]:
    """Regenerate every bundled sample into ``folder``; returns lines written per file."""
    return {
        sample.name: write_lines(sample.lines_with_labels()[0], Path(folder) / sample.name)
        for sample in BUNDLED
    }


def write_ndjson(events: Iterable[Mapping[str, object]], path: str | PathLike[str]) -> int:
    """Write events to ``path`` as newline-delimited JSON and return how many were written.

    Examples
    --------
    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     write_ndjson([{"EventID": 1}, {"EventID": 3}], Path(folder) / "events.ndjson")
    2
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    written = 0
    with target.open("wb") as out:
        for event in events:
            out.write(orjson.dumps(event, option=orjson.OPT_APPEND_NEWLINE))
            written += 1
    return written
