"""Schema constants, conform, and the error hierarchy."""

import polars as pl
import pytest

from ingest.errors import DecodeError, IngestError, ParseError
from ingest.schema import (
    COMMON_COLUMNS,
    ENDPOINT_SCHEMA,
    FIREWALL_SCHEMA,
    WEB_SCHEMA,
    conform,
)


def test_every_family_starts_with_the_common_columns() -> None:
    for schema in (FIREWALL_SCHEMA, WEB_SCHEMA, ENDPOINT_SCHEMA):
        assert list(schema)[: len(COMMON_COLUMNS)] == list(COMMON_COLUMNS)
    assert COMMON_COLUMNS["@timestamp"] == pl.Datetime("us", "UTC")
    assert FIREWALL_SCHEMA["source.port"] == pl.Int32()
    assert WEB_SCHEMA["http.response.body.bytes"] == pl.Int64()
    assert ENDPOINT_SCHEMA["process.pe.original_file_name"] == pl.String()


def test_conform_adds_orders_casts_and_keeps_extras_last() -> None:
    frame = pl.DataFrame({"extra": ["x", "y"], "source.port": ["80", "443"]})
    conformed = conform(frame, {"source.ip": pl.String(), "source.port": pl.Int32()})
    assert conformed.columns == ["source.ip", "source.port", "extra"]
    assert conformed.get_column("source.port").to_list() == [80, 443]
    assert conformed.get_column("source.ip").to_list() == [None, None]
    assert conform(pl.DataFrame(), FIREWALL_SCHEMA).schema == pl.Schema(FIREWALL_SCHEMA)


def test_conform_strictness() -> None:
    frame = pl.DataFrame({"source.port": ["eighty"]})
    with pytest.raises(pl.exceptions.InvalidOperationError):
        conform(frame, {"source.port": pl.Int32()})
    relaxed = conform(frame, {"source.port": pl.Int32()}, strict=False)
    assert relaxed.item() is None


def test_errors_share_one_non_retriable_base() -> None:
    for error in (DecodeError, ParseError):
        assert issubclass(error, IngestError)
        assert error.retriable is False
