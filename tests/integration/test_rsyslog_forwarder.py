"""The shipped rsyslog forwarder, run for real: syslog over UDP and TCP and tailed web logs
go through rsyslogd and omkafka into a ministry's topics, and ``neakta run`` raises the
alerts the same lines raise offline, stamped with the ministry of the topic.

Only ports, paths and the security protocol (the test broker has no TLS or SCRAM) differ
from what ``neakta ministries add`` prints.
"""

from __future__ import annotations

import socket
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import orjson
import polars as pl
import pytest

from ingest.sources.parsing import parse_records
from neakta.cli import main
from neakta.onboarding import ForwarderValues, render_forwarder
from neakta.rulesets import compile_correlations, compile_rulesets
from neakta.settings import DEFAULT_RULES
from respond.alerts import simple_alerts
from tests.integration.conftest import Broker, create_topics, read_all, run, unique
from tests.integration.test_kafka_run import FAST_GROUP, SAMPLES
from tests.rsyslog import librdkafka_dir, rsyslogd_running, why_no_rsyslog

pytestmark = pytest.mark.integration

FIREWALL = (SAMPLES / "sample_firewall.log").read_text().splitlines()[:300]
NGINX = (SAMPLES / "sample_web_nginx.log").read_text().splitlines()
IIS = (SAMPLES / "sample_web_iis.log").read_text().splitlines()[:120]
RULES = compile_rulesets([DEFAULT_RULES])
CORRELATIONS = compile_correlations([DEFAULT_RULES], RULES["firewall"])


def expected(family: str, lines: list[str], ministry: str) -> Counter[tuple[str, str]]:
    """(rule id, event.original) of the alerts the lines raise, computed without Kafka."""
    size = len(lines)
    records = pl.DataFrame(
        {
            "family": [family] * size,
            "source": ["x"] * size,
            "origin": [f"x:{n}" for n in range(size)],
            "line": lines,
            "header_organization": [None] * size,
            "source_organization": [ministry] * size,
        },
        schema_overrides={"header_organization": pl.String},
    )
    events = parse_records(records, year=2026).events[family]
    # Base rules of correlations that raise no alert of their own are left out.
    matches = CORRELATIONS.visible(RULES[family].evaluate(events))
    alerts = simple_alerts(events, matches, RULES[family]).alerts
    return Counter(alerts.select("rule.id", "event.original").iter_rows())


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@pytest.fixture
def library(tmp_path: Path) -> Iterator[Path]:
    reason = why_no_rsyslog()
    if reason is not None:
        pytest.skip(reason)
    folder = librdkafka_dir(tmp_path)
    if folder is None:
        pytest.skip("no librdkafka >= 2.1 (confluent-kafka) for omkafka against Tansu")
    yield folder


def test_rsyslog_relays_firewalls_and_web_logs_into_alerts_of_the_ministry(
    broker: Broker,
    library: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    ministry = unique("m")
    firewall, web = f"logs.firewall.{ministry}", f"logs.web.{ministry}"
    run(create_topics(broker.bootstrap, [firewall, web], partitions=2))
    work, iis = tmp_path / "spool", tmp_path / "iis"
    work.mkdir()
    iis.mkdir()
    nginx_log, iis_log = tmp_path / "access.log", iis / "u_ex261120.log"
    nginx_log.touch()
    iis_log.touch()
    port = free_port()
    values = ForwarderValues(
        ministry,
        "test-password-0123",
        brokers=broker.bootstrap,
        security_protocol="PLAINTEXT",
        syslog_port=port,
        work_dir=str(work),
        nginx_log=str(nginx_log),
        iis_log=str(iis / "u_ex*.log"),
    )
    config = tmp_path / "rsyslog.conf"
    config.write_text(render_forwarder("rsyslog", values))

    with rsyslogd_running(config, tmp_path, library=library) as log:
        udp, tcp = FIREWALL[:100], FIREWALL[100:]
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sender:
            for line in udp:
                sender.sendto(line.encode(), ("127.0.0.1", port))
                time.sleep(0.001)
        with socket.create_connection(("127.0.0.1", port)) as stream:
            stream.sendall("".join(f"{line}\n" for line in tcp).encode())
        with nginx_log.open("a") as out:
            out.writelines(f"{line}\n" for line in NGINX)
        with iis_log.open("a") as out:
            out.writelines(f"{line}\n" for line in IIS)
        relayed = run(read_all(broker.bootstrap, firewall, len(FIREWALL), timeout=60))
        served = run(read_all(broker.bootstrap, web, len(NGINX) + len(IIS), timeout=60))
        status = log.read_text()

    assert sorted(r.value.decode() for r in relayed) == sorted(FIREWALL), status
    assert sorted(r.value.decode() for r in served) == sorted(NGINX + IIS), status
    iis_partitions = {r.partition for r in served if r.value.decode() in IIS}
    assert iis_partitions == {0}
    # Keyed by sender: one device's lines in one partition, whatever the transport.
    assert {r.key for r in relayed} == {b"127.0.0.1"}
    assert len({r.partition for r in relayed}) == 1

    for name, value in FAST_GROUP.items():
        monkeypatch.setenv(name, value)
    alerts_file = tmp_path / "alerts.ndjson"
    code = main(
        [
            "run",
            "--bootstrap-servers",
            broker.bootstrap,
            "--group-id",
            unique("g"),
            "--topics",
            firewall,
            web,
            "--rules",
            str(DEFAULT_RULES),
            "--alerts",
            str(alerts_file),
            "--db",
            str(tmp_path / "neakta.db"),
            "--checkpoints",
            str(tmp_path / "checkpoints.db"),
            "--no-status",
            "--idle-exit",
            "2",
        ]
    )

    assert code == 0
    documents = [orjson.loads(line) for line in alerts_file.read_bytes().splitlines()]
    # Correlation and silent-source alerts depend on how batches interleave.
    single = [d for d in documents if not {"correlation", "silence"} & set(d.get("neakta", {}))]
    found = Counter((d["rule"]["id"], d["event"]["original"]) for d in single)
    wanted = expected("firewall", FIREWALL, ministry) + expected("web", NGINX + IIS, ministry)
    assert found == wanted
    assert {d["organization"]["id"] for d in single} == {ministry}
    assert any(d["event"]["original"] in IIS for d in single)

    # The run saved per-source counters in its store: ministries list shows them.
    capsys.readouterr()
    assert main(["ministries", "list", "--db", str(tmp_path / "neakta.db")]) == 0
    listed = [line.split() for line in capsys.readouterr().out.splitlines()[1:]]
    web_events = len(NGINX) + sum(1 for line in IIS if not line.startswith("#"))
    assert [row[:3] for row in listed] == [
        [ministry, "firewall", f"{len(FIREWALL):,}"],
        [ministry, "web", f"{web_events:,}"],
    ]
