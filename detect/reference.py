"""Plain-Python reference matcher for Sigma rules.

This module evaluates a Sigma rule against one event at a time, with nothing but the
standard library and the condition tree that pySigma builds after it has applied the
value modifiers. It is deliberately slow and simple: property tests use it as the
oracle that the Polars engine has to agree with, so it shares no code with
``detect.backend`` or ``detect.engine``.

Matching semantics
------------------
* An event is a flat mapping of field name to ``str | int | float | bool | None``, or a
  list of those; a missing key is the same as ``None``.
* A value condition on a list holds when it holds for some element (``null`` and
  ``|exists`` look at the list itself; ``|fieldref`` with a list on either side is false).
* Values are compared through their rendering: ``True``/``False`` become ``"true"`` and
  ``"false"``, every other value becomes ``str(value)``.
* A value condition on a null field is false, so ``not selection`` holds there. Only
  ``null``, ``|exists`` and ``|fieldref`` look at null fields on purpose.
* Strings match case-insensitively (both sides through ``str.casefold``, Unicode case
  folding) unless the rule used ``|cased``. ``*`` matches any run of characters,
  newlines included, ``?`` exactly one character, and the pattern must cover the whole
  value.
* Keywords (values without a field) are *contains* matches against every string value
  of the event, and every string element of its lists; numbers, booleans and nulls in
  the event are not searched.
* Numbers parse the way a columnar engine does: surrounding whitespace and ``_`` digit
  separators make a value unparsable.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable, Mapping, Sequence

from sigma.conditions import (
    ConditionAND,
    ConditionFieldEqualsValueExpression,
    ConditionItem,
    ConditionNOT,
    ConditionOR,
    ConditionValueExpression,
)
from sigma.rule import SigmaRule
from sigma.types import (
    CompareOperators,
    SigmaBool,
    SigmaCasedString,
    SigmaCIDRExpression,
    SigmaCompareExpression,
    SigmaExists,
    SigmaExpansion,
    SigmaFieldReference,
    SigmaNull,
    SigmaNumber,
    SigmaRegularExpression,
    SigmaRegularExpressionFlag,
    SigmaString,
    SigmaTimestampPart,
    SigmaType,
    SpecialChars,
)

# Registers utf16 and utf16le as the specification defines them, before any rule is read.
import detect.modifiers  # noqa: F401

__all__ = ["reference_match", "reference_matches"]

_Node = ConditionItem | ConditionFieldEqualsValueExpression | ConditionValueExpression | None
_Token = str | SpecialChars

_REGEX_FLAGS: dict[SigmaRegularExpressionFlag, re.RegexFlag] = {
    SigmaRegularExpressionFlag.IGNORECASE: re.IGNORECASE,
    SigmaRegularExpressionFlag.MULTILINE: re.MULTILINE,
    SigmaRegularExpressionFlag.DOTALL: re.DOTALL,
}

_COMPARISONS: dict[CompareOperators, Callable[[float, float], bool]] = {
    CompareOperators.LT: lambda left, right: left < right,
    CompareOperators.LTE: lambda left, right: left <= right,
    CompareOperators.GT: lambda left, right: left > right,
    CompareOperators.GTE: lambda left, right: left >= right,
    CompareOperators.NEQ: lambda left, right: left != right,
}


def reference_match(rule: SigmaRule, event: Mapping[str, object]) -> bool:
    """Tell whether one event matches a Sigma rule.

    Parameters
    ----------
    rule
        A parsed Sigma rule; its conditions are OR-ed.
    event
        Field name to value; a missing key counts as null.

    Returns
    -------
    bool
        ``True`` when any condition of the rule holds for the event.

    Raises
    ------
    NotImplementedError
        When the rule uses a value this matcher has no meaning for (timestamp parts,
        unresolved ``|expand`` placeholders, boolean or null keywords).

    Examples
    --------
    >>> from sigma.rule import SigmaRule
    >>> rule = SigmaRule.from_yaml('''
    ... title: Encoded PowerShell
    ... logsource: {product: windows}
    ... detection:
    ...     selection:
    ...         CommandLine|contains: ' -enc '
    ...     condition: selection
    ... ''')
    >>> reference_match(rule, {"CommandLine": "powershell -ENC aGk="})
    True
    >>> reference_match(rule, {"Image": "powershell.exe"})
    False
    """
    return any(_evaluate(cond.parsed, event) for cond in rule.detection.parsed_condition)


def reference_matches(rule: SigmaRule, events: Sequence[Mapping[str, object]]) -> list[int]:
    """Return the positions of the events that match a Sigma rule.

    Parameters
    ----------
    rule
        A parsed Sigma rule; its conditions are OR-ed.
    events
        Flat events, each a mapping of field name to value.

    Returns
    -------
    list[int]
        Indices into ``events`` of the matching events, in ascending order.

    Raises
    ------
    NotImplementedError
        When the rule uses a value this matcher has no meaning for.

    Examples
    --------
    >>> from sigma.rule import SigmaRule
    >>> rule = SigmaRule.from_yaml('''
    ... title: Logon failure
    ... logsource: {product: windows}
    ... detection:
    ...     selection:
    ...         EventID: 4625
    ...     condition: selection
    ... ''')
    >>> reference_matches(rule, [{"EventID": 4624}, {"EventID": 4625}, {"EventID": "4625"}])
    [1, 2]
    """
    # pySigma rebuilds the tree on every access of `parsed`, so build it once per call.
    trees = [cond.parsed for cond in rule.detection.parsed_condition]
    return [
        index for index, event in enumerate(events) if any(_evaluate(tree, event) for tree in trees)
    ]


def _evaluate(node: _Node, event: Mapping[str, object]) -> bool:
    if node is None:  # every detection item was dropped, so nothing can match
        return False
    if isinstance(node, ConditionAND):
        return all(_evaluate(arg, event) for arg in node.args)
    if isinstance(node, ConditionOR):
        return any(_evaluate(arg, event) for arg in node.args)
    if isinstance(node, ConditionNOT):
        return not _evaluate(node.args[0], event)
    if isinstance(node, ConditionFieldEqualsValueExpression):
        return _match_field(node.field, node.value, event)
    if isinstance(node, ConditionValueExpression):
        return _match_keyword(node.value, event)
    raise NotImplementedError(f"unexpected condition node {type(node).__name__}")


def _match_field(field: str, value: SigmaType, event: Mapping[str, object]) -> bool:
    raw = event.get(field)
    if isinstance(value, SigmaExpansion):
        return any(_match_field(field, item, event) for item in value.values)
    if isinstance(value, SigmaNull):
        return raw is None
    if isinstance(value, SigmaExists):
        return (raw is not None) == value.exists
    if isinstance(value, SigmaFieldReference):
        other = event.get(value.field)
        if isinstance(raw, list | tuple) or isinstance(other, list | tuple):
            return False
        return _match_reference(raw, other, value)
    if isinstance(raw, list | tuple):
        return any(_match_value(field, value, element) for element in raw)
    return _match_value(field, value, raw)


def _match_value(field: str, value: SigmaType, raw: object) -> bool:
    if isinstance(value, SigmaString):
        tokens = _tokens(value)
        return raw is not None and _glob_match(tokens, _fold(_render(raw), value))
    if isinstance(value, SigmaTimestampPart):  # a SigmaNumber subclass: test it first
        raise NotImplementedError("timestamp part modifiers are not supported")
    if isinstance(value, SigmaNumber):
        return raw is not None and _match_number(_render(raw), value.number)
    if isinstance(value, SigmaBool):
        return raw is not None and _render(raw).lower() == _render(value.boolean)
    if isinstance(value, SigmaRegularExpression):
        pattern = _compile(value)
        return raw is not None and pattern.search(_render(raw)) is not None
    if isinstance(value, SigmaCIDRExpression):
        return raw is not None and _match_cidr(_render(raw), value)
    if isinstance(value, SigmaCompareExpression):
        return raw is not None and _match_compare(_render(raw), value)
    raise NotImplementedError(f"unsupported value type {type(value).__name__} on {field!r}")


def _match_keyword(value: SigmaType, event: Mapping[str, object]) -> bool:
    if isinstance(value, SigmaExpansion):
        return any(_match_keyword(item, event) for item in value.values)
    texts = [raw for raw in event.values() if isinstance(raw, str)]
    texts.extend(
        element
        for raw in event.values()
        if isinstance(raw, list | tuple)
        for element in raw
        if isinstance(element, str)
    )
    if isinstance(value, SigmaString):
        tokens = [SpecialChars.WILDCARD_MULTI, *_tokens(value), SpecialChars.WILDCARD_MULTI]
        return any(_glob_match(tokens, _fold(text, value)) for text in texts)
    if isinstance(value, SigmaNumber) and not isinstance(value, SigmaTimestampPart):
        needle = str(value.number)
        return any(needle in text for text in texts)
    if isinstance(value, SigmaRegularExpression):
        pattern = _compile(value)
        return any(pattern.search(text) is not None for text in texts)
    raise NotImplementedError(f"unsupported keyword value type {type(value).__name__}")


def _render(raw: object) -> str:
    if isinstance(raw, bool):
        return "true" if raw else "false"
    return str(raw)


def _fold(text: str, value: SigmaString) -> str:
    return text if isinstance(value, SigmaCasedString) else text.casefold()


def _tokens(value: SigmaString) -> list[_Token]:
    """Flatten a Sigma string into single characters and wildcards, folded unless cased."""
    tokens: list[_Token] = []
    for part in value.s:
        if isinstance(part, str):
            tokens.extend(_fold(part, value))
        elif isinstance(part, SpecialChars):
            tokens.append(part)
        else:
            raise NotImplementedError(f"unresolved placeholder %{part.name}% in {value!r}")
    return tokens


def _glob_match(tokens: Sequence[_Token], text: str) -> bool:
    """Match the whole text against wildcard tokens, backtracking to the last ``*``."""
    pos = 0
    tok = 0
    star_tok = -1
    star_pos = 0
    while pos < len(text):
        current = tokens[tok] if tok < len(tokens) else None
        if current is SpecialChars.WILDCARD_MULTI:
            star_tok, star_pos = tok, pos
            tok += 1
        elif current is SpecialChars.WILDCARD_SINGLE or current == text[pos]:
            tok += 1
            pos += 1
        elif star_tok >= 0:
            # let the last `*` swallow one more character and retry from there
            star_pos += 1
            tok, pos = star_tok + 1, star_pos
        else:
            return False
    return all(token is SpecialChars.WILDCARD_MULTI for token in tokens[tok:])


def _parse_float(text: str) -> float | None:
    # Python's float() also accepts padding and digit separators; a columnar cast does not.
    if text != text.strip() or "_" in text:
        return None
    try:
        return float(text)
    except ValueError:
        return None


def _match_number(text: str, number: int | float) -> bool:
    if isinstance(number, int):
        return text == str(number)
    parsed = _parse_float(text)
    return parsed is not None and parsed == number


def _match_compare(text: str, value: SigmaCompareExpression) -> bool:
    parsed = _parse_float(text)
    return parsed is not None and _COMPARISONS[value.op](parsed, value.number.number)


def _match_cidr(text: str, value: SigmaCIDRExpression) -> bool:
    try:
        address = ipaddress.ip_address(text.strip())
    except ValueError:
        return False
    return address in value.network


def _match_reference(raw: object, other: object, value: SigmaFieldReference) -> bool:
    if raw is None or other is None:
        return False
    text = _render(raw).casefold()
    needle = _render(other).casefold()
    if value.starts_with and value.ends_with:
        return needle in text
    if value.starts_with:
        return text.startswith(needle)
    if value.ends_with:
        return text.endswith(needle)
    return text == needle


def _compile(value: SigmaRegularExpression) -> re.Pattern[str]:
    flags = 0
    for flag in value.flags:
        flags |= _REGEX_FLAGS[flag]
    return re.compile(str(value.regexp), flags)
