"""Lovelorn Monitor: a streaming Weibo monitor that spots heartbreak.

Data flow: sources → bus → scoring → sinks. This module re-exports the public API.
"""

from monitor.detector import Detection, Detector
from monitor.errors import (
    BadResponse,
    BusError,
    ConfigError,
    ModelNotFound,
    MonitorError,
    PollTimeout,
    PromotionRefused,
    RateLimited,
    Refused,
    RegistryError,
    SchemaError,
    ScoringError,
    ServiceError,
    SinkBackpressure,
    SinkError,
    SourceError,
    StoreError,
    StoreUnavailable,
    TrainerError,
)
from monitor.schemas import Alert, Comment, Score, alert_id, decode, encode
from monitor.settings import Settings, load_settings
from monitor.text import clean_text

__all__ = [
    "Alert",
    "BadResponse",
    "BusError",
    "Comment",
    "ConfigError",
    "Detection",
    "Detector",
    "ModelNotFound",
    "MonitorError",
    "PollTimeout",
    "PromotionRefused",
    "RateLimited",
    "Refused",
    "RegistryError",
    "SchemaError",
    "Score",
    "ScoringError",
    "ServiceError",
    "Settings",
    "SinkBackpressure",
    "SinkError",
    "SourceError",
    "StoreError",
    "StoreUnavailable",
    "TrainerError",
    "alert_id",
    "clean_text",
    "decode",
    "encode",
    "load_settings",
]
