"""Parsers never raise, and every input line is an event, a dead letter or a directive."""

from collections.abc import Callable

import polars as pl
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ingest.parsers import ParseResult, parse_endpoint, parse_firewall, parse_web, split_syslog
from ingest.parsers.result import number_lines
from ingest.schema import ENDPOINT_SCHEMA, FIREWALL_SCHEMA, WEB_SCHEMA
from tests.test_ingest import ingest_samples as samples

Parser = Callable[[pl.Series], ParseResult]

# One execve as auditd logs it: its four records become one endpoint event.
AUDITD_LINES = (
    "node=web1 type=SYSCALL msg=audit(1610903553.730:591): arch=c000003e syscall=59 "
    'success=yes exit=0 ppid=1234 pid=1235 auid=1000 uid=0 comm="curl" exe="/usr/bin/curl" '
    'key="exec"\x1dUID="root"',
    'node=web1 type=EXECVE msg=audit(1610903553.730:591): argc=3 a0="curl" a1="-o" '
    "a2=2F746D702F612062",
    'node=web1 type=CWD msg=audit(1610903553.730:591): cwd="/root"',
    "node=web1 type=PROCTITLE msg=audit(1610903553.730:591): "
    "proctitle=6375726C002D6F002F746D702F612062",
)

PARSERS: dict[str, tuple[Parser, dict[str, pl.DataType], tuple[str, ...]]] = {
    "firewall": (
        lambda lines: parse_firewall(lines, year=2024),
        FIREWALL_SCHEMA,
        samples.FIREWALL_LINES,
    ),
    "web": (lambda lines: parse_web(lines, year=2024), WEB_SCHEMA, samples.WEB_LINES),
    "endpoint": (parse_endpoint, ENDPOINT_SCHEMA, samples.ENDPOINT_LINES + AUDITD_LINES),
}
ALL_SAMPLES = samples.FIREWALL_LINES + samples.WEB_LINES + samples.ENDPOINT_LINES + AUDITD_LINES
# Characters that carry structure in the formats, so mutations hit the interesting paths.
SPECIAL = st.sampled_from([*'"=[]{},|\\ :<>#?-\t\n', "\u00e9", "\ufffd", "\x00"])

examples = settings(
    max_examples=120,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


@st.composite
def mutated_lines(draw: st.DrawFn) -> str:
    """A real sample with a few characters deleted or inserted at random places."""
    line: str = draw(st.sampled_from(ALL_SAMPLES))
    edits = draw(
        st.lists(
            st.tuples(
                st.booleans(),
                st.integers(0, 2_000),
                st.one_of(SPECIAL, st.characters(codec="utf-8")),
            ),
            max_size=6,
        )
    )
    for insert, where, character in edits:
        if insert:
            at = where % (len(line) + 1)
            line = line[:at] + character + line[at:]
        elif line:
            at = where % len(line)
            line = line[:at] + line[at + 1 :]
    return line


texts = st.lists(st.text(max_size=300), max_size=8)
decoded_bytes = st.lists(
    st.binary(max_size=300).map(lambda raw: raw.decode("utf-8", errors="replace")), max_size=8
)
mutations = st.lists(st.one_of(mutated_lines(), st.sampled_from(ALL_SAMPLES)), max_size=8)


def directive_count(lines: list[str]) -> int:
    """Lines whose message, once any syslog framing is split off, is a ``#`` directive."""
    messages = split_syslog(pl.Series(lines, dtype=pl.String), year=2024).get_column("message")
    return int(messages.str.starts_with("#").sum())


def joined_records(events: pl.DataFrame) -> int:
    """Lines that an auditd event took besides its first: its original holds one per line."""
    auditd = events.filter(pl.col("event.module") == "auditd")
    return int(auditd.get_column("event.original").str.count_matches("\n").sum())


def check_accounting(family: str, lines: list[str]) -> None:
    parse, schema, _ = PARSERS[family]
    result = parse(pl.Series(lines, dtype=pl.String))
    skipped = directive_count(lines) if family == "web" else 0
    skipped += joined_records(result.events) if family == "endpoint" else 0
    assert result.events.height + result.dead.height + skipped == len(lines)
    positions = result.dead.get_column("position").to_list()
    assert positions == sorted(set(positions))
    assert all(0 <= position < len(lines) for position in positions)
    assert result.dead.select(pl.col("reason").is_null().sum()).item() == 0
    assert result.events.schema == pl.Schema(schema)


@examples
@given(family=st.sampled_from(list(PARSERS)), lines=texts)
def test_arbitrary_text(family: str, lines: list[str]) -> None:
    check_accounting(family, lines)


@examples
@given(family=st.sampled_from(list(PARSERS)), lines=decoded_bytes)
def test_arbitrary_bytes_decoded_with_replacement(family: str, lines: list[str]) -> None:
    check_accounting(family, lines)


@examples
@given(family=st.sampled_from(list(PARSERS)), lines=mutations)
def test_mutated_real_lines(family: str, lines: list[str]) -> None:
    check_accounting(family, lines)


@examples
@given(lines=st.lists(st.one_of(st.text(max_size=200), mutated_lines()), max_size=8))
def test_split_syslog_keeps_one_row_per_line(lines: list[str]) -> None:
    frame = split_syslog(pl.Series(lines, dtype=pl.String), year=2024)
    assert frame.height == len(lines)
    unframed = frame.filter(pl.col("priority").is_null() & pl.col("hostname").is_null())
    assert unframed.get_column("message").null_count() == 0


def test_unmutated_samples_all_parse() -> None:
    for family, (parse, _, lines) in PARSERS.items():
        result = parse(pl.Series(lines))
        assert result.dead.height == 0, (family, result.dead.to_dicts())


def test_a_line_is_blank_exactly_where_stripping_its_start_leaves_nothing() -> None:
    # Every code point alone, before text and repeated.
    points = [chr(c) for c in range(0x110000) if not 0xD800 <= c < 0xE000]
    lines = pl.Series([*points, *(p + "x" for p in points), *(p * 3 for p in points)])
    blank = number_lines(lines).get_column("_reason").eq_missing("empty line")
    stripped = lines.str.strip_chars_start().str.len_bytes() == 0
    assert blank.to_list() == stripped.to_list()
    assert blank.sum() == 2 * 25  # the 25 White_Space characters, alone and repeated
