"""Where Windows/Sysmon event fields live in the two JSON shapes, and where they go.

Raw Windows event JSON keeps Sysmon's names (``Image``, ``CommandLine``...) either at
the top level or under ``EventData`` / ``Event.EventData``, with the system fields
(``EventID``, ``Channel``, ``Computer``) at the top level or under ``System`` /
``Event.System``. Winlogbeat writes ECS fields (``process.executable``...) and keeps
the Sysmon names under ``winlog.event_data``. Each output column is the first non-null
of its candidate paths.
"""

from typing import Any, Final

import polars as pl

from ingest.schema import ENDPOINT_SCHEMA

__all__ = [
    "BEATS_DTYPE",
    "RAW_DTYPE",
    "beats_columns",
    "raw_columns",
    "raw_dtype",
]

# Sysmon EventData name -> column, in priority order where two names feed one column.
EVENT_DATA: Final[tuple[tuple[str, str], ...]] = (
    ("Image", "process.executable"),
    ("SourceImage", "process.executable"),
    ("CommandLine", "process.command_line"),
    ("ProcessId", "process.pid"),
    ("SourceProcessId", "process.pid"),
    ("ProcessGuid", "process.entity_id"),
    ("SourceProcessGuid", "process.entity_id"),
    ("CurrentDirectory", "process.working_directory"),
    ("OriginalFileName", "process.pe.original_file_name"),
    ("Description", "process.pe.description"),
    ("Product", "process.pe.product"),
    ("Company", "process.pe.company"),
    ("FileVersion", "process.pe.file_version"),
    ("ParentImage", "process.parent.executable"),
    ("ParentCommandLine", "process.parent.command_line"),
    ("ParentProcessId", "process.parent.pid"),
    ("ParentProcessGuid", "process.parent.entity_id"),
    ("TargetFilename", "file.path"),
    ("ImageLoaded", "dll.path"),
    ("TargetObject", "registry.path"),
    ("QueryName", "dns.question.name"),
    ("SourceIp", "source.ip"),
    ("SourcePort", "source.port"),
    ("SourceHostname", "source.domain"),
    ("DestinationIp", "destination.ip"),
    ("DestinationPort", "destination.port"),
    ("DestinationHostname", "destination.domain"),
    ("Protocol", "network.transport"),
    *(
        (name.removeprefix("winlog.event_data."), name)
        for name in ENDPOINT_SCHEMA
        if name.startswith("winlog.event_data.")
    ),
)
# Fields that need more than a copy; they become working columns ``_User``... that
# endpoint.py splits or parses.
DERIVED: Final = ("User", "Hashes", "Hash", "UtcTime")
SYSTEM: Final[tuple[tuple[str, str], ...]] = (
    ("EventID", "event.code"),
    ("Channel", "winlog.channel"),
    ("Computer", "winlog.computer_name"),
    ("Hostname", "winlog.computer_name"),
    ("ProviderName", "winlog.provider_name"),
    ("SourceName", "winlog.provider_name"),
)
_DATA_ROOTS: Final = ("", "EventData.", "Event.EventData.")
_SYSTEM_ROOTS: Final = ("", "System.", "Event.System.")
_BEATS_DATA: Final = "winlog.event_data."
# ECS columns Winlogbeat writes itself; everything else is derived or from event_data.
_ECS_ROOTS: Final = {
    "process", "user", "host", "file", "dll", "registry", "dns", "source", "destination",
    "network",
}  # fmt: skip
_BEATS_ECS: Final = (
    "@timestamp",
    "event.code",
    *(name for name in ENDPOINT_SCHEMA if name.split(".")[0] in _ECS_ROOTS),
    *(name for name in ENDPOINT_SCHEMA if name.startswith("winlog.") and name.count(".") == 1),
)


def _struct_of(paths: list[str]) -> pl.Struct:
    """Nested struct type with a String leaf at each dotted path."""
    tree: dict[str, Any] = {}
    for path in paths:
        node = tree
        *parents, leaf = path.split(".")
        for part in parents:
            node = node.setdefault(part, {})
        node.setdefault(leaf, {})

    def build(node: dict[str, Any]) -> pl.Struct:
        return pl.Struct(
            {key: build(child) if child else pl.String() for key, child in node.items()}
        )

    return build(tree)


def _raw_paths() -> dict[str, list[str]]:
    """Output column -> candidate paths in raw Windows event JSON."""
    paths: dict[str, list[str]] = {}
    for names, roots in ((EVENT_DATA, _DATA_ROOTS), (SYSTEM, _SYSTEM_ROOTS)):
        for key, column in names:
            paths.setdefault(column, []).extend(root + key for root in roots)
    for key in DERIVED:
        paths["_" + key] = [root + key for root in _DATA_ROOTS]
    return paths


