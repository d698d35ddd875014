"""The sections of the settings tree, one pydantic model each (frozen, unknown keys refused)."""

from __future__ import annotations

import ipaddress
import re
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator

from monitor.settings.console import ConsoleSettings, ConsoleUser

__all__ = [
    "AlertPolicy",
    "AlertSettings",
    "ConsoleSettings",
    "ConsoleUser",
    "KafkaSettings",
    "KeywordTarget",
    "PostTarget",
    "RedisSettings",
    "RegistrySettings",
    "ScorerSettings",
    "TrainerSettings",
    "WebhookSettings",
    "WeiboSettings",
]

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
    replication_factor: Annotated[int, Field(ge=1, le=16)] = Field(
        1, description="for topics this tool creates; 3 on a production cluster"
    )
    min_insync_replicas: Annotated[int, Field(ge=1, le=16)] | None = Field(
        None, description="topic min.insync.replicas (with acks=all: writes survive a broker loss)"
    )
    consumer_group: str = "scorer"
    compression: Literal["none", "gzip", "lz4", "zstd"] = "lz4"
    enable_idempotence: bool = Field(False, description="the embedded broker rejects it")
    exactly_once: bool = Field(
        False, description="alerts, scores and offsets in one transaction (Apache Kafka only)"
    )
    transactional_id: str | None = Field(
        None,
        description="prefix of the per-partition transactional ids (unset = lovelorn); the "
        "same on every scorer of the group, so a partition's new owner fences the old one",
    )
    transaction_timeout_ms: Annotated[int, Field(ge=1000)] = 60000
    lag_from_highwater: bool = Field(
        False, description="the embedded broker's end_offsets() is wrong; set for it"
    )
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
    alert_reclaim_idle_s: Annotated[float, Field(gt=0)] = 60.0  # then another reader takes it

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
    metrics_port: Annotated[int, Field(ge=0, le=65535)] = Field(
        0, description="Prometheus and health endpoints of `lovelorn poll`; 0 = off"
    )


class ScorerSettings(_Section):
    model: str = Field("current", description="registry version to load, or 'current'")
    device: Literal["auto", "cpu", "gpu"] = "auto"
    cpu_threads: Annotated[int, Field(ge=1)] = 2
    gpu_id: Annotated[int, Field(ge=0)] = 0
    tensorrt: bool = False
    fp16: bool = False
    precision: Literal["auto", "fp32", "bf16", "int8"] = "auto"  # gated: model/precision.py
    cascade: bool = Field(
        False,
        description="run the served version's recorded cascade: a fast first stage scores every "
        "text, the served version only the unsure ones (`lovelorn models cascade`)",
    )
    max_batch: Annotated[int, Field(ge=1, le=4096)] = 64
    bucket_rows: Annotated[int, Field(ge=1, le=1024)] = Field(
        16, description="rows per length bucket inside a micro-batch"
    )
    max_wait_ms: Annotated[int, Field(ge=0)] = 50
    max_inflight_batches: Annotated[int, Field(ge=1)] = 4
    commit_interval_s: Annotated[float, Field(gt=0)] = 1.0
    max_text_chars: Annotated[int, Field(ge=1)] = 2000
    emit_scores: bool = False
    metrics_port: Annotated[int, Field(ge=0, le=65535)] = Field(
        0, description="Prometheus and health endpoints of `lovelorn score`; 0 = off"
    )
    review_sample_rate: Annotated[float, Field(ge=0, le=1)] = Field(
        0.01,
        description="share of non-alerting comments sent to the console's review lane; 0 = off",
    )


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
    bundled: bool = Field(
        True, description="seed an empty registry with the model bundled in the package"
    )


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
    teacher: Annotated[str, Field(pattern=r"^(none|char-ngram|v[0-9]+)$")] = Field(
        "none",
        description="soft targets to distil: a char n-gram model's cross-fitted probabilities "
        "(char-ngram) or a registry version's scores (vN, over the recipe's unlabelled texts too)",
    )
    teacher_folds: Annotated[int, Field(ge=2)] = 5
    freeze_word_embeddings: bool = Field(
        False, description="keep a pretrained word embedding as it is (faster steps, less drift)"
    )
    negative_sample: Annotated[float, Field(gt=0, le=1)] = Field(
        1.0,
        description="share of the training negatives drawn afresh each epoch (every positive stays)",
    )
    checkpoint_minutes: Annotated[float, Field(gt=0)] = Field(
        10.0, description="how often a fine-tuning run with a checkpoint folder saves its state"
    )


class WebhookSettings(_Section):
    """Alerts pushed to a team's HTTPS endpoint; off while ``url`` is unset."""

    url: str | None = None
    secret: SecretStr | None = Field(None, description="HMAC-SHA256 key for the signature header")
    policies: list[str] = Field([], description="only alerts meeting one of these; empty = all")
    timeout_s: Annotated[float, Field(gt=0)] = 10.0
    retry_timeout_s: Annotated[float, Field(gt=0)] = Field(
        30.0, description="per alert, before the batch is held and retried by the scorer"
    )
    concurrency: Annotated[int, Field(ge=1, le=64)] = 4

    @field_validator("url")
    @classmethod
    def _url(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("https://", "http://")):
            raise ValueError(f"{value!r} is not an http(s):// URL")
        return value
