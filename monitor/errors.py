"""Every error the monitor raises on purpose, one tree split by layer.

    MonitorError
    ├── ConfigError              bad settings or settings file
    ├── SchemaError              bytes that are not a valid message (dead-letter path)
    ├── ServiceError             embedded broker / Redis could not start or be reached
    ├── SourceError              fetching comments
    │   ├── PollTimeout
    │   ├── RateLimited          418/403/432: back off for ``retry_after`` seconds
    │   └── BadResponse          login page, truncated JSON, 5xx
    │       └── Refused          the API answered ok: 0
    ├── BusError                 Kafka (aiokafka errors never escape monitor.bus)
    │   └── Fenced               a newer owner took this partition's transactions (monitor.bus)
    ├── ScoringError             model loading or inference
    ├── StoreError               Redis (redis-py errors never escape monitor.store)
    │   └── StoreUnavailable     Redis down, frozen or unreachable: retry later
    ├── SinkError                an alert could not be delivered
    │   └── SinkBackpressure     the sink is down: pause and retry, do not commit
    ├── RegistryError            model registry
    │   ├── ModelNotFound
    │   └── PromotionRefused
    └── TrainerError             the offline trainer (trainer.errors: DataError, ModelError, ExportError)

``retriable`` says whether trying the same operation again later can succeed; the
CLI prints ``str(error)`` as one line, so messages name the thing that failed.
"""

from __future__ import annotations

__all__ = [
    "BadResponse",
    "BusError",
    "ConfigError",
    "ModelNotFound",
    "MonitorError",
    "PollTimeout",
    "PromotionRefused",
    "RateLimited",
    "Refused",
    "RegistryError",
    "SchemaError",
    "ScoringError",
    "ServiceError",
    "SinkBackpressure",
    "SinkError",
    "SourceError",
    "StoreError",
    "StoreUnavailable",
    "TrainerError",
]


class MonitorError(Exception):
    retriable: bool = False


class ConfigError(MonitorError):
    pass


class SchemaError(MonitorError):
    """Raised by every decoder; the scorer catches exactly this to dead-letter a record."""


class ServiceError(MonitorError):
    pass


class SourceError(MonitorError):
    retriable = True


class PollTimeout(SourceError):
    pass


class RateLimited(SourceError):
    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class BadResponse(SourceError):
    pass


class Refused(BadResponse):
    """Well-formed JSON saying ``ok: 0`` (throttled, or nothing to show for this request)."""


class BusError(MonitorError):
    retriable = True


class ScoringError(MonitorError):
    pass


class StoreError(MonitorError):
    """Redis refused or failed the operation (bad password, wrong type, script error)."""


class StoreUnavailable(StoreError):
    retriable = True


class SinkError(MonitorError):
    retriable = True


class SinkBackpressure(SinkError):
    def __init__(self, message: str, retry_after: float = 1.0) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class RegistryError(MonitorError):
    pass


class ModelNotFound(RegistryError):
    pass


class PromotionRefused(RegistryError):
    pass


class TrainerError(MonitorError):
    """Base of the trainer's errors, so the CLI's one-line handler catches them too."""
