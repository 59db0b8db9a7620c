"""Case folding: how Sigma's case-insensitive matching compares text.

Case-insensitive means Unicode case folding, not lower-casing: ``ΟΣ`` lower-cases to
``ος`` (a final sigma) but ``ΟΣΑ`` to ``οσα``, and ``ſ`` (long s) is already lower-case
though it folds to ``s``. Rule values are folded in Python (:func:`fold`, which is
``str.casefold``); columns in Polars (:func:`fold_expr`): lower-cased, then the few
lower-case characters whose folding differs replaced, which gives the same text.

Folding is per character, so a literal that occurs in a value also occurs in its folding;
that is what lets a fast pattern search the folded text for a folded literal.
"""

from __future__ import annotations

import sys

import polars as pl

__all__ = [
    "FOLDABLE",
    "FOLDS_TO_ASCII",
    "fold",
    "fold_expr",
    "fold_lowered",
    "folds_to_ascii",
    "generated_table",
]


def generated_table() -> dict[str, str]:
    """Each lower-case character whose case folding differs, and its folding (slow).

    The constants below are this table, written out so that importing costs nothing; a
    test checks that they still agree with Python's Unicode tables.
    """
    table: dict[str, str] = {}
    for point in range(sys.maxunicode + 1):
        if 0xD800 <= point < 0xE000:
            continue
        for char in chr(point).lower():
            if char.casefold() != char:
                table[char] = char.casefold()
    return table


_FOLD_FROM = (
    "\u00b5\u00df\u0149\u017f\u01f0\u0345\u0390\u03b0\u03c2\u03d0\u03d1\u03d5\u03d6\u03f0"
    "\u03f1\u03f5\u0587\u13f8\u13f9\u13fa\u13fb\u13fc\u13fd\u1c80\u1c81\u1c82\u1c83\u1c84"
    "\u1c85\u1c86\u1c87\u1c88\u1e96\u1e97\u1e98\u1e99\u1e9a\u1e9b\u1f50\u1f52\u1f54\u1f56"
    "\u1f80\u1f81\u1f82\u1f83\u1f84\u1f85\u1f86\u1f87\u1f90\u1f91\u1f92\u1f93\u1f94\u1f95"
    "\u1f96\u1f97\u1fa0\u1fa1\u1fa2\u1fa3\u1fa4\u1fa5\u1fa6\u1fa7\u1fb2\u1fb3\u1fb4\u1fb6"
    "\u1fb7\u1fbe\u1fc2\u1fc3\u1fc4\u1fc6\u1fc7\u1fd2\u1fd3\u1fd6\u1fd7\u1fe2\u1fe3\u1fe4"
    "\u1fe6\u1fe7\u1ff2\u1ff3\u1ff4\u1ff6\u1ff7\uab70\uab71\uab72\uab73\uab74\uab75\uab76"
    "\uab77\uab78\uab79\uab7a\uab7b\uab7c\uab7d\uab7e\uab7f\uab80\uab81\uab82\uab83\uab84"
    "\uab85\uab86\uab87\uab88\uab89\uab8a\uab8b\uab8c\uab8d\uab8e\uab8f\uab90\uab91\uab92"
    "\uab93\uab94\uab95\uab96\uab97\uab98\uab99\uab9a\uab9b\uab9c\uab9d\uab9e\uab9f\uaba0"
    "\uaba1\uaba2\uaba3\uaba4\uaba5\uaba6\uaba7\uaba8\uaba9\uabaa\uabab\uabac\uabad\uabae"
    "\uabaf\uabb0\uabb1\uabb2\uabb3\uabb4\uabb5\uabb6\uabb7\uabb8\uabb9\uabba\uabbb\uabbc"
    "\uabbd\uabbe\uabbf\ufb00\ufb01\ufb02\ufb03\ufb04\ufb05\ufb06\ufb13\ufb14\ufb15\ufb16"
    "\ufb17"
)
_FOLD_TO = (
    "\u03bc|ss|\u02bcn|s|j\u030c|\u03b9|\u03b9\u0308\u0301|\u03c5\u0308\u0301|\u03c3|"
    "\u03b2|\u03b8|\u03c6|\u03c0|\u03ba|\u03c1|\u03b5|\u0565\u0582|\u13f0|\u13f1|\u13f2|"
    "\u13f3|\u13f4|\u13f5|\u0432|\u0434|\u043e|\u0441|\u0442|\u0442|\u044a|\u0463|"
    "\ua64b|h\u0331|t\u0308|w\u030a|y\u030a|a\u02be|\u1e61|\u03c5\u0313|\u03c5\u0313"
    "\u0300|\u03c5\u0313\u0301|\u03c5\u0313\u0342|\u1f00\u03b9|\u1f01\u03b9|\u1f02\u03b9|"
    "\u1f03\u03b9|\u1f04\u03b9|\u1f05\u03b9|\u1f06\u03b9|\u1f07\u03b9|\u1f20\u03b9|\u1f21"
    "\u03b9|\u1f22\u03b9|\u1f23\u03b9|\u1f24\u03b9|\u1f25\u03b9|\u1f26\u03b9|\u1f27"
    "\u03b9|\u1f60\u03b9|\u1f61\u03b9|\u1f62\u03b9|\u1f63\u03b9|\u1f64\u03b9|\u1f65"
    "\u03b9|\u1f66\u03b9|\u1f67\u03b9|\u1f70\u03b9|\u03b1\u03b9|\u03ac\u03b9|\u03b1"
    "\u0342|\u03b1\u0342\u03b9|\u03b9|\u1f74\u03b9|\u03b7\u03b9|\u03ae\u03b9|\u03b7"
    "\u0342|\u03b7\u0342\u03b9|\u03b9\u0308\u0300|\u03b9\u0308\u0301|\u03b9\u0342|\u03b9"
    "\u0308\u0342|\u03c5\u0308\u0300|\u03c5\u0308\u0301|\u03c1\u0313|\u03c5\u0342|\u03c5"
    "\u0308\u0342|\u1f7c\u03b9|\u03c9\u03b9|\u03ce\u03b9|\u03c9\u0342|\u03c9\u0342\u03b9|"
    "\u13a0|\u13a1|\u13a2|\u13a3|\u13a4|\u13a5|\u13a6|\u13a7|\u13a8|\u13a9|\u13aa|\u13ab|"
    "\u13ac|\u13ad|\u13ae|\u13af|\u13b0|\u13b1|\u13b2|\u13b3|\u13b4|\u13b5|\u13b6|\u13b7|"
    "\u13b8|\u13b9|\u13ba|\u13bb|\u13bc|\u13bd|\u13be|\u13bf|\u13c0|\u13c1|\u13c2|\u13c3|"
    "\u13c4|\u13c5|\u13c6|\u13c7|\u13c8|\u13c9|\u13ca|\u13cb|\u13cc|\u13cd|\u13ce|\u13cf|"
    "\u13d0|\u13d1|\u13d2|\u13d3|\u13d4|\u13d5|\u13d6|\u13d7|\u13d8|\u13d9|\u13da|\u13db|"
    "\u13dc|\u13dd|\u13de|\u13df|\u13e0|\u13e1|\u13e2|\u13e3|\u13e4|\u13e5|\u13e6|\u13e7|"
    "\u13e8|\u13e9|\u13ea|\u13eb|\u13ec|\u13ed|\u13ee|\u13ef|ff|fi|fl|ffi|ffl|st|st|"
    "\u0574\u0576|\u0574\u0565|\u0574\u056b|\u057e\u0576|\u0574\u056d"
)
_FROM = list(_FOLD_FROM)

