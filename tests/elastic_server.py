"""A small Elasticsearch + Kibana HTTP server for tests: the API subset neakta calls.

It runs in a thread on a free 127.0.0.1 port, keeps everything in memory, and can be told
to fail the way a real cluster does. It is a recorded contract: each endpoint answers as
the Elasticsearch 9.x / Kibana 9.x REST docs describe, for the parts neakta relies on.

=========================================  ===============================================
request                                    answer (and the real behaviour it follows)
=========================================  ===============================================
``GET /``                                  cluster info, ``version.number`` 9.x: the
                                           client reads it on first use
every Elasticsearch answer                 header ``X-Elastic-Product: Elasticsearch``:
                                           the 9.x client refuses 2xx answers without it
``POST /_bulk`` (NDJSON)                   200 ``{"errors", "items"}``, one status per
                                           item (Bulk API docs). ``create`` -> 201, or
                                           409 ``version_conflict_engine_exception`` if
                                           the id is in that index/data stream;
                                           ``index`` -> 201 created / 200 updated.
                                           Names matching an index template with
                                           ``data_stream`` are data streams: ``create``
                                           only, ``@timestamp`` required (400). Aliases
                                           resolve to their write index. Values that do
                                           not fit an explicit ``ip``/``long``/``float``/
                                           ``date`` mapping: 400
                                           ``document_parsing_exception``, unless the
                                           index setting ``mapping.ignore_malformed``
                                           is on (then only ``@timestamp`` is checked)
``GET|POST /<target>/_search``             Search API: ``target`` a comma list of
                                           indices, data streams, aliases (all their
                                           indices) or wildcards; a missing one is 404
                                           ``index_not_found_exception`` unless
                                           ``ignore_unavailable=true``. ``query``:
                                           ``match_all``, ``bool`` (``filter``,
                                           ``must``, ``must_not``), ``term``,
                                           ``terms``, ``ids``, ``range`` (``gt``,
                                           ``gte``, ``lt``, ``lte``; ISO dates compared
                                           as instants), else 400 ``parsing_exception``;
                                           ``sort`` (missing values last), ``from``,
                                           ``size`` (default 10; ``from + size`` over
                                           10,000: 400 ``illegal_argument_exception``,
                                           the default ``index.max_result_window``),
                                           ``track_total_hits`` (else totals stop at
                                           10,000 with ``relation`` ``gte``). Hits:
                                           ``_index`` (the backing index of a data
                                           stream), ``_id``, ``_score`` null when
                                           sorted, ``_source``, ``sort`` (dates as
                                           epoch milliseconds)
``PUT /_ilm/policy/<name>``                200 ``{"acknowledged": true}``; replaces
``PUT /_component_template/<name>``        200 ack; replaces
``PUT /_index_template/<name>``            200 ack; 400 if ``composed_of`` names a
                                           component template that does not exist
``PUT /<index>`` (``aliases``)             200 ack; 400
                                           ``resource_already_exists_exception``
``HEAD /_alias/<name>``                    200 if some index holds the alias, else 404
``GET /_alias/<name>``                     ``{index: {"aliases": {name: {...}}}}``, or 404
``POST [/s/<space>]/api/saved_objects/     Kibana import (multipart ``file``, NDJSON):
_import?overwrite=true``                   400 without ``kbn-xsrf``; per object errors
                                           ``missing_references`` / ``conflict``;
                                           ``{"success", "successCount",
                                           "successResults", "errors"}``
=========================================  ===============================================

Set ``authorization`` to demand that ``Authorization`` header (else 401
``security_exception``, as a cluster with security on answers). Faults:
``request_faults`` (statuses answered to the next ``_bulk`` requests as a whole),
``item_faults`` (per document id, statuses answered to its next attempts), and
:meth:`ElasticServer.stop` / :meth:`ElasticServer.start` (connection refused, then back on
the same port with the same data).
"""

from __future__ import annotations

import contextlib
import email.parser
import email.policy
import fnmatch
import ipaddress
import json
import socket
import ssl
import threading
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

__all__ = ["ElasticServer", "FakeElastic"]

_ERROR_TYPES = {
    400: "mapper_parsing_exception",
    429: "es_rejected_execution_exception",
    500: "internal_server_error",
    502: "bad_gateway",
    503: "unavailable_shards_exception",
    504: "gateway_timeout",
}
KIBANA_TYPES = {"index-pattern", "dashboard", "lens", "visualization", "search", "tag"}


