"""Comment, Score and Alert v1: cleaning, strict decoding, stable ids and round trips."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from monitor.errors import SchemaError
from monitor.schemas import Alert, Comment, alert_id, decode, encode
from monitor.text import clean_text

CST = timezone(timedelta(hours=8))


def comment(**kw: object) -> Comment:
    data = {
        "comment_id": "c1",
        "post_id": "p1",
        "user_id": "u1",
        "user_name": "小明",
        "text_raw": "分手了<br/>[泪]",
        "created_at": datetime(2026, 11, 22, 10, 1, 2, tzinfo=CST),
    } | kw
    return Comment.model_validate(data)


def test_comment_round_trip_and_cleaning() -> None:
    c = comment()
    assert c.text == "分手了 [泪]"
    assert c.schema_version == 1
    assert decode(Comment, encode(c)) == c


def test_unknown_fields_ignored_but_version_checked() -> None:
    raw = encode(comment()).replace(b'"schema_version":1', b'"schema_version":1,"extra":5')
    assert decode(Comment, raw).comment_id == "c1"
    with pytest.raises(SchemaError, match="schema_version"):
        decode(Comment, encode(comment()).replace(b'"schema_version":1', b'"schema_version":2'))


@pytest.mark.parametrize(
    "data, reason",
    [
        (b"{not json", "not JSON"),
        (b"\xff\xfe\x00", "not JSON"),
        (b"[1,2]", "expected a JSON object"),
        (b'{"comment_id": "c"}', "invalid Comment"),
        (None, "empty record"),
        (b"[" * 100_000, "not JSON"),
    ],
)
def test_decode_errors_are_typed(data: bytes | None, reason: str) -> None:
    with pytest.raises(SchemaError, match=reason):
        decode(Comment, data)


def test_naive_datetime_refused() -> None:
    raw = encode(comment()).replace(b"+08:00", b"")
    with pytest.raises(SchemaError, match="created_at"):
        decode(Comment, raw)


def test_size_limit() -> None:
    with pytest.raises(SchemaError, match="exceeds"):
        decode(Comment, b" " * 2000, max_bytes=1000)


def test_alert_id_is_stable_per_comment_and_model() -> None:
    assert alert_id("c1", "v1") == alert_id("c1", "v1")
    assert alert_id("c1", "v1") != alert_id("c1", "v2")
    assert alert_id("c1", "v1") != alert_id("c2", "v1")
    now = datetime.now(UTC)
    alert = Alert(
        alert_id=alert_id("c1", "v1"),
        comment_id="c1",
        post_id="p1",
        score=0.9,
        threshold=0.5,
        policies=["care", "ads", "care"],
        model_version="v1",
        created_at=now,
        fetched_at=now,
    )
    assert alert.policies == ["ads", "care"]
    assert decode(Alert, encode(alert)) == alert


ids = st.text(min_size=1, max_size=64)
aware_times = st.datetimes(
    min_value=datetime(1970, 1, 2),
    max_value=datetime(2100, 1, 1),
    timezones=st.sampled_from([UTC, CST]),
)
html_bits = st.sampled_from(
    [
        "<br/>",
        "<br>",
        '<img alt="[泪]" src="x">',
        "<a href='x'>链接</a>",
        "&amp;",
        "&lt;3",
        "http://t.cn/abc",
        "网页链接",
        "回复@某人:",
        "\u200b",
        "\n\t",
        "  ",
        "分手",
        "[心碎]",
    ]
)
raw_texts = st.text(max_size=80) | st.lists(html_bits | st.text(max_size=5), max_size=12).map(
    "".join
)
comment_fields = st.fixed_dictionaries(
    {"comment_id": ids, "post_id": ids, "text_raw": raw_texts, "created_at": aware_times},
    optional={
        "user_id": st.none() | st.text(max_size=64),
        "user_name": st.none() | st.text(max_size=128),
        "like_count": st.none() | st.integers(),
        "reply_to": st.none() | ids,
    },
)


@settings(max_examples=300, deadline=None)
@given(
    st.binary(max_size=300)
    | st.text(max_size=300).map(str.encode)
    | comment_fields.map(lambda f: json.dumps(f, default=datetime.isoformat).encode())
)
def test_decode_never_raises_other_errors(data: bytes) -> None:
    try:
        c = decode(Comment, data)
    except SchemaError:
        return
    raw = json.loads(data)  # it decoded, so it is a JSON object with valid fields
    for name in ("comment_id", "post_id", "text_raw", "user_id", "user_name", "like_count"):
        assert getattr(c, name) == raw.get(name), name
    assert c.created_at == datetime.fromisoformat(raw["created_at"])
    assert c.text == (raw.get("text") or clean_text(raw["text_raw"]))
    assert decode(Comment, encode(c)) == c


@settings(max_examples=300, deadline=None)
@given(comment_fields)
def test_a_comment_is_its_cleaned_text_and_survives_a_round_trip(fields: dict) -> None:  # type: ignore[type-arg]
    c = Comment.model_validate(fields)
    assert c.text == clean_text(fields["text_raw"])
    assert clean_text(c.text) == c.text  # idempotent: cleaning again changes nothing
    assert c.text_raw == fields["text_raw"] and c.created_at == fields["created_at"]
    again = decode(Comment, encode(c))
    assert again == c and again.text == c.text and again.fetched_at == c.fetched_at


@settings(max_examples=100, deadline=None)
@given(
    ids,
    st.text(max_size=20),
    st.floats(0, 1),
    st.lists(st.sampled_from(["care", "ads", "press"]), max_size=6),
    aware_times,
)
def test_alert_round_trip(
    comment_id: str, version: str, score: float, policies: list[str], at: datetime
) -> None:
    alert = Alert(
        alert_id=alert_id(comment_id, version),
        comment_id=comment_id,
        post_id="p1",
        score=score,
        threshold=0.5,
        policies=policies,
        model_version=version,
        created_at=at,
        fetched_at=at,
    )
    assert alert.policies == sorted(set(policies))
    assert len(alert.alert_id) == 32
    assert decode(Alert, encode(alert)) == alert


def test_what_decode_accepts_encode_can_write() -> None:
    raw = encode(comment()).replace("分手了".encode(), b"\\ud800")
    try:
        c = decode(Comment, raw)
    except SchemaError:
        return  # refusing it at the boundary is fine too
    assert decode(Comment, encode(c)) == c
