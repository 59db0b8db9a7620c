"""Endpoint events: Windows/Sysmon JSON (raw event or Winlogbeat), and Linux auditd records."""

import polars as pl

from ingest.parsers import auditd, sysmon
from ingest.parsers.jsonlines import TYPE_MISMATCH, decode_objects, json_reason
from ingest.parsers.result import ORIGINAL, REASON, ParseResult, finish, number_lines, reject
from ingest.parsers.timestamps import parse_iso8601
from ingest.schema import ENDPOINT_SCHEMA

__all__ = ["parse_endpoint"]

UNRECOGNIZED = "unrecognized endpoint event shape"
SYSMON_CHANNEL = "Microsoft-Windows-Sysmon/Operational"

_OBJECT = r"^\s*\{"
_AUDIT = r"msg=audit\("
_HASHES = ("md5", "sha1", "sha256")
# Sysmon event id -> (event.category, event.type).
_SYSMON_KINDS: dict[str, tuple[str, str]] = {
    "1": ("process", "start"), "3": ("network", "connection"), "5": ("process", "end"),
    "11": ("file", "creation"), "12": ("registry", "change"), "13": ("registry", "change"),
    "14": ("registry", "change"), "22": ("network", "protocol"), "23": ("file", "deletion"),
}  # fmt: skip
_BASENAME = r"([^\\/]+)$"
_HASHES_LOWER = "_hashes"


def _hash(algorithm: str) -> pl.Expr:
    """One algorithm's value from Sysmon's ``MD5=..,SHA256=..`` list, in lower case.

    Reads the working column ``_hashes`` (see :func:`_lowered_hashes`). The whole match
    is extracted and cut at its only ``=``: a regex without capture groups or case
    folding runs on the faster engine.
    """
    pair = pl.col(_HASHES_LOWER).str.extract(rf"(?:^|,)\s*{algorithm}=[0-9a-f]+", 0)
    return pair.str.splitn("=", 2).struct.field("field_1")


def _lowered_hashes() -> pl.Expr:
    """The hash list in lower case, matched by :func:`_hash` as ``(?i)`` would match it.

    Under Unicode case folding ``s`` also matches the long s ``ſ``, which has no other
    case to lower to; spelling it ``s`` keeps the matches of a case-insensitive regex.
    """
    hashes = pl.coalesce(pl.col("_Hashes"), pl.col("_Hash"))
    return hashes.str.to_lowercase().str.replace_all("\u017f", "s", literal=True)


def _kind(code: pl.Expr, which: int) -> pl.Expr:
    mapping = {event_id: kinds[which] for event_id, kinds in _SYSMON_KINDS.items()}
    return code.replace_strict(mapping, default=None, return_dtype=pl.String)


def _normalize(frame: pl.DataFrame, dataset: str) -> pl.DataFrame:
    """Derive the columns that need more than a copy of one JSON field."""
    user = pl.col("_User")
    code = pl.col("event.code")
    sysmon_event = pl.col("winlog.channel") == SYSMON_CHANNEL
    # Lazily, so that expressions used more than once (the user, the timestamp, whether
    # the event is Sysmon's) are computed once.
    lazy = frame.lazy().with_columns(_lowered_hashes().alias(_HASHES_LOWER))
    derived = lazy.with_columns(
        pl.coalesce(parse_iso8601(pl.col("@timestamp")), parse_iso8601(pl.col("_UtcTime"))).alias(
            "@timestamp"
        ),
        pl.coalesce(pl.col("@timestamp"), pl.col("_UtcTime")).alias("_time_text"),
        pl.coalesce("host.name", "winlog.computer_name").alias("host.name"),
        pl.coalesce("winlog.event_id", "event.code").alias("winlog.event_id"),
        pl.coalesce("user.name", user.str.extract(r"([^\\]*)$", 1)).alias("user.name"),
        pl.coalesce("user.domain", user.str.extract(r"^(.*)\\", 1)).alias("user.domain"),
        pl.coalesce("process.name", pl.col("process.executable").str.extract(_BASENAME, 1)).alias(
            "process.name"
        ),
        pl.coalesce(
            "process.parent.name", pl.col("process.parent.executable").str.extract(_BASENAME, 1)
        ).alias("process.parent.name"),
        pl.coalesce("registry.value", pl.col("registry.path").str.extract(r"([^\\]+)$", 1)).alias(
            "registry.value"
        ),
        *(
            pl.coalesce(f"process.hash.{name}", _hash(name)).alias(f"process.hash.{name}")
            for name in _HASHES
        ),
        pl.coalesce("process.pe.imphash", _hash("imphash")).alias("process.pe.imphash"),
        pl.col("network.transport").str.to_lowercase(),
        pl.when(sysmon_event).then(_kind(code, 0)).alias("event.category"),
        pl.when(sysmon_event).then(_kind(code, 1)).alias("event.type"),
        pl.when(sysmon_event)
        .then(pl.lit("sysmon"))
        .otherwise(pl.lit("windows"))
        .alias("event.module"),
        pl.lit(dataset).alias("event.dataset"),
        pl.lit("event").alias("event.kind"),
    )
    numbers = [
        pl.col(name).cast(dtype, strict=False)
        for name, dtype in ENDPOINT_SCHEMA.items()
        if dtype.is_integer()
    ]
    reason = pl.when(pl.col("_time_text").is_not_null() & pl.col("@timestamp").is_null()).then(
        pl.lit("invalid timestamp")
    )
    return (
        derived.with_columns(*numbers, pl.col(REASON).fill_null(reason))
        .drop(_HASHES_LOWER)
        .collect()
    )


