"""One frozen settings object, built once from the environment (prefix ``NEAKTA_``).

Nested values use ``__``: ``NEAKTA_KAFKA__BOOTSTRAP_SERVERS=broker:9092``. Stages never see
this object; the composition root passes them plain keyword arguments.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

__all__ = ["DEFAULT_RULES", "KafkaSettings", "Settings", "load_settings"]

DEFAULT_RULES = Path(__file__).resolve().parent.parent / "rules"


class KafkaSettings(BaseModel):
    """Where ministries' logs arrive (unset bootstrap servers: file replay only)."""

    model_config = ConfigDict(frozen=True)

    bootstrap_servers: str | None = None
    group_id: str = "neakta"
    topics: tuple[str, ...] = ("logs.endpoint", "logs.firewall", "logs.web")
    security_protocol: str = "PLAINTEXT"
    sasl_mechanism: str | None = None
    username: str | None = None
    password: SecretStr | None = None
    ca_file: Path | None = None


class Settings(BaseSettings):
    """Everything configurable in neakta, read once at start-up."""

    model_config = SettingsConfigDict(
        env_prefix="NEAKTA_", env_nested_delimiter="__", frozen=True, extra="ignore"
    )

    rules: tuple[Path, ...] = Field(default=(DEFAULT_RULES,))
    pipeline: str = "raw"
    batch_size: int = 100_000
    placeholders: dict[str, list[str]] = Field(default_factory=dict)
    kafka: KafkaSettings = Field(default_factory=KafkaSettings)


def load_settings() -> Settings:
    """Build the settings from the environment."""
    return Settings()
