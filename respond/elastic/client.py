"""Building the async Elasticsearch client: hosts, API key or basic auth, TLS CA."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from elasticsearch import AsyncElasticsearch

__all__ = ["alerts_data_stream", "build_client", "check_namespace"]

_NAMESPACE = re.compile(r"[a-z0-9_.]{1,100}")


def check_namespace(namespace: str) -> str:
    """Return ``namespace`` if it can end a data stream name, else raise ``ValueError``.

    Data stream names are ``<type>-<dataset>-<namespace>``: the namespace is lower case and
    has no ``-`` (nor spaces, ``*``, ``/``...).

    Examples
    --------
    >>> check_namespace("mef")
    'mef'
    >>> check_namespace("mef-prod")
    Traceback (most recent call last):
    ...
    ValueError: namespace 'mef-prod': use lower-case letters, digits, '_' or '.', no '-'
    """
    if not _NAMESPACE.fullmatch(namespace):
        raise ValueError(
            f"namespace {namespace!r}: use lower-case letters, digits, '_' or '.', no '-'"
        )
    return namespace


def alerts_data_stream(namespace: str) -> str:
    """The data stream alerts go to.

    Examples
    --------
    >>> alerts_data_stream("default")
    'logs-neakta.alerts-default'
    """
    return f"logs-neakta.alerts-{check_namespace(namespace)}"


def build_client(
    *,
    hosts: list[str] | tuple[str, ...],
    api_key: str | None = None,
    username: str | None = None,
    password: str | None = None,
    ca_file: Path | str | None = None,
    verify_certs: bool = True,
    request_timeout: float = 30.0,
) -> AsyncElasticsearch:
    """An async client whose own retries are off.

    :func:`respond.elastic.bulk.send_bulk` and the callers decide what to retry.
    An API key wins over a user name and password. Certificates are verified unless
    ``verify_certs`` is false; ``ca_file`` names the CA that signed the cluster's.
    """
    if not hosts:
        raise ValueError("no Elasticsearch hosts given")
    options: dict[str, Any] = {}
    if api_key:
        options["api_key"] = api_key
    elif username:
        options["basic_auth"] = (username, password or "")
    if ca_file:
        options["ca_certs"] = str(ca_file)
    return AsyncElasticsearch(
        list(hosts),
        **options,
        verify_certs=verify_certs,
        request_timeout=request_timeout,
        max_retries=0,
        retry_on_status=(),
        retry_on_timeout=False,
    )
