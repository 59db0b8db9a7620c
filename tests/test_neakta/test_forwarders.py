"""The shipped forwarder configurations render for a ministry and hold together.

rsyslog is checked by rsyslogd itself (``-N1``) where it is installed; Winlogbeat and Vector
are not packaged for Debian, so their files are parsed (YAML, TOML) and their structure
checked: the topics, the SASL user, and every sink reading sources that exist.
"""

from __future__ import annotations

import subprocess
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml

from neakta.onboarding import (
    FORWARDERS,
    TEMPLATES,
    ForwarderValues,
    OnboardingError,
    kafka_commands,
    placeholders,
    render_forwarder,
)
from tests.rsyslog import OMKAFKA, rsyslogd

VALUES = ForwarderValues("mef", "pw-1-0123456789", brokers="k1.soc:9093,k2.soc:9093")


@pytest.mark.parametrize("name", sorted(FORWARDERS))
def test_every_template_renders_completely(name: str) -> None:
    template = (TEMPLATES / FORWARDERS[name]).read_text()
    text = render_forwarder(name, VALUES)

    assert placeholders(template) <= set(VALUES.placeholders())
    assert placeholders(text) == set()
    assert "logs." in text and ".mef" in text


@pytest.mark.parametrize("password", ["short", "with space-123456", 'quote"-123456789'])
def test_a_password_that_would_need_escaping_is_refused(password: str) -> None:
    with pytest.raises(OnboardingError, match="password"):
        ForwarderValues("mef", password)


def test_a_template_asking_for_an_unknown_value_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "rsyslog").mkdir()
    (tmp_path / "rsyslog" / "neakta.conf").write_text('topic="logs.web.@ministry@" x="@nope@"')

    with pytest.raises(OnboardingError, match="nope"):
        render_forwarder("rsyslog", VALUES, templates=tmp_path)


