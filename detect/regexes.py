"""Cheaper equivalents of the regexes rules search with.

A rule's regex is a *search*: it is true when the pattern matches anywhere in the value.
For a search, whatever optional part ends the pattern can be dropped, and a repetition
that ends it can stop at its minimum: if ``-k\\s\\w{1,64}`` matches somewhere, so does
``-k\\s\\w``. The result is the same; the cost is not. Rust's regex engine builds its
automaton for every allowed count of a bounded repetition, and a Unicode class such as
``\\w`` repeated 64 times made one SigmaHQ rule 25 times slower than its trimmed form.

Only the end of each top-level branch is trimmed, and only for patterns made of parts this
module reads with certainty; anything else is returned unchanged.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

import polars as pl

__all__ = ["literal_alternation", "trim_search_regex"]

# Escapes whose length this reader does not work out (hex, Unicode, classes by name).
_LONG_ESCAPES = frozenset("xuUpPk")
_REPEAT = re.compile(r"\{(\d+)(,(\d*))?\}")
# Verbose mode reads whitespace and ``#`` differently.
_VERBOSE = re.compile(r"\(\?[a-zA-Z-]*x")


def literal_alternation(literals: Iterable[str]) -> str:
    r"""One regex, for Rust's engine, that matches where any of ``literals`` occurs.

    >>> print(literal_alternation(["a.b", "c|d"]))
    a\.b|c\|d
    """
    return "|".join(pl.escape_regex(literal) for literal in literals)


def trim_search_regex(pattern: str) -> str:
    """An equivalent pattern for a search, without an optional or repeated tail.

    >>> trim_search_regex(r"-k\\s\\w{1,64}(?:\\s?(?:-p|-s))?")
    '-k\\\\s\\\\w'
    >>> trim_search_regex(r"://[0-9]{1,3}\\.[0-9]{1,3}")
    '://[0-9]{1,3}\\\\.[0-9]'
    >>> trim_search_regex(r"a+b*|c{2,}d?")
    'a|c{2}'
    >>> trim_search_regex(r"\\\\[^\\\\]{1,256}$")
    '\\\\\\\\[^\\\\\\\\]{1,256}$'
    """
    if _VERBOSE.search(pattern):
        return pattern
    branches = _branches(pattern)
    if branches is None:
        return pattern
    return "|".join(_trim(pattern, branch) for branch in branches)


def _branches(pattern: str) -> list[list[tuple[int, int, int]]] | None:
    """Top-level branches, each a list of (start, atom end, end) spans; None if unsure."""
    branches: list[list[tuple[int, int, int]]] = [[]]
    i = 0
    while i < len(pattern):
        char = pattern[i]
        if char == "|":
            branches.append([])
            i += 1
            continue
        atom_end = _atom_end(pattern, i)
        if atom_end is None:
            return None
        end = _quantifier_end(pattern, atom_end)
        if end is None:
            return None
        branches[-1].append((i, atom_end, end))
        i = end
    return branches


def _escape_end(pattern: str, start: int) -> int | None:
    """Where the escape at ``start`` ends; None for escapes whose length is not worked out."""
    if start + 1 >= len(pattern) or pattern[start + 1] in _LONG_ESCAPES:
        return None
    return start + 2


def _atom_end(pattern: str, start: int) -> int | None:
    char = pattern[start]
    if char == "\\":
        return _escape_end(pattern, start)
    if char == "[":
        return _class_end(pattern, start)
    if char == "(":
        return _group_end(pattern, start)
    if char in ")*+?{}":
        return None
    return start + 1


def _class_end(pattern: str, start: int) -> int | None:
    i = start + 1
    if i < len(pattern) and pattern[i] == "^":
        i += 1
    if i < len(pattern) and pattern[i] == "]":
        i += 1
    while i < len(pattern):
        char = pattern[i]
        if char == "\\":
            end = _escape_end(pattern, i)
            if end is None:
                return None
            i = end
            continue
        if char == "[":
            return None  # nested classes and POSIX names: Rust's dialect, not read here
        if char == "]":
            return i + 1
        i += 1
    return None


def _group_end(pattern: str, start: int) -> int | None:
    depth = 0
    i = start
    while i < len(pattern):
        char = pattern[i]
        if char == "\\":
            end = _escape_end(pattern, i)
            if end is None:
                return None
            i = end
            continue
        if char == "[":
            end = _class_end(pattern, i)
            if end is None:
                return None
            i = end
            continue
        if char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
            if depth == 0:
                return i + 1
        i += 1
    return None


def _quantifier_end(pattern: str, start: int) -> int | None:
    if start >= len(pattern):
        return start
    char = pattern[start]
    if char in "*+?":
        end = start + 1
    elif char == "{":
        found = _REPEAT.match(pattern, start)
        if found is None:
            return None
        end = found.end()
    else:
        return start
    if end < len(pattern) and pattern[end] in "*+{":
        return None
    if end < len(pattern) and pattern[end] == "?":
        end += 1
    return end


def _trim(pattern: str, branch: list[tuple[int, int, int]]) -> str:
    """The branch without its optional tail, its last repetition cut to the minimum."""
    parts = [pattern[start:end] for start, _, end in branch]
    for start, atom_end, end in reversed(branch):
        quantifier = pattern[atom_end:end]
        if not quantifier:
            break
        if len(quantifier) > 1 and quantifier.endswith("?"):
            quantifier = quantifier[:-1]  # lazy: matches the same strings
        least = _least(quantifier)
        if least > 0:
            atom = pattern[start:atom_end]
            parts[-1] = atom if least == 1 else f"{atom}{{{least}}}"
            break
        parts.pop()
    return "".join(parts)


def _least(quantifier: str) -> int:
    if quantifier in ("?", "*"):
        return 0
    if quantifier == "+":
        return 1
    found = _REPEAT.fullmatch(quantifier)
    return int(found.group(1)) if found else 1
