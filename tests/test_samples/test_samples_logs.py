"""The sample firewall and web logs: deterministic, parseable, with attacks where labelled."""

from __future__ import annotations

import doctest
import importlib
from collections import Counter
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path

import polars as pl
import pytest

from ingest.parsers import parse_firewall, parse_web
from samples import (
    BUNDLED,
    DATA_DIR,
    FIREWALL_ATTACK_KINDS,
    WEB_ATTACK_KINDS,
    bundled_labels,
    generate_endpoint_events,
    generate_firewall_lines_with_labels,
    generate_iis_lines_with_labels,
    generate_nginx_lines_with_labels,
    main,
)
from samples.common import START

Generator = Callable[..., tuple[list[str], dict[int, str]]]
GENERATORS: dict[str, Generator] = {
    "firewall": generate_firewall_lines_with_labels,
    "nginx": generate_nginx_lines_with_labels,
    "iis": generate_iis_lines_with_labels,
}
# What each seeded attack's line holds (all fragments must appear).
ATTACK_MARKERS = {
    "port_scan": ("srcip=198.51.100.77",),
    "ssh_brute_force": ("SRC=192.0.2.66", "DPT=22", "[UFW LIMIT BLOCK]"),
    "ssh_brute_force_success": ("SRC=192.0.2.66", "DPT=22", "[UFW ALLOW]"),
    "c2_download": ("srcip=10.10.10.21", "dstip=203.0.113.47 dstport=80", "policyid=5 "),
    "tor_relay": ("dstip=185.220.101.34 dstport=9001",),
    "reverse_shell": ("filterlog", ",pass,", ",10.30.20.57,198.51.100.200,50612,4444,"),
    "nikto_scan": ("(Nikto/2.5.0)", '"GET /'),
    "nikto_trace": ("(Nikto/2.5.0)", '"TRACE / HTTP/1.1" 405'),
    "sql_injection": ("%27%20OR%20%271%27%3D%271",),
    "sqlmap_injection": ("sqlmap/1.8.11",),
    "path_traversal": ("..",),
    "login_brute_force": ('"POST /login HTTP/1.1" 401', "python-requests"),
    "login_brute_force_success": ('"POST /login HTTP/1.1" 302', "python-requests"),
    "webshell_upload": (" PUT /eServices/uploads/cmdasp.aspx - ", " 201 "),
    "webshell_access": (" GET /eServices/uploads/cmdasp.aspx cmd=",),
    "sql_injection_numeric": ("1=1",),
    "log4shell": ("1389",),
}
# Fragments that only attack lines may contain.
ATTACK_ONLY = (
    "198.51.100.77",
    "192.0.2.66",
    "203.0.113.47",
    "185.220.",
    ",4444,",
    "Nikto",
    "sqlmap",
    "%27",
    "..",
    "cmdasp",
    "python-requests",
    "TRACE",
    "1=1",
    "${",
    "jndi",
)


def _parse(family: str, lines: list[str]) -> tuple[pl.DataFrame, pl.DataFrame]:
    series = pl.Series(lines, dtype=pl.String)
    if family == "firewall":
        result = parse_firewall(series, year=2026)
    else:
        result = parse_web(series, year=2026)
    return result.events, result.dead


@pytest.mark.parametrize("family", GENERATORS)
def test_same_seed_gives_same_lines(family: str) -> None:
    generate = GENERATORS[family]

    assert generate(400, seed=3) == generate(400, seed=3)
    assert generate(400, seed=3)[0] != generate(400, seed=4)[0]


@pytest.mark.parametrize("family", GENERATORS)
def test_labels_point_at_attack_lines(family: str) -> None:
    lines, labels = GENERATORS[family](1000)

    assert labels
    for row, kind in labels.items():
        assert all(marker in lines[row] for marker in ATTACK_MARKERS[kind]), (row, kind)


def test_every_attack_kind_is_seeded() -> None:
    kinds = Counter(generate_firewall_lines_with_labels(800)[1].values())
    kinds += Counter(generate_nginx_lines_with_labels(800)[1].values())
    kinds += Counter(generate_iis_lines_with_labels(800)[1].values())

    assert set(kinds) == {*FIREWALL_ATTACK_KINDS, *WEB_ATTACK_KINDS} == set(ATTACK_MARKERS)
    assert kinds["port_scan"] == 40
    assert kinds["ssh_brute_force"] == 30
    assert kinds["login_brute_force"] == 25
    assert kinds["ssh_brute_force_success"] == kinds["login_brute_force_success"] == 1


@pytest.mark.parametrize("family", GENERATORS)
def test_benign_lines_carry_no_attack_marker(family: str) -> None:
    lines, labels = GENERATORS[family](2500, seed=11)

    benign = [line for row, line in enumerate(lines) if row not in labels]
    assert not [line for line in benign if any(marker in line for marker in ATTACK_ONLY)]


