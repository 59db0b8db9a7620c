"""Importing saved objects into Kibana: ``POST [/s/<space>]/api/saved_objects/_import``.

The NDJSON goes as a multipart ``file`` field with the ``kbn-xsrf`` header Kibana demands
of every write; ``overwrite=true`` makes a second import replace the first, so the setup
job can run again.
"""

from __future__ import annotations

import base64
import ssl
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

from respond.elastic.errors import ElasticSetupError

__all__ = ["ImportResult", "import_saved_objects", "import_url"]


@dataclass(frozen=True, slots=True)
class ImportResult:
    """Kibana's answer: how many objects it took and the errors of the others."""

    success_count: int
    errors: list[dict[str, Any]] = field(default_factory=list)


def import_url(kibana_url: str, space: str | None = None) -> str:
    """The import endpoint, in a space when one is named.

    Examples
    --------
    >>> import_url("https://kibana:5601/")
    'https://kibana:5601/api/saved_objects/_import?overwrite=true'
    >>> import_url("https://kibana:5601", "mef")
    'https://kibana:5601/s/mef/api/saved_objects/_import?overwrite=true'
    """
    prefix = f"/s/{space}" if space and space != "default" else ""
    return f"{kibana_url.rstrip('/')}{prefix}/api/saved_objects/_import?overwrite=true"


def _ssl(ca_file: Path | str | None, verify_certs: bool) -> ssl.SSLContext | bool:
    if not verify_certs:
        return False
    return ssl.create_default_context(cafile=str(ca_file)) if ca_file else True


async def import_saved_objects(
    kibana_url: str,
    ndjson: bytes,
    *,
    space: str | None = None,
    api_key: str | None = None,
    username: str | None = None,
    password: str | None = None,
    ca_file: Path | str | None = None,
    verify_certs: bool = True,
    timeout: float = 60.0,
) -> ImportResult:
    """Import ``ndjson`` into Kibana, replacing objects with the same ids.

    Raises
    ------
    ElasticSetupError
        Kibana could not be reached, refused the request, or refused some objects (the
        message lists them with their reasons).
    """
    headers = {"kbn-xsrf": "true"}
    if api_key:
        headers["Authorization"] = f"ApiKey {api_key}"
    elif username:
        token = base64.b64encode(f"{username}:{password or ''}".encode()).decode()
        headers["Authorization"] = f"Basic {token}"
    form = aiohttp.FormData()
    form.add_field(
        "file", ndjson, filename="saved_objects.ndjson", content_type="application/ndjson"
    )
    url = import_url(kibana_url, space)
    try:
        async with (
            aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=timeout)) as session,
            session.post(
                url, data=form, headers=headers, ssl=_ssl(ca_file, verify_certs)
            ) as response,
        ):
            status = response.status
            answer: dict[str, Any] = await response.json(content_type=None)
    except (aiohttp.ClientError, TimeoutError, ValueError) as error:
        raise ElasticSetupError(f"Kibana import at {url} failed: {error}") from error
    if status != 200:
        raise ElasticSetupError(
            f"Kibana import at {url} answered {status}: {answer.get('message', answer)}"
        )
    result = ImportResult(int(answer.get("successCount", 0)), list(answer.get("errors", [])))
    if result.errors:
        refused = "; ".join(
            f"{e.get('type')} {e.get('id')}: {e.get('error')}" for e in result.errors
        )
        raise ElasticSetupError(f"Kibana refused {len(result.errors)} saved objects: {refused}")
    return result
