"""A ministry's onboarding kit: its topics, Kafka user and ACLs, and forwarder configurations.

The forwarder configurations are the files under ``deploy/forwarders/`` with their
``@name@`` placeholders filled in (:func:`render`), so what ``neakta ministries add``
prints and what the tests run are the same text. A placeholder without a value, or a value
nobody asked for, is an error rather than a half-filled file.

Each ministry writes with its own SCRAM user ``neakta-<id>``, which the broker's ACLs allow
to write (and describe) only the ministry's topics ``logs.<family>.<id>``; neakta takes the
ministry of an event from the topic (see :mod:`ingest.identity`).
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Final

__all__ = [
    "FAMILIES",
    "FORWARDERS",
    "TEMPLATES",
    "ForwarderValues",
    "OnboardingError",
    "kafka_commands",
    "ministry_topics",
    "placeholders",
    "render",
    "render_forwarder",
    "valid_ministry",
]

TEMPLATES: Final = Path(__file__).resolve().parent.parent / "deploy" / "forwarders"
"""The forwarder templates of a source checkout (the container image has its own copy)."""

FORWARDERS: Final[dict[str, str]] = {
    "rsyslog": "rsyslog/neakta.conf",
    "winlogbeat": "winlogbeat/winlogbeat.yml",
    "vector": "vector/vector.toml",
}
"""Forwarder name -> its template, relative to the templates folder."""

FAMILIES: Final = ("firewall", "endpoint", "web")

_PLACEHOLDER = re.compile(r"@([a-z_]+)@")
_MINISTRY = re.compile(r"^[a-z][a-z0-9_-]{1,31}$")
# Safe inside the quotes of rsyslog, YAML, TOML and a shell word, without escaping.
_PASSWORD = re.compile(r"^[A-Za-z0-9_.~+=-]{12,128}$")


class OnboardingError(ValueError):
    """A ministry id that cannot name topics, or a template and values that do not fit."""


def valid_ministry(ministry: str) -> str:
    """The ministry id if it can be a topic suffix: lower case, 2-32 characters, no dots.

    Examples
    --------
    >>> valid_ministry("mef")
    'mef'
    >>> valid_ministry("M.E.F")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    neakta.onboarding.OnboardingError: ministry id 'M.E.F' must be 2-32 characters: ...
    """
    if not _MINISTRY.match(ministry):
        raise OnboardingError(
            f"ministry id {ministry!r} must be 2-32 characters: a-z first, "
            "then a-z, 0-9, '-' or '_'"
        )
    return ministry


def ministry_topics(ministry: str) -> list[str]:
    """The topics a ministry writes to, one per log family.

    >>> ministry_topics("mef")
    ['logs.firewall.mef', 'logs.endpoint.mef', 'logs.web.mef']
    """
    return [f"logs.{family}.{valid_ministry(ministry)}" for family in FAMILIES]


@dataclass(frozen=True, slots=True)
class ForwarderValues:
    """What the forwarder templates ask for; only the ministry and password have no default."""

    ministry: str
    password: str
    brokers: str = "kafka.soc.example:9093"
    security_protocol: str = "SASL_SSL"
    sasl_mechanism: str = "SCRAM-SHA-512"
    ca_file: str = "/etc/neakta/kafka-ca.crt"
    windows_ca_file: str = "C:\\ProgramData\\neakta\\kafka-ca.crt"
    syslog_port: int = 514
    work_dir: str = "/var/spool/rsyslog"
    vector_data_dir: str = "/var/lib/vector"
    nginx_log: str = "/var/log/nginx/access.log"
    iis_log: str = "/mnt/iis-logs/W3SVC*/u_ex*.log"
    compression: str = "gzip"

    def __post_init__(self) -> None:
        valid_ministry(self.ministry)
        if not _PASSWORD.match(self.password):
            raise OnboardingError(
                "the password must be 12-128 characters of A-Z, a-z, 0-9 and _ . ~ + = -"
            )

    @property
    def username(self) -> str:
        """The ministry's Kafka user."""
        return f"neakta-{valid_ministry(self.ministry)}"

    def placeholders(self) -> dict[str, str]:
        """Every placeholder's text, derived values included.

        >>> kit = ForwarderValues("mef", "pw-0123456789", brokers="k1:9093,k2:9093")
        >>> values = kit.placeholders()
        >>> values["username"], values["broker_list"], values["tls"], values["sasl"]
        ('neakta-mef', '"k1:9093", "k2:9093"', 'true', 'true')
        """
        values = {key: str(value) for key, value in asdict(self).items()}
        protocol = self.security_protocol.upper()
        brokers = [b.strip() for b in self.brokers.split(",") if b.strip()]
        values.update(
            username=self.username,
            broker_list=", ".join(f'"{b}"' for b in brokers),
            tls="true" if protocol in ("SSL", "SASL_SSL") else "false",
            sasl="true" if protocol.startswith("SASL") else "false",
        )
        return values


