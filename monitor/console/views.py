"""What the queue and review pages show: one row type for alerts and sampled comments, the
view a reviewer picked (lane, policy filter, sort), the neighbours for j/k, and the
feedback a redirect carries (a verdict saved and undoable, or refused and why)."""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Literal
from urllib.parse import urlencode

from monitor.console.reviewers import valid_name
from monitor.schemas import Alert, Lane, Sampled

__all__ = [
    "ENTRY_ID",
    "SORTS",
    "VERDICTS",
    "Feedback",
    "Row",
    "View",
    "ago",
    "neighbours",
    "shown",
    "to_row",
]

ENTRY_ID = re.compile(r"\d{1,20}-\d{1,20}")
SORTS: dict[str, str] = {
    "score": "highest score first",
    "score_asc": "lowest score first",
    "oldest": "oldest first",
    "newest": "newest first",
}
Sort = Literal["score", "score_asc", "oldest", "newest"]
VERDICTS = {"lovelorn": "Lovelorn", "not_lovelorn": "Not lovelorn", "unsure": "Unsure"}


@dataclass(frozen=True)
class Row:
    entry_id: str
    lane: Lane
    item_id: str  # alert id, or the sample id in the review lane
    comment_id: str
    post_id: str
    reply_to: str | None
    user_id: str | None
    user_name: str | None
    text: str | None
    score: float
    threshold: float
    policies: list[str]
    model_version: str
    created_at: datetime
    at: datetime  # when it reached the queue: emitted or sampled

    # what the pages print, computed here: a Jinja filter per cell of 100 rows is slow
    @property
    def level(self) -> str:
        return "high" if self.score >= 0.8 else "mid" if self.score >= self.threshold else "low"

    @property
    def snippet(self) -> str:
        text = self.text or "(text withheld)"
        return text if len(text) <= 80 else text[:79] + "…"

    @property
    def short_user(self) -> str:
        user = self.user_id or "–"
        return user if len(user) <= 14 else user[:13] + "…"

    @property
    def age(self) -> str:
        return ago(self.at)


def ago(when: datetime) -> str:
    """'3 min ago' style ages."""
    seconds = max(0.0, (datetime.now(UTC) - when).total_seconds())
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if seconds >= size:
            return f"{int(seconds // size)} {unit} ago"
    return "just now"


def to_row(entry_id: str, item: Alert | Sampled) -> Row:
    if isinstance(item, Alert):
        return Row(
            entry_id, "alerts", item.alert_id, item.comment_id, item.post_id, None,
            item.user_id, item.user_name, item.text, item.score, item.threshold,
            list(item.policies), item.model_version, item.created_at, item.emitted_at,
        )  # fmt: skip
    return Row(
        entry_id, "sample", item.sample_id, item.comment_id, item.post_id, item.reply_to,
        item.user_id, None, item.text, item.score, item.threshold, [], item.model_version,
        item.created_at, item.sampled_at,
    )  # fmt: skip


def shown(row: Row, policies: list[str]) -> Row:
    """``row`` with only the policy tags of ``policies`` (the reviewer's team's)."""
    return replace(row, policies=[p for p in row.policies if p in policies])


@dataclass(frozen=True)
class Feedback:
    """What the last action did, read back from the redirect's query (so a reload or
    another tab changes nothing; every value is checked, as anyone can write a URL):
    ``decided`` is ``saved`` (as ``verdict``; ``item`` is ``lane/entry id`` to undo it),
    ``second`` or ``claimed`` (``by`` whom, when known); ``undo`` is ``undone``, ``late``
    or ``not_yours``."""

    decided: str | None = None
    verdict: str | None = None
    item: str | None = None
    by: str | None = None
    undo: str | None = None

    @classmethod
    def parse(cls, params: Mapping[str, str]) -> Feedback:
        def pick(name: str, allowed: Collection[str]) -> str | None:
            value = params.get(name)
            return value if value is not None and value in allowed else None

        lane, _, entry = (params.get("item") or "").partition("/")
        item = (
            f"{lane}/{entry}"
            if lane in ("alerts", "sample") and ENTRY_ID.fullmatch(entry)
            else None
        )
        by = params.get("by") or ""
        return cls(
            pick("decided", ("saved", "second", "claimed")),
            pick("as", VERDICTS),
            item,
            by if valid_name(by) else None,
            pick("undo", ("undone", "late", "not_yours")),
        )


@dataclass(frozen=True)
class View:
    lane: Lane = "alerts"
    policy: str | None = None
    sort: Sort = "score"

    @classmethod
    def parse(cls, params: dict[str, str], policies: list[str]) -> View:
        """From query parameters; ValueError names the bad one."""
        lane = params.get("lane") or "alerts"
        if lane not in ("alerts", "sample"):
            raise ValueError(f"unknown lane {lane!r}: alerts or sample")
        policy = params.get("policy") or None
        if policy is not None and (lane == "sample" or policy not in policies):
            raise ValueError(f"unknown policy {policy!r}; known: {', '.join(policies)}")
        sort = params.get("sort") or "score"
        if sort not in SORTS:
            raise ValueError(f"unknown sort {sort!r}; known: {', '.join(SORTS)}")
        return cls(lane, policy, sort)  # type: ignore[arg-type]

    def query(self, **changes: str | None) -> str:
        values = {"lane": self.lane, "policy": self.policy, "sort": self.sort} | changes
        return urlencode({k: v for k, v in values.items() if v})

    def order(self, rows: list[Row]) -> list[Row]:
        key = {
            "score": lambda r: (-r.score, r.at),
            "score_asc": lambda r: (r.score, r.at),
            "oldest": lambda r: (r.at, -r.score),
            "newest": lambda r: (-r.at.timestamp(), -r.score),
        }[self.sort]
        return sorted(rows, key=key)


def neighbours(rows: list[Row], entry_id: str) -> tuple[Row | None, Row | None]:
    """(previous, next) of ``entry_id`` in ``rows``; for an entry not in the queue, the
    next is the queue's first."""
    ids = [r.entry_id for r in rows]
    if entry_id not in ids:
        return None, rows[0] if rows else None
    i = ids.index(entry_id)
    return (rows[i - 1] if i > 0 else None), (rows[i + 1] if i + 1 < len(rows) else None)