@pytest.mark.parametrize("family", GENERATORS)
def test_attack_free_generation_has_no_labels(family: str) -> None:
    lines, labels = GENERATORS[family](300, attacks=False)

    assert labels == {}
    assert not [line for line in lines if any(marker in line for marker in ATTACK_ONLY)]


@pytest.mark.parametrize("family", GENERATORS)
def test_too_few_lines_for_the_attacks_is_refused(family: str) -> None:
    with pytest.raises(ValueError, match="at least"):
        GENERATORS[family](3)


@pytest.mark.parametrize("family", GENERATORS)
def test_every_line_parses_in_time_order(family: str) -> None:
    lines, _ = GENERATORS[family](1500, seed=5)

    events, dead = _parse(family, lines)

    assert dead.height == 0
    assert events.height == sum(not line.startswith("#") for line in lines)
    assert events["@timestamp"].null_count() == 0
    # FortiGate stamps have whole seconds, the other devices microseconds.
    assert events["@timestamp"].dt.truncate("1s").is_sorted()
    assert events["@timestamp"].min().isoformat().startswith("2026-11-20T08:0")  # type: ignore[union-attr]


@pytest.mark.parametrize("family", GENERATORS)
def test_a_later_start_moves_every_line_by_as_much(family: str) -> None:
    later = START + timedelta(hours=5)
    events, _ = _parse(family, GENERATORS[family](300, seed=5)[0])
    moved, _ = _parse(family, GENERATORS[family](300, seed=5, start=later)[0])

    assert (moved["@timestamp"] - events["@timestamp"]).unique().to_list() == [timedelta(hours=5)]


def test_a_later_start_moves_every_endpoint_event_by_as_much() -> None:
    later = START + timedelta(hours=5)
    events = generate_endpoint_events(50, seed=5)
    moved = generate_endpoint_events(50, seed=5, start=later)

    def utc(event: dict[str, object]) -> datetime:
        return datetime.strptime(str(event["UtcTime"]), "%Y-%m-%d %H:%M:%S.%f")

    assert {utc(m) - utc(e) for m, e in zip(moved, events, strict=True)} == {timedelta(hours=5)}
    assert [e["CommandLine"] for e in moved if "CommandLine" in e] == [
        e["CommandLine"] for e in events if "CommandLine" in e
    ]


def test_firewall_sample_mixes_vendors_and_verdicts() -> None:
    events, _ = _parse("firewall", generate_firewall_lines_with_labels(800)[0])

    counts = dict(events.group_by("event.dataset").len().iter_rows())
    assert set(counts) == {"firewall.fortigate", "firewall.iptables", "firewall.pfsense"}
    assert min(counts.values()) >= 80
    assert set(events["event.outcome"].unique()) == {"success", "failure"}
    assert set(events["observer.hostname"].unique()) == {
        "FG-MEF-HQ-01", "FG-MOH-01", "FG-MPTC-DC-01", "moeys-exam-lnx-01", "pf-moeys-kandal",
    }  # fmt: skip


def test_iis_sample_restarts_its_log_half_way() -> None:
    lines, labels = generate_iis_lines_with_labels(100)

    directives = [row for row, line in enumerate(lines) if line.startswith("#Fields: ")]
    assert directives == [3, 57]
    assert not set(labels) & {0, 1, 2, 3, 54, 55, 56, 57}


@pytest.mark.parametrize("sample", BUNDLED, ids=lambda sample: sample.name)
def test_bundled_files_are_what_the_generators_write(sample: object) -> None:
    name = sample.name  # type: ignore[attr-defined]
    lines, labels = sample.lines_with_labels()  # type: ignore[attr-defined]

    assert (DATA_DIR / name).read_text(encoding="utf-8") == "".join(f"{x}\n" for x in lines)
    assert bundled_labels(name) == labels
    assert (DATA_DIR / name).stat().st_size < 2_500_000


def test_bundled_logs_stay_small() -> None:
    for name in ("sample_firewall.log", "sample_web_nginx.log", "sample_web_iis.log"):
        assert (DATA_DIR / name).stat().st_size < 400_000


def test_main_writes_one_family(tmp_path: Path) -> None:
    path = tmp_path / "fw.log"

    assert main(["--family", "firewall", "--out", str(path), "--count", "90"]) == 0
    assert path.read_text().splitlines() == generate_firewall_lines_with_labels(90)[0]


def test_main_regenerates_every_bundled_file(tmp_path: Path) -> None:
    assert main(["--bundled", "--data-dir", str(tmp_path)]) == 0

    for sample in BUNDLED:
        assert (tmp_path / sample.name).read_bytes() == (DATA_DIR / sample.name).read_bytes()


def test_main_needs_a_target() -> None:
    with pytest.raises(SystemExit):
        main(["--family", "nginx"])


@pytest.mark.parametrize(
    "name",
    [
        "samples.common",
        "samples.endpoint",
        "samples.files",
        "samples.firewall",
        "samples.firewall_lines",
        "samples.process_frame",
        "samples.web",
    ],
)
def test_docstring_examples(name: str) -> None:
    failed, _ = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS)
    assert failed == 0
