"""Linux auditd process executions: SYSCALL + EXECVE (+ CWD, PROCTITLE) records as one event.

auditd writes one line per record, ``type=T msg=audit(EPOCH:SERIAL): key=value...``,
optionally after ``node=HOST`` and a syslog header. The records of one kernel event share
the ``audit(EPOCH:SERIAL)`` id; those of an ``execve`` are joined here into one ECS
process-start event (``event.dataset`` ``auditd.exec``). Its ``event.original`` is the
joined records, one per line, and its position in the batch is that of its first record.

Lines are dead letters when they carry no record header, when their record type is not
one used here (reason ``auditd record type X not used``), or when their event has no
SYSCALL or no EXECVE record in the batch (records of one event split over two batches are
not joined), or when they hold a line break. Values auditd writes in hexadecimal (those with
spaces or special characters) are decoded; one that is not valid UTF-8 stays in hex.
"""

import polars as pl

from ingest.parsers.result import ORIGINAL, POSITION, REASON, ParseResult, finish, number_lines
from ingest.schema import ENDPOINT_SCHEMA

__all__ = ["AUDITD_DATASET", "USED_TYPES", "audit_parts", "parse_auditd"]

AUDITD_DATASET = "auditd.exec"
USED_TYPES = ("SYSCALL", "EXECVE", "CWD", "PROCTITLE")
NOT_RECORD = "not an auditd record"
# The joined records of an event are its ``event.original``, one per line.
LINE_BREAK = "auditd record with a line break"
INCOMPLETE = "auditd event without both SYSCALL and EXECVE records in the batch"

# The header is found by a regex without capture groups (the faster engine), then split.
_HEADER = r"(?:^|\s)(?:node=\S+ )?type=[A-Z_0-9]+ msg=audit\(\d{1,10}(?:\.\d{1,6})?:\d+\):"
_ARG = r'(?:^|\s)a\d+(?:\[\d+\])?=(?:"[^"]*"|\S+)'
# Hex text that decodes to valid UTF-8 (decoding anything else would fail).
_UTF8_HEX = (
    r"^(?:[0-7][0-9A-F]|(?:C[2-9A-F]|D[0-9A-F])[89AB][0-9A-F]|E0[AB][0-9A-F][89AB][0-9A-F]"
    r"|E[1-9A-CEF][89AB][0-9A-F][89AB][0-9A-F]|ED[89][0-9A-F][89AB][0-9A-F]"
    r"|F0[9AB][0-9A-F](?:[89AB][0-9A-F]){2}|F[1-3](?:[89AB][0-9A-F]){3}"
    r"|F48[0-9A-F](?:[89AB][0-9A-F]){2})*$"
)
_KEY = "_event_key"
_TYPE = "_type"


def _raw(key: str) -> pl.Expr:
    """The value of ``key=`` in the record: quoted, hex or bare, as written.

    The whole ``key=value`` is matched (no capture group: the faster regex engine) and
    the key cut off. Enriched logs (``log_format=ENRICHED``) append upper-case
    translations such as ``UID="root"`` after a 0x1d byte.
    """
    pair = pl.col(ORIGINAL).str.extract(rf'[\s\x1d]{key}=(?:"[^"]*"|[^\s\x1d]+)', 0)
    return pair.str.slice(len(key) + 2)


def _decode(raw: pl.Expr) -> pl.Expr:
    """A quoted value without its quotes; a hex value decoded; ``(null)`` as null."""
    upper = raw.str.to_uppercase()
    is_hex = upper.str.contains(r"^(?:[0-9A-F]{2})+$") & upper.str.contains(_UTF8_HEX)
    decoded = pl.when(is_hex).then(upper).str.decode("hex", strict=False).cast(pl.String)
    return (
        pl.when(raw.str.starts_with('"'))
        .then(raw.str.strip_prefix('"').str.strip_suffix('"'))
        .when(raw == "(null)")
        .then(pl.lit(None, dtype=pl.String))
        .when(is_hex)
        .then(decoded)
        .otherwise(raw)
    )


