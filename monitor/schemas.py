"""Messages on the bus and in Redis, version 1.

Every message carries ``schema_version``; readers ignore unknown fields (so producers can
add some) but refuse a missing or wrong version. ``decode`` is the only way bytes become
a message, and it raises only SchemaError — the scorer's dead-letter path catches exactly that.
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from typing import Annotated, Any, Literal, TypeVar

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from monitor.errors import SchemaError
from monitor.text import clean_text

__all__ = [
    "Alert",
    "Comment",
    "Lane",
    "Sampled",
    "Score",
    "Verdict",
    "alert_id",
    "decode",
    "encode",
    "utcnow",
]

Message = TypeVar("Message", bound=BaseModel)
_Id = Annotated[str, Field(min_length=1, max_length=64)]


def utcnow() -> datetime:
    return datetime.now(UTC)


def _encodable(value: Any) -> None:
    """JSON may carry lone surrogates (``"\\ud800"``) that no UTF-8 writer can encode: refuse
    them on the way in, or a record that decoded fine would fail later in every sink."""
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise ValueError("text is not valid Unicode (a lone surrogate)") from None
    elif isinstance(value, dict):
        for item in value.values():
            _encodable(item)
    elif isinstance(value, list):
        for item in value:
            _encodable(item)


class _Message(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)
    schema_version: Literal[1] = 1

    @model_validator(mode="before")
    @classmethod
    def _valid_unicode(cls, data: Any) -> Any:
        _encodable(data)
        return data


class Comment(_Message):
    """One Weibo comment as fetched. ``text`` is ``clean_text(text_raw)``, filled in if absent."""

    comment_id: _Id
    post_id: _Id
    user_id: Annotated[str, Field(max_length=64)] | None = None
    user_name: Annotated[str, Field(max_length=128)] | None = None
    text_raw: str
    text: str = ""
    created_at: AwareDatetime
    fetched_at: AwareDatetime = Field(default_factory=utcnow)
    source: str = "weibo"
    like_count: int | None = None
    reply_to: str | None = None

    @model_validator(mode="before")
    @classmethod
    def _clean(cls, data: Any) -> Any:
        if (
            isinstance(data, dict)
            and not data.get("text")
            and isinstance(data.get("text_raw"), str)
        ):
            data = {**data, "text": clean_text(data["text_raw"])}
        return data


class Score(_Message):
    comment_id: _Id
    post_id: _Id
    user_id: str | None = None
    score: Annotated[float, Field(ge=0, le=1)]
    model_version: str
    fetched_at: AwareDatetime
    scored_at: AwareDatetime = Field(default_factory=utcnow)


class Alert(_Message):
    """A comment judged lovelorn by one model version.

    ``alert_id`` is stable for (comment, model version), so redelivery after a crash
    yields the same id and consumers can drop repeats. ``policies`` names every alert
    policy (care, ads, …) whose threshold the score reached. In minimal payload mode
    ``text`` and ``user_name`` are left out; in privacy mode ``user_id`` is a keyed hash.
    """

    alert_id: str
    comment_id: _Id
    post_id: _Id
    user_id: str | None = None
    user_name: str | None = None
    text: str | None = None
    score: Annotated[float, Field(ge=0, le=1)]
    threshold: Annotated[float, Field(ge=0, le=1)]
    policies: list[str] = []
    model_version: str
    created_at: AwareDatetime
    fetched_at: AwareDatetime
    emitted_at: AwareDatetime = Field(default_factory=utcnow)

    @field_validator("policies")
    @classmethod
    def _sorted(cls, value: list[str]) -> list[str]:
        return sorted(set(value))


Lane = Literal["alerts", "sample"]  # what a reviewer decides on: alerts, or sampled comments


class Sampled(_Message):
    """A non-alerting comment sampled for review (to estimate what alerts miss)."""

    sample_id: str  # alert_id(comment, model version): stable, so writes are idempotent
    comment_id: str
    post_id: str
    reply_to: str | None = None
    user_id: str | None = None
    text: str | None = None
    score: Annotated[float, Field(ge=0, le=1)]
    threshold: Annotated[float, Field(ge=0, le=1)]
    model_version: str
    created_at: AwareDatetime
    fetched_at: AwareDatetime
    sampled_at: AwareDatetime = Field(default_factory=utcnow)


class Verdict(_Message):
    """A reviewer's decision on an alert (lane ``alerts``) or a sampled comment (``sample``)."""

    alert_id: str
    lane: Lane = "alerts"
    comment_id: str
    post_id: str | None = None
    user_id: str | None = None
    text: str | None = None
    score: Annotated[float, Field(ge=0, le=1)]
    model_version: str
    policies: list[str] = []
    verdict: Literal["lovelorn", "not_lovelorn", "unsure"]
    note: Annotated[str, Field(max_length=2000)] = ""
    urgent: bool = False
    reviewer: str
    team: str
    at: AwareDatetime = Field(default_factory=utcnow)

    @property
    def label(self) -> int | None:
        """1 lovelorn, 0 not, None unsure (dropped from training and precision)."""
        return {"lovelorn": 1, "not_lovelorn": 0}.get(self.verdict)


def alert_id(comment_id: str, model_version: str) -> str:
    return hashlib.sha256(f"{comment_id}\x1f{model_version}".encode()).hexdigest()[:32]


def encode(message: BaseModel) -> bytes:
    return message.model_dump_json().encode()


def decode(kind: type[Message], data: bytes | str | None, *, max_bytes: int = 1_048_576) -> Message:
    """Parse one message; any problem becomes SchemaError with a short reason."""
    if data is None:
        raise SchemaError("empty record (no value)")
    if len(data) > max_bytes:
        raise SchemaError(f"record of {len(data)} bytes exceeds the {max_bytes}-byte limit")
    try:
        raw = json.loads(data)
    except ValueError as exc:  # JSONDecodeError and UnicodeDecodeError
        raise SchemaError(f"not JSON: {exc}") from None
    except RecursionError:
        raise SchemaError("not JSON: nested too deeply") from None
    if not isinstance(raw, dict):
        raise SchemaError(f"expected a JSON object for {kind.__name__}, got {type(raw).__name__}")
    try:
        return kind.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or kind.__name__
        more = f" (+{exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
        raise SchemaError(f"invalid {kind.__name__}: {where}: {first['msg']}{more}") from None