FOLDS_TO_ASCII = (
    "\u00df\u0130\u0149\u017f\u01f0\u1e96\u1e97\u1e98\u1e99\u1e9a\u1e9e\u212a"
    "\ufb00\ufb01\ufb02\ufb03\ufb04\ufb05\ufb06"
)
"""The characters beyond ASCII whose case folding holds an ASCII character.

``ß``, ``ſ``, the Kelvin sign, the ``ﬀ`` ligatures...: :func:`folds_to_ascii`, written
out. Every other character beyond ASCII folds to characters beyond ASCII only, so in text
without these an ASCII literal occurs in the folding exactly where it occurs in the text
with only its ASCII letters lower-cased."""


def folds_to_ascii() -> str:
    """The characters beyond ASCII whose folding (or lower-casing) holds ASCII (slow)."""
    found = []
    for point in range(0x80, sys.maxunicode + 1):
        if 0xD800 <= point < 0xE000:
            continue
        char = chr(point)
        if any(ord(c) < 0x80 for c in char.casefold() + char.lower()):
            found.append(char)
    return "".join(found)


_TO = _FOLD_TO.split("|")
FOLDABLE = "[" + _FOLD_FROM + "]"
"""A regex class of the lower-case characters whose case folding differs."""


def fold(text: str) -> str:
    """The case folding of ``text``.

    >>> fold("ΟΣ"), fold("POWERſHELL"), fold("Straße")
    ('οσ', 'powershell', 'strasse')
    """
    return text.casefold()


def fold_expr(text: pl.Expr) -> pl.Expr:
    """The case folding of a string expression.

    >>> frame = pl.DataFrame({"v": ["ΟΣΑ", "ΟΣ", "POWERſHELL", None]})
    >>> frame.select(fold_expr(pl.col("v")))["v"].to_list()
    ['οσα', 'οσ', 'powershell', None]
    """
    return fold_lowered(text.str.to_lowercase())


def fold_lowered(lowered: pl.Expr) -> pl.Expr:
    """Lower-cased text folded: the characters whose folding differs replaced."""
    return lowered.str.replace_many(_FROM, _TO)