def placeholders(template: str) -> set[str]:
    """The placeholder names a template uses.

    >>> sorted(placeholders('topic="logs.web.@ministry@" port="@syslog_port@"'))
    ['ministry', 'syslog_port']
    """
    return set(_PLACEHOLDER.findall(template))


def render(template: str, values: Mapping[str, str]) -> str:
    """Fill every ``@name@`` of a template.

    Raises
    ------
    OnboardingError
        A placeholder has no value.

    Examples
    --------
    >>> render('topic="logs.web.@ministry@"', {"ministry": "mef"})
    'topic="logs.web.mef"'
    >>> render("@nope@", {})
    Traceback (most recent call last):
    ...
    neakta.onboarding.OnboardingError: no value for the placeholder(s): nope
    """
    missing = placeholders(template) - values.keys()
    if missing:
        raise OnboardingError("no value for the placeholder(s): " + ", ".join(sorted(missing)))
    return _PLACEHOLDER.sub(lambda match: values[match.group(1)], template)


def render_forwarder(name: str, values: ForwarderValues, *, templates: Path = TEMPLATES) -> str:
    """One forwarder's configuration for a ministry (``name`` is a :data:`FORWARDERS` key)."""
    if name not in FORWARDERS:
        raise OnboardingError(f"no forwarder {name!r}; known: {', '.join(FORWARDERS)}")
    path = templates / FORWARDERS[name]
    try:
        template = path.read_text()
    except OSError as error:
        raise OnboardingError(f"cannot read the {name} template {path}: {error}") from None
    return render(template, values.placeholders())


def kafka_commands(values: ForwarderValues, *, bootstrap: str = "localhost:9092") -> list[str]:
    """Shell commands (Apache Kafka's tools) creating the topics, the user and its ACLs.

    ``bootstrap`` is the address an administrator reaches the broker at, with rights to
    create topics, users and ACLs.

    Examples
    --------
    >>> commands = kafka_commands(ForwarderValues("mef", "s3cret-s3cret"))
    >>> commands[3].split(" --")[4:]
    ['entity-name neakta-mef', "add-config 'SCRAM-SHA-512=[password=s3cret-s3cret]'"]
    """
    topics = ministry_topics(values.ministry)
    server = f"--bootstrap-server {shlex.quote(bootstrap)}"
    mechanism = values.sasl_mechanism.upper()
    create = [
        f"kafka-topics.sh {server} --create --if-not-exists --topic {topic} --partitions 6"
        for topic in topics
    ]
    scram = shlex.quote(f"{mechanism}=[password={values.password}]")
    user = (
        f"kafka-configs.sh {server} --alter --entity-type users "
        f"--entity-name {values.username} --add-config {scram}"
    )
    acl = (
        f"kafka-acls.sh {server} --add --allow-principal User:{values.username} "
        "--operation Write --operation Describe " + " ".join(f"--topic {topic}" for topic in topics)
    )
    return [*create, user, acl]
