"""compose.yaml validates offline and wires the stack the way neakta's settings read it."""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from neakta.onboarding import ForwarderValues, kafka_commands
from neakta.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
COMPOSE = ROOT / "compose.yaml"
BIN = Path(sys.executable).parent


def compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(COMPOSE.read_text())
    return loaded


def env_example() -> dict[str, str]:
    pairs = (
        line.split("=", 1)
        for line in (ROOT / ".env.example").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    )
    return {key: value for key, value in pairs}


def test_compose_validates_against_the_compose_spec() -> None:
    result = subprocess.run(
        [str(BIN / "check-jsonschema"), "--builtin-schema", "vendor.compose-spec", str(COMPOSE)],
        capture_output=True,
        text=True,
        check=False,
    )

    assert result.returncode == 0, result.stdout + result.stderr
    assert "ok -- validation done" in result.stdout


def test_check_jsonschema_catches_a_broken_compose_file(tmp_path: Path) -> None:
    broken = tmp_path / "compose.yaml"
    broken.write_text("services:\n  kafka:\n    image: apache/kafka\n    ports: 9092\n")

    result = subprocess.run(
        [str(BIN / "check-jsonschema"), "--builtin-schema", "vendor.compose-spec", str(broken)],
        capture_output=True,
        text=True,
        check=False,
    )

    assert result.returncode == 1


def test_every_variable_compose_reads_is_in_env_example() -> None:
    used = set(re.findall(r"(?<!\$)\$\{([A-Z_][A-Z0-9_]*)", COMPOSE.read_text()))

    assert used - env_example().keys() == set()
    assert env_example()["STACK_VERSION"].startswith("9.")


def test_the_stack_has_its_services_and_their_order() -> None:
    services = compose()["services"]

    assert sorted(services) == [
        "certs",
        "es01",
        "kafka",
        "kafka-init",
        "kibana",
        "neakta",
        "neakta-setup",
    ]
    assert services["es01"]["depends_on"] == {"certs": {"condition": "service_healthy"}}
    assert services["neakta"]["depends_on"] == {
        "kafka-init": {"condition": "service_completed_successfully"},
        "neakta-setup": {"condition": "service_completed_successfully"},
    }
    assert services["kafka-init"]["depends_on"] == {"kafka": {"condition": "service_healthy"}}
    assert services["neakta-setup"]["command"] == ["setup", "elastic"]
    assert services["neakta"]["command"] == ["run"]
    assert services["neakta"]["build"] == {"context": ".", "dockerfile": "deploy/Dockerfile"}
    assert (ROOT / "deploy" / "Dockerfile").is_file()


def test_kafka_runs_kraft_with_one_broker_controller_node() -> None:
    kafka = compose()["services"]["kafka"]["environment"]

    assert kafka["KAFKA_PROCESS_ROLES"] == "broker,controller"
    assert kafka["KAFKA_CONTROLLER_LISTENER_NAMES"] == "CONTROLLER"
    assert kafka["KAFKA_CONTROLLER_QUORUM_VOTERS"] == "1@kafka:9093"
    listeners = kafka["KAFKA_LISTENERS"].split(",")
    assert [name.split("://")[0] for name in listeners] == ["INTERNAL", "HOST", "CONTROLLER"]
    assert kafka["KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR"] == 1
    assert kafka["KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR"] == 1


def test_elasticsearch_has_security_and_tls_on_and_kibana_trusts_its_ca() -> None:
    services = compose()["services"]
    es = services["es01"]["environment"]
    kibana = services["kibana"]["environment"]

    assert es["xpack.security.enabled"] == "true"
    assert es["xpack.security.http.ssl.enabled"] == "true"
    assert kibana["ELASTICSEARCH_HOSTS"] == "https://es01:9200"
    assert kibana["ELASTICSEARCH_USERNAME"] == "kibana_system"
    assert kibana["ELASTICSEARCH_SSL_CERTIFICATEAUTHORITIES"] == "config/certs/ca/ca.crt"
    script = services["certs"]["command"][-1]
    assert "elasticsearch-certutil ca" in script
    assert "/_security/user/kibana_system/_password" in script


