from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from monitor.errors import SchemaError
from monitor.schemas import Alert, Comment, alert_id, decode, encode

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


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=300) | st.text(max_size=300).map(str.encode))
def test_decode_never_raises_other_errors(data: bytes) -> None:
    try:
        decode(Comment, data)
    except SchemaError:
        pass