def _error(status: int, kind: str, reason: str) -> dict[str, Any]:
    cause = {"type": kind, "reason": reason}
    return {"error": {"root_cause": [cause], **cause}, "status": status}


def _bad_request(status: int, error: str, message: str) -> tuple[int, dict[str, Any]]:
    """Kibana's error answer."""
    return status, {"statusCode": status, "error": error, "message": message}


def _flatten(properties: dict[str, Any], prefix: str = "") -> dict[str, str]:
    types: dict[str, str] = {}
    for name, mapping in properties.items():
        if "properties" in mapping:
            types.update(_flatten(mapping["properties"], f"{prefix}{name}."))
        elif "type" in mapping:
            types[f"{prefix}{name}"] = mapping["type"]
    return types


def _leaves(document: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    values: dict[str, Any] = {}
    for key, value in document.items():
        if isinstance(value, dict) and not {"lat", "lon"} >= value.keys():
            values.update(_leaves(value, f"{prefix}{key}."))
        else:
            values[f"{prefix}{key}"] = value
    return values


def _fits(kind: str, value: Any) -> bool:
    try:
        if kind == "ip":
            ipaddress.ip_address(value)
        elif kind in ("long", "float"):
            float(value)
        elif kind == "date" and isinstance(value, str):
            datetime.fromisoformat(value.replace("Z", "+00:00"))
    except (TypeError, ValueError):
        return False
    return True


_MAX_RESULT_WINDOW = 10_000


class _QueryError(ValueError):
    """A query the server does not know: ``parsing_exception``."""


def _instant(value: Any) -> Any:
    """Numbers as they are, ISO dates as UTC instants, other text as it is."""
    if isinstance(value, str):
        try:
            moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return value
        return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    return value


def _sort_key(value: Any) -> Any:
    value = value[0] if isinstance(value, list) and value else value
    if value is None or value == []:
        return None
    moment = _instant(value)
    return int(moment.timestamp() * 1000) if isinstance(moment, datetime) else moment


def _sort_fields(sort: Any) -> list[tuple[str, bool]]:
    fields: list[tuple[str, bool]] = []
    for item in [] if sort is None else sort if isinstance(sort, list) else [sort]:
        if isinstance(item, str):
            fields.append((item, False))
            continue
        ((field, order),) = item.items()
        order = order.get("order", "asc") if isinstance(order, dict) else order
        fields.append((field, order == "desc"))
    return fields


def _values(leaves: dict[str, Any], field: str) -> list[Any]:
    value = leaves.get(field)
    return [] if value is None else value if isinstance(value, list) else [value]


def _in_range(value: Any, bounds: dict[str, Any]) -> bool:
    left = _instant(value)
    checks = {"gt": "__gt__", "gte": "__ge__", "lt": "__lt__", "lte": "__le__"}
    for name, bound in bounds.items():
        if name not in checks:
            continue
        try:
            if getattr(left, checks[name])(_instant(bound)) is not True:
                return False
        except TypeError:
            return False
    return True


def _clauses(value: Any) -> list[dict[str, Any]]:
    return value if isinstance(value, list) else [value]


def _matches(query: dict[str, Any], doc_id: str, leaves: dict[str, Any]) -> bool:
    ((kind, spec),) = query.items()
    if kind == "match_all":
        return True
    if kind == "bool":
        unknown = set(spec) - {"filter", "must", "must_not"}
        if unknown:
            raise _QueryError(f"[bool] query does not support [{sorted(unknown)[0]}]")
        wanted = _clauses(spec.get("filter", [])) + _clauses(spec.get("must", []))
        refused = _clauses(spec.get("must_not", []))
        return all(_matches(q, doc_id, leaves) for q in wanted) and not any(
            _matches(q, doc_id, leaves) for q in refused
        )
    if kind == "ids":
        return doc_id in spec.get("values", [])
    if kind in ("term", "terms", "range"):
        ((field, condition),) = ((k, v) for k, v in spec.items() if k != "boost")
        values = _values(leaves, field)
        if kind == "term":
            value = condition.get("value") if isinstance(condition, dict) else condition
            return value in values
        if kind == "terms":
            return any(v in condition for v in values)
        return any(_in_range(v, condition) for v in values)
    raise _QueryError(f"unknown query [{kind}]")


class FakeElastic:
    """The cluster's (and Kibana's) state; thread-safe, shared across restarts."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.documents: dict[str, dict[str, dict[str, Any]]] = {}
        self.data_streams: set[str] = set()
        self.indices: dict[str, dict[str, Any]] = {}
        self.policies: dict[str, dict[str, Any]] = {}
        self.components: dict[str, dict[str, Any]] = {}
        self.index_templates: dict[str, dict[str, Any]] = {}
        self.saved_objects: dict[tuple[str, str, str], dict[str, Any]] = {}
        self.imports: list[dict[str, Any]] = []
        self.requests: list[tuple[str, str, dict[str, str]]] = []
        self.request_faults: list[int] = []
        self.item_faults: dict[str, list[int]] = {}
        self.bulk_ids: list[list[str]] = []
        self.authorization: str | None = None

    # --- Elasticsearch -------------------------------------------------------------
    def aliases(self) -> dict[str, str]:
        """Alias -> its write index."""
        return {
            alias: index
            for index, meta in self.indices.items()
            for alias, options in meta["aliases"].items()
            if options.get("is_write_index", True)
        }

    def _template_for(self, name: str) -> dict[str, Any] | None:
        best: tuple[int, dict[str, Any]] | None = None
        for template in self.index_templates.values():
            if any(fnmatch.fnmatchcase(name, p) for p in template["index_patterns"]):
                priority = int(template.get("priority", 0))
                if best is None or priority > best[0]:
                    best = (priority, template)
        return best[1] if best else None

    def _field_types(self, name: str) -> dict[str, str]:
        """Explicitly mapped fields whose values are checked (all of them unless the
        index setting ``mapping.ignore_malformed`` is on: then only ``@timestamp``)."""
        template = self._template_for(name) or {}
        types: dict[str, str] = {}
        lenient = False
        for component in template.get("composed_of", []):
            body = self.components[component].get("template", {})
            types.update(_flatten(body.get("mappings", {}).get("properties", {})))
            index = body.get("settings", {}).get("index", {})
            lenient |= index.get("mapping", {}).get("ignore_malformed", False) is True
        if lenient:
            return {key: kind for key, kind in types.items() if key == "@timestamp"}
        return types

    def _bulk_item(self, op: str, meta: dict[str, Any], source: Any) -> dict[str, Any]:
        target = self.aliases().get(meta.get("_index", ""), meta.get("_index", ""))
        doc_id = str(meta.get("_id", ""))
        result: dict[str, Any] = {"_index": target, "_id": doc_id}
        faults = self.item_faults.get(doc_id)
        if faults:
            status = faults.pop(0)
            return {**result, **_error(status, _ERROR_TYPES[status], f"injected {status}")}
        template = self._template_for(target)
        stream = template is not None and "data_stream" in template
        if op not in ("create", "index") or not isinstance(source, dict):
            return {**result, **_error(400, "illegal_argument_exception", f"bad op {op}")}
        if stream and op != "create":
            reason = "only write ops with an op_type of create are allowed in data streams"
            return {**result, **_error(400, "illegal_argument_exception", reason)}
        if stream and "@timestamp" not in source:
            reason = "data stream timestamp field [@timestamp] is missing"
            return {**result, **_error(400, "document_parsing_exception", reason)}
        types = self._field_types(target)
        for field, value in _leaves(source).items():
            kind = types.get(field)
            if kind and not all(
                _fits(kind, v) for v in (value if isinstance(value, list) else [value])
            ):
                reason = (
                    f"failed to parse field [{field}] of type [{kind}] in document with id "
                    f"'{doc_id}'. Preview of field's value: '{value}'"
                )
                return {**result, **_error(400, "document_parsing_exception", reason)}
        if stream:
            self.data_streams.add(target)
            result["_index"] = f".ds-{target}-2026.01.01-000001"
        documents = self.documents.setdefault(target, {})
        if op == "create" and doc_id in documents:
            reason = f"[{doc_id}]: version conflict, document already exists (current version [1])"
            return {**result, **_error(409, "version_conflict_engine_exception", reason)}
        existed = doc_id in documents
        documents[doc_id] = source
        status = 200 if existed else 201
        return {**result, "status": status, "result": "updated" if existed else "created"}

    def bulk(self, body: bytes) -> tuple[int, dict[str, Any]]:
        """Answer one ``_bulk`` request."""
        lines = [json.loads(line) for line in body.splitlines() if line.strip()]
        self.bulk_ids.append(
            [str(meta.get("_id")) for line in lines[::2] for meta in line.values()]
        )
        if self.request_faults:
            status = self.request_faults.pop(0)
            return status, _error(status, _ERROR_TYPES[status], f"injected {status}")
        items: list[dict[str, Any]] = []
        for header, source in zip(lines[::2], lines[1::2], strict=True):
            ((op, meta),) = header.items()
            items.append({op: self._bulk_item(op, meta, source)})
        errors = any(next(iter(i.values()))["status"] >= 300 for i in items)
        return 200, {"took": 1, "errors": errors, "items": items}

    def put(self, kind: str, name: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        """``PUT`` a policy, a component template or an index template."""
        if kind == "_index_template":
            missing = [c for c in body.get("composed_of", []) if c not in self.components]
            if missing:
                reason = (
                    f"index template [{name}] specifies component templates {missing} "
                    "that do not exist"
                )
                return 400, _error(400, "invalid_index_template_exception", reason)
            self.index_templates[name] = body
        elif kind == "_component_template":
            self.components[name] = body
        else:
            self.policies[name] = body
        return 200, {"acknowledged": True}

    def create_index(self, name: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        """``PUT /<index>``."""
        if name in self.indices or name in self.data_streams:
            reason = f"index [{name}/abc] already exists"
            return 400, _error(400, "resource_already_exists_exception", reason)
        self.indices[name] = {"aliases": body.get("aliases", {})}
        self.documents.setdefault(name, {})
        return 200, {"acknowledged": True, "shards_acknowledged": True, "index": name}

    def get_alias(self, name: str) -> tuple[int, dict[str, Any]]:
        """``GET /_alias/<name>``."""
        found = {
            index: {"aliases": {name: meta["aliases"][name]}}
            for index, meta in self.indices.items()
            if name in meta["aliases"]
        }
        if not found:
            return 404, {"error": f"alias [{name}] missing", "status": 404}
        return 200, found

    def _resolve(self, target: str) -> tuple[list[str], list[str]]:
        """Storage names a search target covers, and the expressions that matched none."""
        names: list[str] = []
        missing: list[str] = []
        for expression in target.split(","):
            if any(c in expression for c in "*?"):
                found = [n for n in self.documents if fnmatch.fnmatchcase(n, expression)]
            elif expression in self.documents:
                found = [expression]
            else:
                found = [
                    index for index, meta in self.indices.items() if expression in meta["aliases"]
                ]
                missing += [] if found else [expression]
            names += [n for n in found if n not in names]
        return names, missing

    def search(
        self, target: str, body: dict[str, Any], params: dict[str, list[str]]
    ) -> tuple[int, dict[str, Any]]:
        """``GET|POST /<target>/_search``."""
        names, missing = self._resolve(target)
        if missing and params.get("ignore_unavailable", ["false"])[0] != "true":
            reason = f"no such index [{missing[0]}]"
            return 404, _error(404, "index_not_found_exception", reason)
        start, size = int(body.get("from", 0)), int(body.get("size", 10))
        if start + size > _MAX_RESULT_WINDOW:
            reason = (
                f"Result window is too large, from + size must be less than or equal to: "
                f"[{_MAX_RESULT_WINDOW}] but was [{start + size}]."
            )
            return 400, _error(400, "illegal_argument_exception", reason)
        query = body.get("query", {"match_all": {}})
        try:
            hits = [
                (name, doc_id, source)
                for name in names
                for doc_id, source in self.documents.get(name, {}).items()
                if _matches(query, doc_id, _leaves(source))
            ]
        except _QueryError as error:
            return 400, _error(400, "parsing_exception", str(error))
        sort = _sort_fields(body.get("sort"))
        for field, descending in reversed(sort):
            present = [h for h in hits if _sort_key(_leaves(h[2]).get(field)) is not None]
            absent = [h for h in hits if _sort_key(_leaves(h[2]).get(field)) is None]
            present.sort(key=lambda h: _sort_key(_leaves(h[2]).get(field)), reverse=descending)
            hits = present + absent
        total = len(hits)
        tracked = body.get("track_total_hits", _MAX_RESULT_WINDOW)
        relation = "eq"
        if tracked is not True and total > int(tracked):
            total, relation = int(tracked), "gte"
        page = [
            {
                "_index": f".ds-{name}-2026.01.01-000001" if name in self.data_streams else name,
                "_id": doc_id,
                "_score": None if sort else 1.0,
                "_source": source,
                **({"sort": [_sort_key(_leaves(source).get(f)) for f, _ in sort]} if sort else {}),
            }
            for name, doc_id, source in hits[start : start + size]
        ]
        return 200, {
            "took": 1,
            "timed_out": False,
            "_shards": {"total": len(names), "successful": len(names), "skipped": 0, "failed": 0},
            "hits": {
                "total": {"value": total, "relation": relation},
                "max_score": None if sort else (1.0 if page else None),
                "hits": page,
            },
        }

    # --- Kibana ---------------------------------------------------------------------
    def import_objects(
        self, space: str, ndjson: bytes, *, overwrite: bool
    ) -> tuple[int, dict[str, Any]]:
        """``POST /api/saved_objects/_import``: check and store the objects."""
        objects: list[dict[str, Any]] = []
        for number, line in enumerate(ndjson.decode().splitlines(), start=1):
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except ValueError as error:
                return _bad_request(400, "Bad Request", f"line {number}: {error}")
            if not isinstance(obj, dict) or not {"type", "id", "attributes"} <= obj.keys():
                message = f"line {number}: a saved object needs type, id and attributes"
                return _bad_request(400, "Bad Request", message)
            objects.append(obj)
        known = {(o["type"], o["id"]) for o in objects}
        known |= {(t, i) for (s, t, i) in self.saved_objects if s == space}
        successes: list[dict[str, Any]] = []
        errors: list[dict[str, Any]] = []
        for obj in objects:
            key = (obj["type"], obj["id"])
            title = obj["attributes"].get("title", obj["id"])
            problem = self._object_problem(obj, known)
            if problem is None and not overwrite and (space, *key) in self.saved_objects:
                problem = {"type": "conflict"}
            if problem is not None:
                errors.append(
                    {"id": obj["id"], "type": obj["type"], "title": title, "error": problem}
                )
                continue
            self.saved_objects[(space, *key)] = obj
            successes.append({"type": obj["type"], "id": obj["id"], "meta": {"title": title}})
        self.imports.append({"space": space, "overwrite": overwrite, "objects": objects})
        answer: dict[str, Any] = {
            "success": not errors,
            "successCount": len(successes),
            "successResults": successes,
        }
        if errors:
            answer["errors"] = errors
        return 200, answer

    @staticmethod
    def _object_problem(obj: dict[str, Any], known: set[tuple[str, str]]) -> dict[str, Any] | None:
        if obj["type"] not in KIBANA_TYPES:
            return {"type": "unsupported_type"}
        references = obj.get("references", [])
        missing = [
            {"type": r["type"], "id": r["id"]}
            for r in references
            if (r["type"], r["id"]) not in known
        ]
        if missing:
            return {"type": "missing_references", "references": missing}
        if obj["type"] == "dashboard":
            names = {r["name"] for r in references}
            for panel in json.loads(obj["attributes"].get("panelsJSON", "[]")):
                ref = panel.get("panelRefName")
                if ref and ref not in names and f"{panel.get('panelIndex')}:{ref}" not in names:
                    return {"type": "missing_references", "references": [{"name": ref}]}
        return None


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server
    query: dict[str, list[str]]

    def log_message(self, format: str, *args: Any) -> None:
        """Keep test output quiet."""

    def setup(self) -> None:
        super().setup()
        with self.server.connections_lock:
            self.server.connections.add(self.connection)

    def finish(self) -> None:
        with self.server.connections_lock:
            self.server.connections.discard(self.connection)
        super().finish()

    def _answer(self, status: int, body: dict[str, Any] | None, *, kibana: bool = False) -> None:
        payload = b"" if body is None else json.dumps(body).encode()
        self.send_response(status)
        if kibana:
            self.send_header("Content-Type", "application/json; charset=utf-8")
        else:
            self.send_header("X-Elastic-Product", "Elasticsearch")
            self.send_header("Content-Type", "application/vnd.elasticsearch+json;compatible-with=9")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(payload)

    def _body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _handle(self) -> None:
        state = self.server.state
        url = urlsplit(self.path)
        self.query = parse_qs(url.query)
        parts = [unquote(p) for p in url.path.split("/") if p]
        body = self._body()
        with state.lock:
            state.requests.append(
                (self.command, url.path, {k.lower(): v for k, v in self.headers.items()})
            )
            if "api" in parts[:3] and parts[-2:] == ["saved_objects", "_import"]:
                self._kibana_import(state, parts, url.query, body)
                return
            answer: dict[str, Any] | None
            if state.authorization and self.headers.get("Authorization") != state.authorization:
                reason = "unable to authenticate user for REST request"
                status, answer = 401, _error(401, "security_exception", reason)
            else:
                status, answer = self._route(state, parts, body)
        self._answer(status, answer)

    def _route(
        self, state: FakeElastic, parts: list[str], body: bytes
    ) -> tuple[int, dict[str, Any] | None]:
        method = self.command
        if method == "GET" and not parts:
            version = {"number": "9.1.0", "build_flavor": "default", "lucene_version": "10.2.2"}
            info = {"name": "es01", "cluster_name": "neakta-test", "version": version}
            return 200, {**info, "tagline": "You Know, for Search"}
        if parts == ["_bulk"] and method in ("POST", "PUT"):
            return state.bulk(body)
        if (len(parts) == 2 and parts[0] in ("_component_template", "_index_template")) or (
            parts[:2] == ["_ilm", "policy"] and len(parts) == 3
        ):
            kind, name = ("_ilm", parts[2]) if parts[0] == "_ilm" else (parts[0], parts[1])
            if method == "PUT":
                return state.put(kind, name, json.loads(body))
        if len(parts) == 2 and parts[0] == "_alias" and method in ("HEAD", "GET"):
            status, answer = state.get_alias(parts[1])
            return status, None if method == "HEAD" else answer
        if len(parts) == 2 and parts[1] == "_search" and method in ("GET", "POST"):
            return state.search(parts[0], json.loads(body) if body else {}, self.query)
        if len(parts) == 1 and method == "PUT" and not parts[0].startswith("_"):
            return state.create_index(parts[0], json.loads(body) if body else {})
        return 405, _error(405, "unsupported_operation", f"{method} /{'/'.join(parts)}")

    def _kibana_import(self, state: FakeElastic, parts: list[str], query: str, body: bytes) -> None:
        if "kbn-xsrf" not in self.headers:
            message = "Request must contain a kbn-xsrf header."
            self._answer(*_bad_request(400, "Bad Request", message), kibana=True)
            return
        space = parts[1] if parts[0] == "s" else "default"
        overwrite = parse_qs(query).get("overwrite", ["false"])[0] == "true"
        header = f"Content-Type: {self.headers.get('Content-Type', '')}\r\n\r\n".encode()
        form = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(header + body)
        files = [
            part
            for part in form.iter_parts()
            if part.get_param("name", header="content-disposition") == "file"
        ]
        if not files or not str(files[0].get_filename()).endswith(".ndjson"):
            message = "Unsupported file: expected a file field named *.ndjson"
            self._answer(*_bad_request(415, "Unsupported Media Type", message), kibana=True)
            return
        content = files[0].get_payload(decode=True)
        status, answer = state.import_objects(space, bytes(content), overwrite=overwrite)
        self._answer(status, answer, kibana=True)

    do_GET = do_PUT = do_POST = do_HEAD = do_DELETE = _handle  # noqa: N815


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, port: int, state: FakeElastic, tls: ssl.SSLContext | None) -> None:
        super().__init__(("127.0.0.1", port), _Handler)
        if tls is not None:
            self.socket = tls.wrap_socket(self.socket, server_side=True)
        self.state = state
        self.connections: set[socket.socket] = set()
        self.connections_lock = threading.Lock()


class ElasticServer:
    """The fake cluster on a free port; :meth:`stop` and :meth:`start` simulate an outage."""

    def __init__(self, *, tls: tuple[Path, Path] | None = None) -> None:
        """``tls``: the server's certificate and key files, to answer over HTTPS."""
        self.state = FakeElastic()
        self._tls: ssl.SSLContext | None = None
        if tls is not None:
            self._tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            self._tls.load_cert_chain(*tls)
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port: int = probe.getsockname()[1]
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        scheme = "https" if self._tls else "http"
        return f"{scheme}://127.0.0.1:{self.port}"

    def start(self) -> None:
        """Listen (again) on the same port, with the same data."""
        self._server = _Server(self.port, self.state, self._tls)
        self._thread = threading.Thread(
            target=self._server.serve_forever, args=(0.05,), daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        """Stop listening and drop open connections: clients get connection errors."""
        if self._server is None:
            return
        self._server.shutdown()
        self._server.server_close()
        with self._server.connections_lock:
            for connection in list(self._server.connections):
                with contextlib.suppress(OSError):
                    connection.shutdown(socket.SHUT_RDWR)
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._server = None