def _beats_paths() -> dict[str, list[str]]:
    """Output column -> candidate paths in Winlogbeat JSON: ECS first, event data next."""
    paths: dict[str, list[str]] = {name: [name] for name in _BEATS_ECS}
    for key, column in EVENT_DATA:
        paths.setdefault(column, []).append(_BEATS_DATA + key)
    for key in DERIVED:
        paths["_" + key] = [_BEATS_DATA + key]
    paths["event.code"].append("winlog.event_id")
    paths["winlog.event_id"].append("event.code")
    return paths


RAW_PATHS: Final = _raw_paths()
BEATS_PATHS: Final = _beats_paths()
RAW_DTYPE: Final = _struct_of([path for group in RAW_PATHS.values() for path in group])
BEATS_DTYPE: Final = _struct_of([path for group in BEATS_PATHS.values() for path in group])


# The nested objects of raw event JSON. Most batches have none of them (flat Sysmon JSON)
# and decoding into a struct that names them costs about a third of the decoding time.
_NESTED_ROOTS: Final = ("EventData", "Event", "System")
# A JSON ``\uXXXX`` escape (an odd run of backslashes before ``u``) can spell any key.
_UNICODE_ESCAPE = r"(?:^|[^\\])(?:\\\\)*\\u"
# Where a line may hold a root as a key: a quoted name and a colon. A value (Sysmon's
# ``"IntegrityLevel":"System"``) is followed by a comma or a bracket; inside a string
# the quotes are escaped. One expression finds the lines any root or escape may be in.
_ROOT_KEY = r'"{}"\s*:'
_MAYBE_NESTED = r"\\u|" + _ROOT_KEY.format("(?:" + "|".join(_NESTED_ROOTS) + ")")


def raw_dtype(texts: pl.Series) -> pl.Struct:
    """:data:`RAW_DTYPE` without the nested objects that no line of ``texts`` can hold.

    A key can only be in a line whose text holds it in quotes followed by a colon, or
    spells it with a ``\\u`` escape; a key absent from every line is null for every line
    either way, so leaving it out of the struct changes no decoded value.

    Examples
    --------
    >>> [field.name for field in raw_dtype(pl.Series(['{"EventID": 1}'])).fields][-3:]
    ['User', 'Hash', 'UtcTime']
    >>> len(raw_dtype(pl.Series(['{"System": {"EventID": 1}}'])).fields)
    55
    >>> len(raw_dtype(pl.Series(['{"IntegrityLevel": "System"}'])).fields)
    54
    """
    # One scan of the batch; the rare lines it finds are looked at root by root.
    maybe = texts.filter(texts.str.contains(_MAYBE_NESTED))
    if maybe.str.contains(_UNICODE_ESCAPE).any():
        return RAW_DTYPE
    absent = {
        root for root in _NESTED_ROOTS if not maybe.str.contains(_ROOT_KEY.format(root)).any()
    }
    if not absent:
        return RAW_DTYPE
    return pl.Struct([field for field in RAW_DTYPE.fields if field.name not in absent])


def _at(struct: pl.Expr, path: str) -> pl.Expr:
    for part in path.split("."):
        struct = struct.struct.field(part)
    return struct


def _columns(
    struct: pl.Expr, paths: dict[str, list[str]], roots: set[str] | None = None
) -> list[pl.Expr]:
    """First non-null of each column's paths; paths under a root not in ``roots`` skipped."""
    columns = []
    for column, group in paths.items():
        kept = [path for path in group if roots is None or path.split(".")[0] in roots]
        value = (
            pl.coalesce(*(_at(struct, path) for path in kept))
            if kept
            else pl.lit(None, dtype=pl.String)
        )
        columns.append(value.alias(column))
    return columns


def raw_columns(struct: pl.Expr, dtype: pl.Struct = RAW_DTYPE) -> list[pl.Expr]:
    """Columns (and the derived raw fields) read from decoded raw Windows event JSON.

    ``dtype`` is the struct the JSON was decoded into, :data:`RAW_DTYPE` or the result
    of :func:`raw_dtype`.

    Examples
    --------
    >>> frame = pl.DataFrame({"e": ['{"Event": {"System": {"EventID": 1}}}']})
    >>> decoded = frame.select(pl.col("e").str.json_decode(RAW_DTYPE))
    >>> decoded.select(raw_columns(pl.col("e"))).get_column("event.code").to_list()
    ['1']
    """
    return _columns(struct, RAW_PATHS, {field.name for field in dtype.fields})


def beats_columns(struct: pl.Expr) -> list[pl.Expr]:
    """Columns (and the derived raw fields) read from decoded Winlogbeat JSON.

    Examples
    --------
    >>> frame = pl.DataFrame({"e": ['{"winlog": {"event_id": "1"}, "process": {"pid": 4}}']})
    >>> decoded = frame.select(pl.col("e").str.json_decode(BEATS_DTYPE))
    >>> decoded.select(beats_columns(pl.col("e"))).select("event.code", "process.pid").row(0)
    ('1', '4')
    """
    return _columns(struct, BEATS_PATHS)
