"""Errors raised by the ingest stage.

One base class, decided by flags rather than by lists of classes::

    IngestError            retriable = False
    ├── DecodeError        bytes or JSON that cannot be decoded at all
    └── ParseError         decoded text that matches no known log format

Parsers do not raise these for bad lines: a line that cannot be parsed becomes a dead
letter in :class:`ingest.parsers.ParseResult`. The classes are for the callers that
decide a whole batch is unusable (for instance a source that hands over something that
is not text).
"""

from typing import ClassVar

__all__ = ["DecodeError", "IngestError", "ParseError"]


class IngestError(Exception):
    """Base class of every ingest error.

    Attributes
    ----------
    retriable
        Whether trying the same input again may succeed. Parsing is deterministic, so
        no ingest error is retriable unless a subclass says so.
    """

    retriable: ClassVar[bool] = False


class DecodeError(IngestError):
    """Input that cannot be decoded into text or JSON."""


class ParseError(IngestError):
    """Decoded text that matches none of the formats a parser knows."""