def _read(frame: pl.DataFrame, dtype: pl.Struct, columns: list[pl.Expr]) -> pl.DataFrame:
    """Decode each line's object and lay its fields out as columns."""
    structs, reasons = decode_objects(frame.get_column(ORIGINAL), dtype)
    decoded = pl.DataFrame({"_json": structs}).select(columns)
    taken = {*decoded.columns, *frame.columns}
    absent = [name for name in ENDPOINT_SCHEMA if name not in taken]
    decoded = decoded.with_columns(pl.lit(None, dtype=pl.String).alias(name) for name in absent)
    return pl.concat([frame, decoded], how="horizontal").with_columns(
        pl.col(REASON).fill_null(pl.lit(reasons))
    )


def parse_endpoint(lines: pl.Series) -> ParseResult:
    r"""Parse a batch of Windows/Sysmon JSON events into ECS endpoint events.

    Each line is one JSON object: either a raw Windows event (Sysmon names such as
    ``Image`` and ``CommandLine``, flat or under ``EventData`` / ``Event.EventData``,
    with ``EventID`` and ``Channel`` flat or under ``System`` / ``Event.System``), or a
    Winlogbeat ECS document (``winlog.event_id``, ``process.*``...). Invalid JSON, JSON
    that is not an object, and objects with neither shape become dead letters.

    A line that does not start with ``{`` but carries an auditd record id
    (``msg=audit(``) is an auditd record, parsed by :func:`ingest.parsers.auditd.audit_parts`:
    the records of one ``execve`` become one event (``event.dataset`` ``auditd.exec``),
    positioned at its first record. Any other line is a dead letter with the JSON reason.

    Parameters
    ----------
    lines
        Raw lines, one JSON object or auditd record per row.

    Returns
    -------
    ParseResult
        ``events`` with the columns of :data:`ingest.schema.ENDPOINT_SCHEMA`
        (``event.dataset`` ``endpoint.sysmon``, ``endpoint.winlogbeat`` or ``auditd.exec``),
        and ``dead`` with the rejected lines.

    Examples
    --------
    >>> line = ('{"EventID": 1, "Channel": "Microsoft-Windows-Sysmon/Operational", '
    ...         '"Computer": "ws01", "UtcTime": "2024-01-02 03:04:05.678", '
    ...         r'"Image": "C:\\Windows\\System32\\cmd.exe", "User": "CORP\\alice", '
    ...         '"Hashes": "MD5=AB12,SHA256=CD34"}')
    >>> result = parse_endpoint(pl.Series([line, "not json"]))
    >>> result.events.select("event.code", "process.name", "user.name", "process.hash.sha256")
    shape: (1, 4)
    ┌────────────┬──────────────┬───────────┬─────────────────────┐
    │ event.code ┆ process.name ┆ user.name ┆ process.hash.sha256 │
    │ ---        ┆ ---          ┆ ---       ┆ ---                 │
    │ str        ┆ str          ┆ str       ┆ str                 │
    ╞════════════╪══════════════╪═══════════╪═════════════════════╡
    │ 1          ┆ cmd.exe      ┆ alice     ┆ cd34                │
    └────────────┴──────────────┴───────────┴─────────────────────┘
    >>> result.dead.row(0)
    ('not json', 1, 'invalid JSON')
    """
    frame = number_lines(lines)
    pending = pl.col(REASON).is_null()
    raw = pl.col(ORIGINAL)
    objects = frame.select(pending & raw.str.contains(_OBJECT)).to_series()
    # Where every line starts like an object, no line is an auditd record: no second scan.
    records = (
        frame.select(pending & ~objects & raw.str.contains(_AUDIT)).to_series()
        if not objects.all()
        else objects.not_()
    )
    others = frame.filter(~objects & ~records)
    # Lines that do not even start like an object are rare: name why they fail one by one.
    others = others.with_columns(
        pl.col(REASON).fill_null(
            pl.Series([json_reason(text) for text in others.get_column(ORIGINAL).to_list()])
        )
    )
    candidates = frame.filter(objects)
    is_beats = candidates.select(raw.str.contains('"winlog"', literal=True)).to_series()
    parts = [others]
    # Each step below has a fixed cost of milliseconds: a batch without auditd records or
    # Winlogbeat documents (most batches hold one kind) skips it.
    if records.any():
        parts.extend(auditd.audit_parts(frame.filter(records)))
    rest = candidates.filter(~is_beats)
    if is_beats.any():
        beats = _read(
            candidates.filter(is_beats), sysmon.BEATS_DTYPE, sysmon.beats_columns(pl.col("_json"))
        )
        # A line that mentions "winlog" without being Winlogbeat may still be a raw event.
        reason = pl.col(REASON)
        retried = pl.col("event.code").is_null() & (reason.is_null() | (reason == TYPE_MISMATCH))
        parts.append(_normalize(beats.filter(~retried), "endpoint.winlogbeat"))
        retry = (
            beats.filter(retried)
            .select(candidates.columns)
            .with_columns(pl.lit(None, dtype=pl.String).alias(REASON))
        )
        rest = pl.concat([rest, retry])
    dtype = sysmon.raw_dtype(rest.get_column(ORIGINAL))
    plain = _read(rest, dtype, sysmon.raw_columns(pl.col("_json"), dtype))
    found = pl.col("event.code").is_not_null() | pl.col(REASON).is_not_null()
    parts.append(_normalize(plain.filter(found), "endpoint.sysmon"))
    parts.append(reject(plain.filter(~found).select(candidates.columns), UNRECOGNIZED))
    return finish(parts, ENDPOINT_SCHEMA)