@pytest.mark.parametrize("service", ["neakta", "neakta-setup"])
def test_neakta_environment_is_read_by_the_settings(
    service: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    values = env_example()
    environment = compose()["services"][service]["environment"]
    for key, value in environment.items():
        text = re.sub(r"\$\{(\w+)(?::?[-?][^}]*)?\}", lambda m: values[m.group(1)], str(value))
        monkeypatch.setenv(key, text)

    settings = Settings()

    assert settings.kafka.bootstrap_servers == "kafka:19092"
    assert settings.elastic.hosts == ("https://es01:9200",)
    assert settings.elastic.username == "elastic"
    assert settings.elastic.password is not None
    assert settings.elastic.password.get_secret_value() == values["ELASTIC_PASSWORD"]
    assert str(settings.elastic.ca_file) == "/certs/ca/ca.crt"
    assert settings.elastic.namespace == "default"
    assert settings.elastic.kibana_url == "http://kibana:5601"
    assert settings.run.processes == 1


def test_forwarders_must_sign_in_with_scram_and_acls_deny_by_default() -> None:
    kafka = compose()["services"]["kafka"]["environment"]

    protocols = dict(p.split(":") for p in kafka["KAFKA_LISTENER_SECURITY_PROTOCOL_MAP"].split(","))
    assert protocols == {
        "INTERNAL": "PLAINTEXT",
        "HOST": "SASL_PLAINTEXT",
        "CONTROLLER": "PLAINTEXT",
    }
    assert kafka["KAFKA_LISTENER_NAME_HOST_SASL_ENABLED_MECHANISMS"] == "SCRAM-SHA-512"
    jaas = kafka["KAFKA_LISTENER_NAME_HOST_SCRAM___SHA___512_SASL_JAAS_CONFIG"]
    assert jaas == "org.apache.kafka.common.security.scram.ScramLoginModule required;"
    assert kafka["KAFKA_AUTHORIZER_CLASS_NAME"].endswith("StandardAuthorizer")
    assert kafka["KAFKA_ALLOW_EVERYONE_IF_NO_ACL_FOUND"] == "false"
    assert kafka["KAFKA_AUTO_CREATE_TOPICS_ENABLE"] == "false"
    # The health check uses the listener that needs no password.
    assert "localhost:19092" in compose()["services"]["kafka"]["healthcheck"]["test"][1]


RECORDER = """#!/bin/sh
printf '%s' "$(basename "$0")" >> "$CALLS"
for arg in "$@"; do printf '\\t%s' "$arg" >> "$CALLS"; done
printf '\\n' >> "$CALLS"
"""


def run_kafka_init(tmp_path: Path, ministries: str | None) -> list[list[str]]:
    """Run the kafka-init script with recording stand-ins for the kafka-*.sh tools."""
    service = compose()["services"]["kafka-init"]
    script = service["command"][-1].replace("$$", "$")
    conf = tmp_path / "conf"
    conf.mkdir()
    if ministries is not None:
        (conf / "ministries.conf").write_text(ministries)
    tools = tmp_path / "bin"
    tools.mkdir()
    for tool in ("kafka-topics.sh", "kafka-configs.sh", "kafka-acls.sh"):
        (tools / tool).write_text(RECORDER)
        (tools / tool).chmod(0o755)
    calls = tmp_path / "calls"
    calls.touch()
    script = script.replace("/etc/neakta/kafka", str(conf))
    subprocess.run(
        ["bash", "-c", script],
        cwd=tools,
        env={"CALLS": str(calls), "PATH": "/usr/bin:/bin"},
        check=True,
        capture_output=True,
    )
    return [line.split("\t") for line in calls.read_text().splitlines()]


def test_kafka_init_gives_each_ministry_exactly_the_commands_ministries_add_prints(
    tmp_path: Path,
) -> None:
    calls = run_kafka_init(
        tmp_path, "# id password\nmef pw-mef-0123456789\n\n  moh pw-moh-0123456789\nBad.Id x\n"
    )

    shared = [
        ["kafka-topics.sh", "--bootstrap-server", "kafka:19092", "--create", "--if-not-exists",
         "--topic", f"logs.{family}", "--partitions", "6"]
        for family in ("firewall", "endpoint", "web")
    ]  # fmt: skip
    printed = [
        shlex.split(command)
        for ministry in ("mef", "moh")
        for command in kafka_commands(
            ForwarderValues(ministry, f"pw-{ministry}-0123456789"), bootstrap="kafka:19092"
        )
    ]
    assert calls == shared + printed
    assert compose()["services"]["kafka-init"]["volumes"] == [
        "${NEAKTA_MINISTRIES_DIR:-./deploy/kafka}:/etc/neakta/kafka:ro"
    ]


def test_kafka_init_without_a_ministries_file_creates_only_the_shared_topics(
    tmp_path: Path,
) -> None:
    calls = run_kafka_init(tmp_path, None)

    assert [call[-3] for call in calls] == ["logs.firewall", "logs.endpoint", "logs.web"]


def test_the_image_ships_the_forwarder_templates_where_the_settings_look(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    dockerfile = (ROOT / "deploy" / "Dockerfile").read_text()
    env = re.search(r"NEAKTA_MINISTRIES__TEMPLATES=(\S+)", dockerfile)

    assert "COPY deploy/forwarders /opt/neakta/forwarders" in dockerfile
    assert env is not None and env.group(1) == "/opt/neakta/forwarders"
    monkeypatch.setenv("NEAKTA_MINISTRIES__TEMPLATES", env.group(1))
    assert str(Settings().ministries.templates) == "/opt/neakta/forwarders"
