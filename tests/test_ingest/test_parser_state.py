"""Header-driven parser state (IIS ``#Fields:``) carried per input across batches."""

from __future__ import annotations

import polars as pl

from ingest.sources.parsing import ParserState, parse_records

FIELDS_A = "#Fields: date time c-ip cs-method cs-uri-stem sc-status"
FIELDS_B = "#Fields: date time cs-method cs-uri-stem c-ip sc-status"
LINE_A = "2026-11-20 08:00:0{} 10.0.0.{} GET /a 200"
LINE_B = "2026-11-20 08:00:0{} POST /b 10.0.1.{} 401"


def records(rows: list[tuple[str, int, str]]) -> pl.DataFrame:
    """Web records of (topic/partition, offset, line), in the given order."""
    return pl.DataFrame(
        {
            "family": ["web"] * len(rows),
            "source": [where.split("/")[0] for where, _, _ in rows],
            "origin": [f"{where}/{offset}" for where, offset, _ in rows],
            "line": [line for _, _, line in rows],
            "header_organization": [None] * len(rows),
            "source_organization": [None] * len(rows),
        },
        schema_overrides={"header_organization": pl.String, "source_organization": pl.String},
    )


def test_fields_directive_carries_into_later_batches_of_its_own_partition() -> None:
    state = ParserState()
    first = parse_records(
        records(
            [
                ("logs.web/0", 0, FIELDS_A),
                ("logs.web/0", 1, LINE_A.format(1, 1)),
                ("logs.web/1", 0, FIELDS_B),
                ("logs.web/1", 1, LINE_B.format(1, 1)),
            ]
        ),
        year=2026,
        state=state,
    )
    assert first.dead.height == 0
    assert state.iis_fields == {
        "logs.web/0": FIELDS_A.removeprefix("#Fields: "),
        "logs.web/1": FIELDS_B.removeprefix("#Fields: "),
    }
    # A later batch interleaves both partitions and holds no directive.
    second = parse_records(
        records(
            [
                ("logs.web/1", 2, LINE_B.format(2, 2)),
                ("logs.web/0", 2, LINE_A.format(2, 2)),
                ("logs.web/1", 3, LINE_B.format(3, 3)),
            ]
        ),
        year=2026,
        state=state,
    )
    assert second.dead.height == 0
    web = second.events["web"]
    assert web.select("source.ip", "http.request.method", "http.response.status_code").rows() == [
        ("10.0.1.2", "POST", 401),
        ("10.0.0.2", "GET", 200),
        ("10.0.1.3", "POST", 401),
    ]


def test_parser_state_survives_a_restart() -> None:
    state = ParserState()
    parse_records(records([("logs.web/0", 0, FIELDS_A)]), year=2026, state=state)
    restored = ParserState.from_bytes(state.to_bytes())
    later = parse_records(
        records([("logs.web/0", 1, LINE_A.format(1, 1))]), year=2026, state=restored
    )
    assert later.dead.height == 0
    assert later.events["web"].get_column("source.ip").to_list() == ["10.0.0.1"]


def test_without_a_known_directive_iis_lines_are_dead_letters() -> None:
    parsed = parse_records(
        records([("logs.web/0", 5, LINE_A.format(1, 1))]), year=2026, state=ParserState()
    )
    assert parsed.dead.get_column("reason").to_list() == ["unrecognized web format"]


def test_the_state_of_one_slot_keeps_only_its_inputs() -> None:
    state = ParserState({"logs.web/0": "a b", "logs.web/1": "c d"})
    assert state.keep({"logs.web/1"}) == ParserState({"logs.web/1": "c d"})
