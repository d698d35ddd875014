"""Every boundary that takes outside input yields a valid object or its typed error, nothing else."""

from __future__ import annotations

import asyncio
import json
import os
import tempfile
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from monitor.errors import ConfigError, SchemaError, SourceError
from monitor.metrics import Metrics
from monitor.schemas import Comment, decode, encode
from monitor.settings import WeiboSettings, load_settings
from monitor.sources.weibo import WeiboClient
from monitor.sources.weibo_json import parse_comment
from monitor.text import clean_text
from trainer.data import SourceSpec, load_source
from trainer.errors import DataError

FUZZ = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
NOW = datetime(2026, 11, 26, tzinfo=UTC)

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=30),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=5)
    ),
    max_leaves=20,
)
comment_like = st.fixed_dictionaries(
    {},
    optional={
        "id": st.one_of(st.integers(), st.text(max_size=20), st.none(), st.booleans()),
        "text": st.one_of(st.text(max_size=80), st.integers(), st.none()),
        "created_at": st.one_of(
            st.sampled_from(
                [
                    "Sat Nov 22 10:01:02 +0800 2026",
                    "刚刚",
                    "5分钟前",
                    "昨天 10:00",
                    "11-22",
                    "2026-11-22",
                    "x",
                ]
            ),
            st.text(max_size=30),
            st.integers(),
        ),
        "user": st.one_of(
            st.fixed_dictionaries({}, optional={"id": json_values, "screen_name": json_values}),
            json_values,
        ),
        "like_count": json_values,
        "rootid": json_values,
        "mid": json_values,
        "comments": json_values,
    },
)

weibo_ids = st.integers(min_value=0) | st.text(min_size=1, max_size=20)
# objects shaped like the API's, so that many parse and their values get checked
plausible_comment = st.fixed_dictionaries(
    {
        "id": weibo_ids,
        "text": st.text(max_size=120)
        | st.sampled_from(["分手了<br/>[泪]", '<img alt="[心碎]" src="x">', "回复@某人:再见"]),
        "created_at": st.sampled_from(
            ["Sat Nov 22 10:01:02 +0800 2026", "刚刚", "5分钟前", "昨天 10:00", "11-22"]
        ),
        "mid": weibo_ids,
    },
    optional={
        "user": st.fixed_dictionaries(
            {}, optional={"id": weibo_ids, "screen_name": st.text(max_size=20) | st.none()}
        ),
        "like_count": st.integers() | st.booleans() | st.none(),
        "rootid": weibo_ids | st.none(),
        "status": st.fixed_dictionaries({"id": weibo_ids}),
    },
)


@FUZZ
@given(comment_like | plausible_comment | json_values)
def test_weibo_json_to_comment(obj: object) -> None:
    try:
        comment = parse_comment(obj, post_id=None, source="fuzz", fetched_at=NOW)
    except SchemaError:
        return
    assert isinstance(comment, Comment) and comment.created_at.tzinfo is not None
    # a successful parse carries the input's values, not just some valid Comment
    assert isinstance(obj, dict)
    raw_id = obj["id"] if "id" in obj else obj.get("idstr")
    assert comment.comment_id == str(raw_id).strip()
    status = obj.get("status")
    post = obj.get("post_id") or obj.get("mid") or (status or {}).get("id")
    assert comment.post_id == str(post).strip()
    assert comment.text_raw == obj["text"]
    assert comment.text == clean_text(obj["text"])
    assert clean_text(comment.text) == comment.text  # cleaning is idempotent
    user = obj.get("user") or {}
    assert comment.user_name == user.get("screen_name")
    user_id = user.get("id")
    assert comment.user_id == (None if user_id is None else str(user_id).strip())
    likes = obj.get("like_count", obj.get("like_counts"))
    assert comment.like_count == (
        likes if isinstance(likes, int) and not isinstance(likes, bool) else None
    )
    root = obj.get("rootid")
    assert comment.reply_to == (
        None if root is None or str(root) == comment.comment_id else str(root)
    )
    assert (comment.source, comment.fetched_at) == ("fuzz", NOW)
    assert decode(Comment, encode(comment)) == comment


