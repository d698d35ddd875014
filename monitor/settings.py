"""One frozen settings tree for every component.

Sources, strongest first: keyword arguments, ``LOVELORN_…`` environment variables
(nested with ``__``, e.g. ``LOVELORN_KAFKA__BOOTSTRAP_SERVERS``), an optional TOML file,
then defaults. Unknown keys are refused so a typo never silently falls back to a default.
Kafka and Redis addresses left unset mean "the embedded services" (``lovelorn services up``).
"""

from __future__ import annotations

import ipaddress
import os
import re
import tomllib
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from monitor.errors import ConfigError

__all__ = [
    "AlertPolicy",
    "AlertSettings",
    "KafkaSettings",
    "KeywordTarget",
    "PostTarget",
    "RedisSettings",
    "RegistrySettings",
    "ScorerSettings",
    "Settings",
    "TrainerSettings",
    "WeiboSettings",
    "load_settings",
]

CONFIG_ENV = "LOVELORN_CONFIG"
_LABEL = re.compile(r"[A-Za-z0-9_](?:[A-Za-z0-9_-]*[A-Za-z0-9_])?")


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _check_host_port(value: str) -> str:
    host, sep, port = value.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"{value!r} is not host:port")
    host = host.strip("[]")
    if ":" in host:  # an IPv6 literal must parse as one
        try:
            ipaddress.IPv6Address(host)
        except ValueError:
            raise ValueError(f"{value!r} is not host:port") from None
    elif not all(_LABEL.fullmatch(part) for part in host.split(".")):
        raise ValueError(f"{value!r} has an invalid host name")
    return value


class KafkaSettings(_Section):
    bootstrap_servers: str | None = Field(
        None, description="host:port[,host:port…]; unset = the embedded broker"
    )
    security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = "PLAINTEXT"
    sasl_mechanism: Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"] | None = None
    sasl_username: str | None = None
    sasl_password: SecretStr | None = None
    ssl_cafile: Path | None = None
    ssl_certfile: Path | None = None
    ssl_keyfile: Path | None = None
    comments_topic: str = "weibo.comments"
    alerts_topic: str = "lovelorn.alerts"
    scores_topic: str = "lovelorn.scores"
    dead_letter_topic: str = "weibo.comments.dlq"
    partitions: Annotated[int, Field(ge=1, le=1024)] = 3
    consumer_group: str = "scorer"
    compression: Literal["none", "gzip", "lz4", "zstd"] = "lz4"
    enable_idempotence: bool = Field(False, description="the embedded broker rejects it")
    session_timeout_ms: Annotated[int, Field(ge=1000)] = 6000
    request_timeout_ms: Annotated[int, Field(ge=1000)] = 30000
    max_message_bytes: Annotated[int, Field(ge=1024)] = 1_048_576

    @field_validator("bootstrap_servers")
    @classmethod
    def _servers(cls, value: str | None) -> str | None:
        if value is None:
            return None
        servers = [s.strip() for s in value.split(",")]
        for server in servers:
            _check_host_port(server)
        return ",".join(servers)


class RedisSettings(_Section):
    url: str | None = Field(None, description="redis:// or rediss:// URL; unset = embedded Redis")
    password: SecretStr | None = None
    ssl_ca_certs: Path | None = None
    key_prefix: str = "lovelorn:"
    alert_stream_maxlen: Annotated[int, Field(ge=100)] = 100_000
    user_state_ttl_s: Annotated[int, Field(ge=60)] = 30 * 24 * 3600
    alert_dedupe_ttl_s: Annotated[int, Field(ge=60)] = 7 * 24 * 3600
    seen_ttl_s: Annotated[int, Field(ge=60)] = 14 * 24 * 3600

    @field_validator("url")
    @classmethod
    def _url(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("redis://", "rediss://", "unix://")):
            raise ValueError(f"{value!r} is not a redis://, rediss:// or unix:// URL")
        return value


class PostTarget(_Section):
    post_id: str
    interval_s: Annotated[float, Field(gt=0)] = 300.0


class KeywordTarget(_Section):
    keyword: str
    interval_s: Annotated[float, Field(gt=0)] = 600.0
    pages: Annotated[int, Field(ge=1, le=50)] = 2


class WeiboSettings(_Section):
    base_url: str = "https://m.weibo.cn"
    cookie: SecretStr | None = Field(None, description="the SUB cookie; never logged")
    user_agent: str = (
        "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 "
        "(KHTML, like Gecko) Version/17.0 Mobile/15E148 Safari/604.1"
    )
    posts: list[PostTarget] = []
    keywords: list[KeywordTarget] = []
    min_interval_s: Annotated[float, Field(ge=0)] = 1.0
    jitter_s: Annotated[float, Field(ge=0)] = 0.5
    timeout_s: Annotated[float, Field(gt=0)] = 10.0
    max_pages: Annotated[int, Field(ge=1)] = 50
    concurrency: Annotated[int, Field(ge=1, le=16)] = 2
    backoff_base_s: Annotated[float, Field(gt=0)] = 2.0
    backoff_cap_s: Annotated[float, Field(gt=0)] = 600.0
    breaker_threshold: Annotated[int, Field(ge=1)] = 5
    breaker_rest_s: Annotated[float, Field(gt=0)] = 3600.0
    include_replies: bool = False
    max_response_bytes: Annotated[int, Field(ge=1024)] = 5_000_000


