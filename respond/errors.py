"""Errors of the respond stage (alert documents, incidents, sinks, notifications).

One base class, decided by flags rather than by lists of classes::

    RespondError               retriable = False
    ├── SinkUnavailableError   retriable = True: the destination is down or overloaded;
    │                          the batch was not (fully) written and must be offered again
    └── SinkRejectedError      retriable = False: the destination refused the batch as such
        └── SinkCredentialsError   the destination refused the credentials (401/403):
                                   an operator must fix them, the run stops

A document the destination refuses on its own (a mapping conflict, a 400 for one item) is
not an exception: the sink reports it in :attr:`respond.sinks.Delivery.dead`.
"""

from typing import ClassVar

__all__ = ["RespondError", "SinkCredentialsError", "SinkRejectedError", "SinkUnavailableError"]


class RespondError(Exception):
    """Base class of every respond error."""

    retriable: ClassVar[bool] = False


class SinkUnavailableError(RespondError):
    """The sink could not take the batch now; offsets must not move past it."""

    retriable: ClassVar[bool] = True


class SinkRejectedError(RespondError):
    """The sink refused the whole batch; retrying the same batch cannot help."""


class SinkCredentialsError(SinkRejectedError):
    """The sink refused the credentials (401/403): retrying cannot help, the run stops."""