def _command_lines(records: pl.DataFrame) -> pl.DataFrame:
    """``_event_key`` -> the EXECVE arguments of the event, decoded and joined with spaces.

    Arguments too long for one record come as chunks ``aN[0]=``, ``aN[1]=``... of hex,
    concatenated before decoding.
    """
    arg = pl.col("_arg")
    tokens = (
        records.lazy()
        .filter(pl.col(_TYPE) == "EXECVE")
        .select(_KEY, pl.col(ORIGINAL).str.extract_all(_ARG).alias("_arg"))
        .explode("_arg")
        .drop_nulls("_arg")
        .with_row_index("_order")
        .select(
            _KEY,
            "_order",
            arg.str.contains("[", literal=True).alias("_chunk"),
            arg.str.extract(r"a\d+", 0).alias("_n"),
            arg.str.splitn("=", 2).struct.field("field_1").alias("_value"),
        )
        .collect()
    )
    chunked = tokens.filter(pl.col("_chunk"))
    arguments = tokens.filter(~pl.col("_chunk")).select(_KEY, "_order", "_value")
    if chunked.height:
        # Rare: join the chunks of each argument, then put it back in its place.
        whole = chunked.group_by(_KEY, "_n").agg(
            pl.col("_order").min(), pl.col("_value").sort_by("_order").str.join("")
        )
        arguments = pl.concat([arguments, whole.select(arguments.columns)]).sort("_order")
    return arguments.group_by(_KEY).agg(
        _decode(pl.col("_value")).fill_null("(null)").str.join(" ").alias("process.command_line")
    )


def _records(frame: pl.DataFrame) -> pl.DataFrame:
    """The lines with their header split out: ``_type``, ``_event_key``, host and time."""
    header = pl.col(ORIGINAL).str.extract(_HEADER, 0).alias("_header")
    split = frame.with_columns(header)
    head = pl.col("_header")
    stamp = head.str.extract(r"audit\(([0-9.]+):", 1)
    seconds = stamp.str.extract(r"^(\d+)", 1).cast(pl.Int64)
    fraction = stamp.str.extract(r"\.(\d+)$", 1).fill_null("0").str.pad_end(6, "0")
    micros = seconds * 1_000_000 + fraction.cast(pl.Int64)
    return split.with_columns(
        head.str.extract(r"type=(\S+)", 1).alias(_TYPE),
        head.str.extract(r"audit\(([^)]*)\)", 1).alias("_id"),
        head.str.extract(r"node=(\S+)", 1).alias("host.name"),
        pl.from_epoch(micros, "us").dt.replace_time_zone("UTC").alias("@timestamp"),
    ).with_columns(
        pl.concat_str(pl.col("host.name").fill_null(""), pl.col("_id"), separator=" ").alias(_KEY)
    )


def _syscalls(records: pl.DataFrame) -> pl.DataFrame:
    """``_event_key`` -> the fields of the event's (first) SYSCALL record."""
    return (
        records.lazy()
        .filter(pl.col(_TYPE) == "SYSCALL")
        .unique(_KEY, keep="first", maintain_order=True)
        .select(
            _KEY,
            _raw("syscall").alias("event.code"),
            _decode(_raw("exe")).alias("process.executable"),
            _decode(_raw("comm")).alias("_comm"),
            _raw("pid").cast(pl.Int64, strict=False).alias("process.pid"),
            _raw("ppid").cast(pl.Int64, strict=False).alias("process.parent.pid"),
            _raw("uid").alias("user.id"),
            _decode(_raw("UID")).alias("user.name"),
            _raw("success")
            .replace_strict({"yes": "success", "no": "failure"}, default="unknown")
            .alias("event.outcome"),
        )
        .collect()
    )