def rsyslog_check(config: str, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    binary = rsyslogd()
    if binary is None or not OMKAFKA.is_file():
        pytest.skip("rsyslogd with omkafka is not installed (apt-get install rsyslog-kafka)")
    path = tmp_path / "rsyslog.conf"
    path.write_text(config)
    return subprocess.run(
        [binary, "-N1", "-f", str(path)], capture_output=True, text=True, check=False
    )


def test_the_rsyslog_configuration_passes_rsyslogs_own_check(tmp_path: Path) -> None:
    values = ForwarderValues("mef", "pw-1-0123456789", work_dir=str(tmp_path), syslog_port=10514)
    result = rsyslog_check(render_forwarder("rsyslog", values), tmp_path)

    assert result.returncode == 0, result.stdout + result.stderr
    assert "End of config validation run" in result.stderr


def test_rsyslogs_check_rejects_a_broken_configuration(tmp_path: Path) -> None:
    values = ForwarderValues("mef", "pw-1-0123456789", work_dir=str(tmp_path), syslog_port=10514)
    broken = render_forwarder("rsyslog", values).replace('type="omkafka"', 'type="omkafkaa"')
    result = rsyslog_check(broken, tmp_path)

    assert result.returncode != 0


def rsyslog_actions(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if line.strip().startswith("topic=")]


def test_rsyslog_sends_firewalls_and_web_logs_to_the_ministrys_topics() -> None:
    text = render_forwarder("rsyslog", VALUES)

    # nginx and IIS go to the web topic by two actions: IIS lines to one partition.
    assert rsyslog_actions(text) == [
        'topic="logs.firewall.mef"',
        'topic="logs.web.mef"',
        'topic="logs.web.mef"',
    ]
    assert text.count('partitions.useFixed="0"') == 1
    assert 'broker=["k1.soc:9093,k2.soc:9093"]' in text
    assert '"sasl.username=neakta-mef"' in text
    assert '"sasl.mechanism=SCRAM-SHA-512"' in text
    assert '"security.protocol=SASL_SSL"' in text
    assert 'input(type="imudp" port="514" ruleset="neakta_firewall")' in text
    assert 'input(type="imtcp" port="514" ruleset="neakta_firewall")' in text
    assert 'file="/var/log/nginx/access.log"' in text
    assert text.count('key="neakta_sender"\n        dynaKey="on"') == 2


def winlogbeat() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(render_forwarder("winlogbeat", VALUES))
    return loaded


def test_winlogbeat_reads_sysmon_and_windows_channels() -> None:
    channels = [log["name"] for log in winlogbeat()["winlogbeat.event_logs"]]

    assert channels[:3] == ["Microsoft-Windows-Sysmon/Operational", "Security", "System"]
    assert "Microsoft-Windows-PowerShell/Operational" in channels


def test_winlogbeat_writes_json_to_the_ministrys_endpoint_topic_as_its_user() -> None:
    config = winlogbeat()
    kafka = config["output.kafka"]

    assert [key for key in config if key.startswith("output.")] == ["output.kafka"]
    assert kafka["hosts"] == ["k1.soc:9093", "k2.soc:9093"]
    assert kafka["topic"] == "logs.endpoint.mef"
    assert (kafka["username"], kafka["password"]) == ("neakta-mef", "pw-1-0123456789")
    assert kafka["sasl.mechanism"] == "SCRAM-SHA-512"
    assert kafka["ssl.enabled"] is True
    assert kafka["codec.json"] == {"pretty": False}
    assert kafka["required_acks"] == -1
    assert kafka["key"] == "%{[winlog.computer_name]}"
    assert kafka["partition.hash"] == {"reachable_only": False}


def vector() -> dict[str, Any]:
    return tomllib.loads(render_forwarder("vector", VALUES))


def test_vector_sinks_read_existing_sources_and_write_the_ministrys_topics() -> None:
    config = vector()
    sources, sinks = config["sources"], config["sinks"]

    assert {name: s["type"] for name, s in sources.items()} == {
        "firewall_udp": "socket",
        "firewall_tcp": "socket",
        "web_files": "file",
    }
    assert [sources[n]["mode"] for n in ("firewall_udp", "firewall_tcp")] == ["udp", "tcp"]
    assert {name: sink["topic"] for name, sink in sinks.items()} == {
        "firewall_kafka": "logs.firewall.mef",
        "web_kafka": "logs.web.mef",
    }
    for sink in sinks.values():
        assert set(sink["inputs"]) <= set(sources)
        assert sink["type"] == "kafka"
        assert sink["bootstrap_servers"] == "k1.soc:9093,k2.soc:9093"
        assert sink["encoding"] == {"codec": "text"}
        assert sink["key_field"] == "host"
        assert sink["sasl"] == {
            "enabled": True,
            "mechanism": "SCRAM-SHA-512",
            "username": "neakta-mef",
            "password": "pw-1-0123456789",
        }
        assert sink["tls"]["enabled"] is True
    assert sorted(i for sink in sinks.values() for i in sink["inputs"]) == sorted(sources)


def test_plaintext_brokers_turn_tls_and_sasl_off_everywhere() -> None:
    values = ForwarderValues("mef", "pw-0123456789", security_protocol="PLAINTEXT")

    sinks = tomllib.loads(render_forwarder("vector", values))["sinks"].values()
    beat = yaml.safe_load(render_forwarder("winlogbeat", values))["output.kafka"]

    assert {(s["tls"]["enabled"], s["sasl"]["enabled"]) for s in sinks} == {(False, False)}
    assert beat["ssl.enabled"] is False


def test_kafka_commands_create_the_topics_the_user_and_acls_for_its_topics_only() -> None:
    commands = kafka_commands(VALUES, bootstrap="kafka:19092")

    assert [c.split(" --topic ")[1].split()[0] for c in commands[:3]] == [
        "logs.firewall.mef",
        "logs.endpoint.mef",
        "logs.web.mef",
    ]
    assert (
        "--entity-name neakta-mef --add-config 'SCRAM-SHA-512=[password=pw-1-0123456789]'"
        in commands[3]
    )
    acl = commands[4]
    assert "--allow-principal User:neakta-mef --operation Write --operation Describe" in acl
    assert acl.count("--topic ") == 3 and "--resource-pattern-type" not in acl