class ScorerSettings(_Section):
    model: str = Field("current", description="registry version to load, or 'current'")
    device: Literal["auto", "cpu", "gpu"] = "auto"
    cpu_threads: Annotated[int, Field(ge=1)] = 2
    gpu_id: Annotated[int, Field(ge=0)] = 0
    tensorrt: bool = False
    fp16: bool = False
    max_batch: Annotated[int, Field(ge=1, le=4096)] = 64
    bucket_rows: Annotated[int, Field(ge=1, le=1024)] = Field(
        16, description="rows per length bucket inside a micro-batch"
    )
    max_wait_ms: Annotated[int, Field(ge=0)] = 50
    max_inflight_batches: Annotated[int, Field(ge=1)] = 4
    commit_interval_s: Annotated[float, Field(gt=0)] = 1.0
    max_text_chars: Annotated[int, Field(ge=1)] = 2000
    emit_scores: bool = False
    metrics_port: Annotated[int, Field(ge=0, le=65535)] = 0


class AlertPolicy(_Section):
    """A consumer's rule: a fixed threshold, or the lowest one reaching a validation precision."""

    threshold: Annotated[float, Field(ge=0, le=1)] | None = None
    min_precision: Annotated[float, Field(gt=0, le=1)] | None = None


class AlertSettings(_Section):
    policies: dict[str, AlertPolicy] = {
        "care": AlertPolicy(min_precision=0.6),
        "ads": AlertPolicy(min_precision=0.8),
    }
    user_cooldown_s: Annotated[float, Field(ge=0)] = 0.0
    privacy_mode: bool = False
    pseudonym_key: SecretStr | None = None
    minimal_payload: bool = False


class RegistrySettings(_Section):
    root: Path | None = Field(None, description="unset = <home>/models")
    promotion_margin: Annotated[float, Field(ge=0, le=1)] = 0.01


class TrainerSettings(_Section):
    epochs: Annotated[int, Field(ge=1)] = 3
    batch_size: Annotated[int, Field(ge=1)] = 32
    learning_rate: Annotated[float, Field(gt=0)] = 5e-4
    weight_decay: Annotated[float, Field(ge=0)] = 0.01
    warmup_proportion: Annotated[float, Field(ge=0, lt=1)] = 0.1
    max_seq_len: Annotated[int, Field(ge=8, le=512)] = 128
    seed: int = 42
    patience: Annotated[int, Field(ge=1)] = 2
    balance_classes: bool = Field(False, description="reweight so both classes weigh the same")
    teacher: Literal["none", "char-ngram"] = Field(
        "none", description="fit a char n-gram teacher's cross-fitted probabilities (distillation)"
    )
    teacher_folds: Annotated[int, Field(ge=2)] = 5


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="LOVELORN_",
        env_nested_delimiter="__",
        extra="forbid",
        frozen=True,
    )

    home: Path = Field(Path(".lovelorn"), description="state, models and caches")
    log_level: Literal["debug", "info", "warning", "error"] = "info"
    log_format: Literal["auto", "json", "console"] = "auto"
    kafka: KafkaSettings = KafkaSettings()
    redis: RedisSettings = RedisSettings()
    weibo: WeiboSettings = WeiboSettings()
    scorer: ScorerSettings = ScorerSettings()
    alerts: AlertSettings = AlertSettings()
    registry: RegistrySettings = RegistrySettings()
    trainer: TrainerSettings = TrainerSettings()

    @property
    def registry_root(self) -> Path:
        return self.registry.root or self.home / "models"

    @property
    def services_dir(self) -> Path:
        return self.home / "services"

    def masked(self) -> dict[str, Any]:
        """The effective settings as JSON-able data; SecretStr dumps as '**********'."""
        return self.model_dump(mode="json")


def _describe(exc: ValidationError) -> str:
    parts = []
    for err in exc.errors():
        where = ".".join(str(p) for p in err["loc"]) or "settings"
        msg = err["msg"].removeprefix("Value error, ")
        parts.append(f"{where}: {msg}")
    return "; ".join(parts)


def load_settings(config_file: Path | None = None, **overrides: Any) -> Settings:
    """Build the settings, reading a TOML file from the argument or ``LOVELORN_CONFIG``.

    Raises ConfigError with one line naming every bad key.
    """
    if config_file is None and os.environ.get(CONFIG_ENV):
        config_file = Path(os.environ[CONFIG_ENV])
    cls: type[Settings] = Settings
    if config_file is not None:
        if not config_file.is_file():
            raise ConfigError(f"settings file {config_file} does not exist")
        try:
            tomllib.loads(
                config_file.read_bytes().decode("utf-8")
            )  # as the TOML source reads it: bytes, no newline translation
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise ConfigError(f"settings file {config_file} is not valid TOML: {exc}") from None
        toml_file = config_file

        class _FromFile(Settings):
            @classmethod
            def settings_customise_sources(
                cls,
                settings_cls: type[BaseSettings],
                init_settings: PydanticBaseSettingsSource,
                env_settings: PydanticBaseSettingsSource,
                dotenv_settings: PydanticBaseSettingsSource,
                file_secret_settings: PydanticBaseSettingsSource,
            ) -> tuple[PydanticBaseSettingsSource, ...]:
                return (
                    init_settings,
                    env_settings,
                    TomlConfigSettingsSource(settings_cls, toml_file),
                )

        cls = _FromFile
    try:
        return cls(**overrides)
    except ValidationError as exc:
        origin = f" (from {config_file} and LOVELORN_* variables)" if config_file else ""
        raise ConfigError(f"invalid settings{origin}: {_describe(exc)}") from None
