"""Errors of the Elasticsearch side of the respond stage.

They extend :mod:`respond.errors`, decided by the same flag::

    RespondError                      retriable = False
    ├── SinkUnavailableError          retriable = True   (respond.errors)
    ├── SinkRejectedError             retriable = False  (respond.errors)
    └── ElasticSetupError             retriable = False: a template, policy, index or
                                      saved-object import was refused; the reason says
                                      which and why

Writing alerts raises only the two sink errors; a document refused on its own is reported
in :attr:`respond.sinks.Delivery.dead`, not raised.
"""

from __future__ import annotations

from typing import ClassVar

from respond.errors import RespondError

__all__ = ["ElasticSetupError"]


class ElasticSetupError(RespondError):
    """Installing templates, policies, indices or Kibana objects failed."""

    retriable: ClassVar[bool] = False
