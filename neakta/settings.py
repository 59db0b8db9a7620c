"""One frozen settings object, built once from the environment (prefix ``NEAKTA_``).

Nested values use ``__``: ``NEAKTA_KAFKA__BOOTSTRAP_SERVERS=broker:9092``. Stages never see
this object; the composition root passes them plain keyword arguments.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

__all__ = [
    "DEFAULT_RULES",
    "CorrelationSettings",
    "ElasticSettings",
    "EnrichSettings",
    "KafkaSettings",
    "MinistriesSettings",
    "RespondSettings",
    "RunSettings",
    "Settings",
    "load_settings",
    "reveal",
]

DEFAULT_RULES = Path(__file__).resolve().parent.parent / "rules"


def reveal(secret: SecretStr | None) -> str | None:
    """The plain value of a secret setting, for the client that needs it; None if unset.

    >>> reveal(SecretStr("s3cret")), reveal(None)
    ('s3cret', None)
    """
    return None if secret is None else secret.get_secret_value()


class KafkaSettings(BaseModel):
    """Where ministries' logs arrive (unset bootstrap servers: file replay only).

    ``families`` maps a topic to its log family for topics not named
    ``logs.<family>[.<ministry>]``. Dead letters go to ``<topic>.dlq`` with ``acks=all``,
    through an idempotent producer where the broker gives one: ``dlq_idempotence="auto"``
    (the default) falls back to a plain producer on brokers without (Tansu), ``True``
    insists, ``False`` never asks. ``route_incidents`` (default on): with correlation
    rules and a store, alerts are grouped into incidents by the owner of their incident
    key in the group's incident topic, not where they were raised (see
    :mod:`respond.routing`); ``incident_partitions`` sizes that topic when it is created
    (0: as many as the input topics have); ``incident_checkpoint_s`` is the longest time
    between two checkpoints of its partitions while facts keep coming (0: every step; see
    :mod:`neakta.incident_feed`). ``check_crcs``: the consumer verifies each record
    batch's CRC32C (off by default, as in librdkafka: aiokafka computes it in software,
    about a tenth of ``neakta run``'s CPU on 2.9 KB Sysmon lines; the broker checks it when
    records are produced, and TLS protects them on the way).
    """

    model_config = ConfigDict(frozen=True)

    bootstrap_servers: str | None = None
    group_id: str = "neakta"
    topics: tuple[str, ...] = ("logs.endpoint", "logs.firewall", "logs.web")
    families: dict[str, str] = Field(default_factory=dict)
    security_protocol: str = "PLAINTEXT"
    sasl_mechanism: str | None = None
    username: str | None = None
    password: SecretStr | None = None
    ca_file: Path | None = None
    client_id: str = "neakta"
    max_records: Annotated[int, Field(gt=0)] = 50_000
    poll_timeout_ms: Annotated[int, Field(gt=0)] = 500
    linger_ms: Annotated[int, Field(ge=0)] = 200
    session_timeout_ms: int = 10_000
    heartbeat_interval_ms: int = 3_000
    dlq_idempotence: bool | Literal["auto"] = "auto"
    route_incidents: bool = True
    incident_partitions: Annotated[int, Field(ge=0)] = 0
    incident_checkpoint_s: Annotated[float, Field(ge=0)] = 10.0
    check_crcs: bool = False


class RunSettings(BaseModel):
    """``neakta run`` / ``replay``: inputs in file mode, outputs, limits, what is shown.

    ``ahead``: batches fetched and parsed while the one in hand is detected and delivered
    (0: one batch at a time; see :mod:`neakta.readahead`: one more is fetched while the
    last of them is parsed). ``processes``: ``neakta run``
    processes started in one consumer group by one command (:mod:`neakta.supervisor`);
    ``worker``: which of them this one is, and ``status_fd`` the pipe its totals go to
    (both set by the supervisor, never by hand).
    """

    model_config = ConfigDict(frozen=True)

    inputs: tuple[Path, ...] = ()
    family: str | None = None
    alerts: str = "-"
    dead_letters: Path = Path("neakta-dead-letters.ndjson")
    max_record_bytes: int = 1_048_576
    forwarders: dict[str, str] = Field(default_factory=dict)
    status: bool | None = None
    log_format: Literal["kv", "json"] = "kv"
    idle_exit: float | None = None
    archive: Path | None = None
    archive_retention_days: int = 30
    reload_interval_s: float = 2.0
    ahead: Annotated[int, Field(ge=0)] = 1
    processes: Annotated[int, Field(ge=1)] = 1
    worker: Annotated[int, Field(ge=1)] | None = None
    status_fd: Annotated[int, Field(ge=0)] | None = None


class ElasticSettings(BaseModel):
    """Where alerts and incidents go for analysts (no hosts: no Elasticsearch sink)."""

    model_config = ConfigDict(frozen=True)

    hosts: tuple[str, ...] = ()
    api_key: SecretStr | None = None
    username: str | None = None
    password: SecretStr | None = None
    ca_file: Path | None = None
    verify_certs: bool = True
    namespace: str = "default"
    incidents_alias: str = "neakta-incidents"
    retention_days: int = 180
    rollover_max_age: str = "30d"
    rollover_max_primary_shard_size: str = "50gb"
    replicas: int = 1
    kibana_url: str | None = None
    kibana_space: str | None = None

    def credentials(self) -> dict[str, Any]:
        """Credentials and TLS options, as the Elasticsearch and Kibana clients take them.

        >>> ElasticSettings(username="neakta", password="pw").credentials()["password"]
        'pw'
        """
        return {
            "api_key": reveal(self.api_key),
            "username": self.username,
            "password": reveal(self.password),
            "ca_file": self.ca_file,
            "verify_certs": self.verify_certs,
        }


class RespondSettings(BaseModel):
    """The embedded store, the NDJSON export, incident grouping and notifications."""

    model_config = ConfigDict(frozen=True)

    store_path: Path = Path(".neakta/neakta.db")
    ndjson_path: Path | None = None
    ndjson_alert_index: str = "logs-neakta.alerts-default"
    incident_window_s: float = 3600.0
    incident_group_by: Literal["rule", "tactic"] = "rule"
    incident_escalate_count: int = 10
    notify_url: SecretStr | None = None
    notify_kind: Literal["json", "telegram", "slack"] = "json"
    notify_chat_id: str | None = None
    notify_min_severity: int = 73
    notify_rate_per_minute: float = 6.0
    notify_burst: int = 3


class EnrichSettings(BaseModel):
    """Lookup files for enrichment; an unset path turns its enrichment off."""

    model_config = ConfigDict(frozen=True)

    assets: Path | None = None
    indicators: tuple[Path, ...] = ()
    geoip_city: Path | None = None
    geoip_asn: Path | None = None
    attack: Path = Path(__file__).resolve().parent.parent / "enrich" / "data" / "attack.csv"


class CorrelationSettings(BaseModel):
    """Sigma correlation rules on the stream: event time, clock skew and checkpoints.

    ``lateness_s``: how far behind its own input's latest event an event may arrive and
    still count; ``idle_s``: processing seconds after which a silent, caught-up input stops
    holding the watermark; ``max_skew_s``: how far ahead of the clock an event may be
    stamped and still move the watermark. ``store``: where Kafka-mode state is
    checkpointed: ``sqlite`` (``checkpoint_path``, one host) or ``kafka`` (a compacted
    changelog topic per consumer group: members on different hosts share no file).
    """

    model_config = ConfigDict(frozen=True)

    lateness_s: Annotated[float, Field(ge=0)] = 60.0
    idle_s: Annotated[float, Field(gt=0)] = 30.0
    max_skew_s: Annotated[float, Field(gt=0)] = 3600.0
    max_event_ids: Annotated[int, Field(gt=0)] = 20
    store: Literal["sqlite", "kafka"] = "sqlite"
    checkpoint_path: Path = Path(".neakta/checkpoints.db")
    checkpoints_kept: Annotated[int, Field(ge=2)] = 3


class MinistriesSettings(BaseModel):
    """Onboarding ministries and watching their log sources.

    ``brokers`` is the Kafka address ministries' forwarders reach (often not the one neakta
    uses), ``security_protocol`` how they reach it (``SASL_PLAINTEXT`` only for the compose
    stack on one host); ``admin_bootstrap`` the one the printed ``kafka-*.sh`` commands
    use. A source (a ministry's family or forwarding host) that sent before and then sends
    nothing for ``silence_gap_s`` seconds of event time raises a "log source silent" alert.
    """

    model_config = ConfigDict(frozen=True)

    brokers: str = "kafka.soc.example:9093"
    security_protocol: Literal["SASL_SSL", "SASL_PLAINTEXT"] = "SASL_SSL"
    admin_bootstrap: str = "localhost:9092"
    templates: Path = Path(__file__).resolve().parent.parent / "deploy" / "forwarders"
    silence_gap_s: float = 1800.0
    silence: bool = True


class Settings(BaseSettings):
    """Everything configurable in neakta, read once at start-up."""

    model_config = SettingsConfigDict(
        env_prefix="NEAKTA_", env_nested_delimiter="__", frozen=True, extra="ignore"
    )

    rules: tuple[Path, ...] = Field(default=(DEFAULT_RULES,))
    pipeline: str = "raw"
    batch_size: Annotated[int, Field(gt=0)] = 100_000
    placeholders: dict[str, list[str]] = Field(default_factory=dict)
    rules_cache: str = ""
    """Folder of compiled rule sets: empty for ``$XDG_CACHE_HOME/neakta``, ``off`` for none."""
    kafka: KafkaSettings = Field(default_factory=KafkaSettings)
    run: RunSettings = Field(default_factory=RunSettings)
    elastic: ElasticSettings = Field(default_factory=ElasticSettings)
    respond: RespondSettings = Field(default_factory=RespondSettings)
    enrich: EnrichSettings = Field(default_factory=EnrichSettings)
    correlation: CorrelationSettings = Field(default_factory=CorrelationSettings)
    ministries: MinistriesSettings = Field(default_factory=MinistriesSettings)


def rules_cache_dir(settings: Settings) -> Path | None:
    """Where compiled rule sets are cached (None: not cached)."""
    from detect.cache import default_cache_dir

    if settings.rules_cache == "off":
        return None
    return Path(settings.rules_cache) if settings.rules_cache else default_cache_dir()


def load_settings() -> Settings:
    """Build the settings from the environment."""
    return Settings()