def _directories(records: pl.DataFrame) -> pl.DataFrame:
    """``_event_key`` -> the working directory of the event's (first) CWD record."""
    return (
        records.filter(pl.col(_TYPE) == "CWD")
        .unique(_KEY, keep="first", maintain_order=True)
        .select(_KEY, _decode(_raw("cwd")).alias("process.working_directory"))
    )


def audit_parts(frame: pl.DataFrame) -> list[pl.DataFrame]:
    """Working frames (``_position``, ``event.original``, ``_reason``...) for :func:`finish`.

    ``frame`` is a frame from :func:`ingest.parsers.result.number_lines` (or rows of one).
    """
    parsed = _records(frame)
    kind = pl.col(_TYPE)
    reason = (
        pl.when(kind.is_null())
        .then(pl.lit(NOT_RECORD))
        .when(pl.col(ORIGINAL).str.contains(r"[\r\n]"))
        .then(pl.lit(LINE_BREAK))
        .when(~kind.is_in(USED_TYPES))
        .then(pl.format("auditd record type {} not used", kind))
    )
    parsed = parsed.with_columns(pl.col(REASON).fill_null(reason))
    pending = pl.col(REASON).is_null()
    complete = (kind == "SYSCALL").any().over(_KEY) & (kind == "EXECVE").any().over(_KEY)
    dead = parsed.filter(~pending).select(POSITION, ORIGINAL, REASON)
    records = parsed.filter(pending)
    incomplete = records.filter(~complete).select(
        POSITION, ORIGINAL, pl.lit(INCOMPLETE).alias(REASON)
    )
    records = records.filter(complete)
    events = (
        records.group_by(_KEY, maintain_order=True)
        .agg(
            pl.col(POSITION).min(),
            pl.col(ORIGINAL).str.join("\n"),
            pl.col("host.name").first(),
            pl.col("@timestamp").first(),
        )
        .join(_syscalls(records), on=_KEY, how="left")
        .join(_directories(records), on=_KEY, how="left")
        .join(_command_lines(records), on=_KEY, how="left")
        .with_columns(
            pl.coalesce(
                pl.col("process.executable").str.extract(r"([^/]+)$", 1), pl.col("_comm")
            ).alias("process.name"),
            pl.lit("executed").alias("event.action"),
            pl.lit("process").alias("event.category"),
            pl.lit("start").alias("event.type"),
            pl.lit("event").alias("event.kind"),
            pl.lit("auditd").alias("event.module"),
            pl.lit(AUDITD_DATASET).alias("event.dataset"),
            pl.lit(None, dtype=pl.String).alias(REASON),
        )
        .drop(_KEY, "_comm")
    )
    return [dead, incomplete, events]


def parse_auditd(lines: pl.Series) -> ParseResult:
    r"""Parse a batch of raw auditd lines into ECS process-start events.

    Parameters
    ----------
    lines
        Raw auditd records, one per row, optionally after ``node=HOST`` and a syslog header.

    Returns
    -------
    ParseResult
        ``events`` with the columns of :data:`ingest.schema.ENDPOINT_SCHEMA`, one row per
        ``execve`` event, and ``dead`` with the lines not used (with their reason).

    Examples
    --------
    >>> lines = pl.Series([
    ...     'node=web1 type=SYSCALL msg=audit(1610903553.730:591): syscall=59 success=yes '
    ...     'ppid=1234 pid=1235 uid=0 comm="curl" exe="/usr/bin/curl"',
    ...     'node=web1 type=EXECVE msg=audit(1610903553.730:591): argc=3 a0="curl" a1="-o" '
    ...     'a2=2F746D702F2078',
    ...     'node=web1 type=LOGIN msg=audit(1610903553.731:592): pid=1',
    ... ])
    >>> result = parse_auditd(lines)
    >>> result.events.select("host.name", "process.name", "process.command_line").row(0)
    ('web1', 'curl', 'curl -o /tmp/ x')
    >>> result.dead.select("position", "reason").row(0)
    (2, 'auditd record type LOGIN not used')
    """
    return finish(audit_parts(number_lines(lines)), ENDPOINT_SCHEMA)
