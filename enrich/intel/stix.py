"""A parser for the simple STIX 2.1 patterns that carry one kind of indicator each.

Supported: one or more observation expressions joined by ``OR``, each holding one or
more ``=`` comparisons joined by ``OR``, on these object paths::

    [ipv4-addr:value = '198.51.100.7']            -> ipv4 (or cidr for '198.51.100.0/24')
    [domain-name:value = 'bad.example']           -> domain
    [url:value = 'http://bad.example/x']          -> url
    [file:hashes.'SHA-256' = '...']               -> sha256 (also MD5, SHA-1, SHA1, SHA256)

Anything else (``AND``, ``FOLLOWEDBY``, qualifiers, ``LIKE``/``MATCHES``, other objects)
is refused with a reason naming what was found, so the indicator is reported, not lost.
"""

from __future__ import annotations

import re
from typing import Final

__all__ = ["PatternError", "parse_pattern"]

_TOKEN: Final = re.compile(
    r"\s*(?:(?P<open>\[)|(?P<close>\])|(?P<string>'(?:\\.|[^'\\])*')"
    r"|(?P<op>!=|<=|>=|=|<|>)|(?P<word>[A-Za-z0-9_\-:.]+(?:'[^']*'[A-Za-z0-9_\-:.]*)*))"
)
_PATHS: Final = {
    "ipv4-addr:value": "ipv4",
    "domain-name:value": "domain",
    "url:value": "url",
    "file:hashes.md5": "md5",
    "file:hashes.'md5'": "md5",
    "file:hashes.'sha-1'": "sha1",
    "file:hashes.'sha1'": "sha1",
    "file:hashes.sha1": "sha1",
    "file:hashes.'sha-256'": "sha256",
    "file:hashes.'sha256'": "sha256",
    "file:hashes.sha256": "sha256",
}


class PatternError(ValueError):
    """A pattern outside the supported subset; the message says what was found."""


def _tokens(pattern: str) -> list[tuple[str, str]]:
    tokens: list[tuple[str, str]] = []
    position = 0
    text = pattern.rstrip()
    while position < len(text):
        match = _TOKEN.match(text, position)
        if match is None or match.end() == position:
            raise PatternError(f"unexpected text at {position}: {text[position : position + 20]!r}")
        kind = match.lastgroup or ""
        tokens.append((kind, match.group(kind)))
        position = match.end()
    return tokens


def parse_pattern(pattern: str) -> list[tuple[str, str]]:  # noqa: C901 (one token loop)
    """The ``(indicator type, value)`` pairs an OR-ed simple pattern stands for.

    Examples
    --------
    >>> parse_pattern("[ipv4-addr:value = '198.51.100.7' OR domain-name:value = 'a.example']")
    [('ipv4', '198.51.100.7'), ('domain', 'a.example')]
    >>> parse_pattern("[file:hashes.'SHA-256' = 'AB12'] OR [url:value = 'http://x.example/']")
    [('sha256', 'AB12'), ('url', 'http://x.example/')]
    >>> parse_pattern("[ipv4-addr:value = '1.2.3.4' AND network-traffic:dst_port = 443]")
    Traceback (most recent call last):
    ...
    enrich.intel.stix.PatternError: unsupported operator AND (only OR-ed comparisons with =)
    """
    tokens = _tokens(pattern)
    found: list[tuple[str, str]] = []
    index = 0

    def take(kind: str, what: str) -> str:
        nonlocal index
        if index >= len(tokens):
            raise PatternError(f"pattern ends where {what} was expected")
        got_kind, got = tokens[index]
        if got_kind != kind:
            raise PatternError(f"expected {what}, found {got!r}")
        index += 1
        return got

    expect_observation = True
    while index < len(tokens):
        if not expect_observation:
            word = take("word", "OR")
            if word.upper() != "OR":
                raise PatternError(f"unsupported operator {word} (only OR-ed observations)")
        take("open", "'['")
        while True:
            path = take("word", "an object path")
            operator = tokens[index][1] if index < len(tokens) else ""
            if operator != "=":
                raise PatternError(f"unsupported comparison {operator!r} on {path} (only =)")
            index += 1
            value = take("string", "a quoted value")[1:-1]
            kind = _PATHS.get(path.lower())
            if kind is None:
                raise PatternError(f"unsupported object path {path}")
            found.append((kind, value.replace("\\'", "'").replace("\\\\", "\\")))
            word_kind, word = tokens[index] if index < len(tokens) else ("", "")
            if word_kind == "close":
                index += 1
                break
            if word_kind == "word" and word.upper() == "OR":
                index += 1
                continue
            if word_kind == "word" and word.upper() == "AND":
                raise PatternError("unsupported operator AND (only OR-ed comparisons with =)")
            if not word_kind:
                raise PatternError("pattern ends before ']'")
            raise PatternError(f"expected OR or ']', found {word!r}")
        expect_observation = False
    if not found:
        raise PatternError("empty pattern")
    return found
