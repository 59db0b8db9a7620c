"""Loading indicators from CSV files and STIX 2.1 bundles."""

import json
from pathlib import Path

import pytest

from enrich.errors import SourceFileError
from enrich.intel.load import load_indicators, load_indicators_csv, load_stix_bundle
from enrich.intel.stix import PatternError, parse_pattern

DATA = Path(__file__).resolve().parents[2] / "enrich" / "data"


def test_csv_values_are_normalized_and_bad_lines_kept_with_reasons(tmp_path: Path) -> None:
    path = tmp_path / "intel.csv"
    path.write_text(
        "type,value,source,confidence,description,extra\n"
        "IPv4, 198.51.100.7 ,feed-a,80,scanner,x\n"
        "ipv4,203.0.113.0/24,feed-a,,range,\n"
        "domain,*.Bad.Example.,,50,,\n"
        "sha256,ABCDEF,feed-a,10,,\n"
        "ipv4,2001:db8::1,feed-a,10,,\n"
        "email,a@b.example,feed-a,10,,\n"
        "url,http://bad.example/x,feed-a,101,,\n",
        encoding="utf-8",
    )
    found = load_indicators_csv(path)
    assert found.indicators.select("type", "value", "source", "confidence").rows() == [
        ("ipv4", "198.51.100.7", "feed-a", 80),
        ("cidr", "203.0.113.0/24", "feed-a", None),
        ("domain", "bad.example", "intel", 50),
    ]
    assert [(entry.position, entry.reason) for entry in found.rejected] == [
        ("line 5", "invalid sha256 'ABCDEF': 64 hex digits"),
        ("line 6", "IPv6 indicators are not supported (2001:db8::1)"),
        (
            "line 7",
            "unknown indicator type 'email' (one of ipv4, cidr, domain, url, md5, sha1, sha256)",
        ),
        ("line 8", "confidence must be 0..100"),
    ]


def test_csv_without_type_and_value_columns_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "intel.csv"
    path.write_text("ioc,kind\n1.2.3.4,ip\n", encoding="utf-8")
    with pytest.raises(SourceFileError, match="type,value"):
        load_indicators_csv(path)


def test_stix_bundle_gives_provider_confidence_and_rejects_complex_patterns(
    tmp_path: Path,
) -> None:
    bundle = {
        "type": "bundle",
        "id": "bundle--1",
        "objects": [
            {"type": "identity", "id": "identity--cert", "name": "CERT-X"},
            {
                "type": "indicator",
                "id": "indicator--1",
                "created_by_ref": "identity--cert",
                "name": "C2",
                "confidence": 60,
                "pattern": "[ipv4-addr:value = '198.51.100.9'] OR [url:value = 'http://c2.example/a']",
                "pattern_type": "stix",
            },
            {
                "type": "indicator",
                "id": "indicator--2",
                "pattern_type": "sigma",
                "pattern": "title: x",
            },
            {
                "type": "indicator",
                "id": "indicator--3",
                "revoked": True,
                "pattern": "[domain-name:value = 'old.example']",
            },
            {
                "type": "indicator",
                "id": "indicator--4",
                "pattern": "[file:hashes.MD5 = '098F6BCD4621D373CADE4E832627B4F6']",
            },
            {"type": "malware", "id": "malware--1", "name": "not an indicator"},
        ],
    }
    path = tmp_path / "feed.json"
    path.write_text(json.dumps(bundle), encoding="utf-8")
    found = load_stix_bundle(path)
    assert found.indicators.rows() == [
        ("ipv4", "198.51.100.9", "CERT-X", 60, "C2", "indicator--1"),
        ("url", "http://c2.example/a", "CERT-X", 60, "C2", "indicator--1"),
        ("md5", "098f6bcd4621d373cade4e832627b4f6", "feed", None, None, "indicator--4"),
    ]
    assert [(entry.position, entry.reason) for entry in found.rejected] == [
        ("objects[2]", "pattern_type 'sigma' is not stix"),
        ("objects[3]", "revoked"),
    ]


@pytest.mark.parametrize(
    ("pattern", "reason"),
    [
        (
            "[ipv4-addr:value = '1.2.3.4' AND ipv4-addr:value = '1.2.3.5']",
            "unsupported operator AND (only OR-ed comparisons with =)",
        ),
        (
            "[ipv4-addr:value = '1.2.3.4'] FOLLOWEDBY [ipv4-addr:value = '1.2.3.5']",
            "unsupported operator FOLLOWEDBY (only OR-ed observations)",
        ),
        ("[url:value LIKE 'http://%']", "unsupported comparison 'LIKE' on url:value (only =)"),
        ("[email-addr:value = 'a@b.example']", "unsupported object path email-addr:value"),
        ("[ipv4-addr:value = '1.2.3.4'", "pattern ends before ']'"),
        ("", "empty pattern"),
    ],
)
def test_patterns_outside_the_subset_are_refused_by_name(pattern: str, reason: str) -> None:
    with pytest.raises(PatternError) as caught:
        parse_pattern(pattern)
    assert str(caught.value) == reason


def test_quotes_inside_values_are_unescaped() -> None:
    assert parse_pattern(r"[url:value = 'http://x.example/it\'s']") == [
        ("url", "http://x.example/it's")
    ]


def test_the_sample_files_load_and_say_what_they_refuse() -> None:
    found = load_indicators([DATA / "indicators.csv", DATA / "indicators.stix.json"])
    assert found.indicators.height == 11
    assert [entry.position for entry in found.rejected] == ["objects[3]"]
    assert found.rejected[0].reason.startswith("pattern: unsupported object path")


def test_a_bundle_that_is_not_json_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "feed.json"
    path.write_text("{not json", encoding="utf-8")
    with pytest.raises(SourceFileError, match="not JSON"):
        load_stix_bundle(path)
