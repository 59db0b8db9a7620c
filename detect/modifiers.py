"""Value modifiers as the Sigma specification defines them, where pySigma differs.

- ``utf16`` is UTF-16 little-endian with its byte order mark, the bytes ``FF FE``.
  pySigma marks the value with U+FEFF, which ``base64`` then encodes as UTF-8
  (``EF BB BF``): ``CommandLine|utf16|base64|contains: 'whoami'`` never matched the
  ``-e //53AGgAbwBhAG0AaQA=`` that PowerShell sees.
- ``utf16le`` is a synonym of ``wide``.

Importing this module registers both with pySigma's modifier table, before any rule is
parsed (every module of :mod:`detect` that parses or converts rules imports it first).
"""

from __future__ import annotations

from sigma.types import SigmaString

from sigma import modifiers

__all__ = ["SigmaUTF16Modifier"]

_BOM = "\ufeff"


class _UTF16String(SigmaString):
    """A UTF-16LE value after its byte order mark: its bytes are FF FE, then the text's."""

    def __bytes__(self) -> bytes:
        return b"\xff\xfe" + str(self).removeprefix(_BOM).encode()

    def __len__(self) -> int:
        # base64offset aligns by the length in bytes.
        return len(bytes(self))


class SigmaUTF16Modifier(modifiers.SigmaUTF16Modifier):
    """Encode a value as UTF-16LE after the byte order mark ``FF FE``."""

    def modify(self, val: SigmaString) -> SigmaString:
        """PySigma's value, whose bytes carry the mark as UTF-16 writes it.

        >>> from base64 import b64encode
        >>> value = SigmaUTF16Modifier.__new__(SigmaUTF16Modifier).modify(SigmaString("hi"))
        >>> b64encode(bytes(value))
        b'//5oAGkA'
        """
        encoded = super().modify(val)
        marked = _UTF16String()
        marked.s = encoded.s
        return marked


modifiers.modifier_mapping["utf16"] = SigmaUTF16Modifier
modifiers.modifier_mapping["utf16le"] = modifiers.SigmaWideModifier
modifiers.reverse_modifier_mapping[SigmaUTF16Modifier.__name__] = "utf16"