@pytest.mark.parametrize("status", [[1], "s", 5])
def test_weibo_json_with_a_status_that_is_not_an_object(status: object) -> None:
    obj = {"id": 1, "text": "分手了", "created_at": "刚刚", "status": status}
    with pytest.raises(SchemaError):
        parse_comment(obj, post_id=None, source="fuzz", fetched_at=NOW)


ids = st.text(min_size=1, max_size=64)
aware_times = st.datetimes(
    min_value=datetime(1970, 1, 2),
    max_value=datetime(2100, 1, 1),
    timezones=st.sampled_from([UTC, timezone(timedelta(hours=8)), timezone(-timedelta(hours=5))]),
)
comment_dicts = st.fixed_dictionaries(
    {
        "comment_id": ids,
        "post_id": ids,
        "text_raw": st.text(max_size=200),
        "created_at": aware_times.map(datetime.isoformat),
    },
    optional={
        "user_id": st.none() | st.text(max_size=64),
        "user_name": st.none() | st.text(max_size=128),
        "text": st.text(max_size=60),
        "like_count": st.none() | st.integers(),
        "source": st.text(max_size=10),
        "schema_version": st.just(1),
        "extra": json_values,
    },
)


@FUZZ
@given(
    st.binary(max_size=400)
    | json_values.map(lambda v: json.dumps(v).encode())
    | comment_dicts.map(lambda d: json.dumps(d).encode())
)
def test_kafka_bytes_to_comment(data: bytes) -> None:
    try:
        comment = decode(Comment, data)
    except SchemaError:
        return
    raw = json.loads(data)
    for name in ("comment_id", "post_id", "text_raw", "user_id", "user_name", "like_count"):
        assert getattr(comment, name) == raw.get(name), name
    assert comment.created_at == datetime.fromisoformat(raw["created_at"])
    assert comment.text == (raw.get("text") or clean_text(raw["text_raw"]))
    assert decode(Comment, encode(comment)) == comment


@FUZZ
@given(st.binary(max_size=2000) | st.text(max_size=300).map(str.encode))
def test_weibo_http_body_to_json(body: bytes) -> None:
    transport = httpx.MockTransport(lambda request: httpx.Response(200, content=body))
    client = WeiboClient(
        WeiboSettings(min_interval_s=0, jitter_s=0, base_url="http://weibo.test"),
        metrics=Metrics(),
        transport=transport,
    )

    async def fetch() -> None:
        try:
            await client.get_json("comments/hotflow", {"id": "1"})
        except SourceError:
            pass
        finally:
            await client.aclose()

    asyncio.run(fetch())


setting_names = st.sampled_from(
    [
        "LOVELORN_KAFKA__BOOTSTRAP_SERVERS",
        "LOVELORN_KAFKA__PARTITIONS",
        "LOVELORN_SCORER__MAX_BATCH",
        "LOVELORN_SCORER__DEVICE",
        "LOVELORN_REDIS__URL",
        "LOVELORN_WEIBO__MIN_INTERVAL_S",
        "LOVELORN_LOG_LEVEL",
        "LOVELORN_ALERTS__USER_COOLDOWN_S",
        "LOVELORN_KAFKA__COMPRESSION",
        "LOVELORN_TRAINER__MAX_SEQ_LEN",
    ]
)
env_text = st.text(
    alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=30
)


@FUZZ
@given(st.dictionaries(setting_names, env_text, max_size=4), st.text(max_size=200))
def test_settings_from_env_and_toml(env: dict[str, str], toml_text: str) -> None:
    saved = {k: os.environ.get(k) for k in env}
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "s.toml"
        path.write_text(toml_text, encoding="utf-8")
        try:
            os.environ.update(env)
            for source in (None, path):
                try:
                    load_settings(source)
                except ConfigError as exc:
                    assert "\n" not in str(exc)  # one line for the user
        finally:
            for key, value in saved.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value


@FUZZ
@given(
    st.binary(max_size=600) | st.text(max_size=400).map(str.encode),
    st.sampled_from(["tsv", "csv", "jsonl"]),
)
def test_trainer_file_loader(content: bytes, fmt: str) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"data.{fmt}"
        path.write_bytes(content)
        try:
            examples, report = load_source(SourceSpec(path))
        except DataError:
            return
        assert report.kept == len(examples)
        assert all(e.label in (0, 1) and e.text for e in examples)
