"""Replaying comment files: the formats other tools produce, dedupe on re-runs, clear errors."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from monitor.errors import SchemaError, SourceError
from monitor.schemas import Comment, decode, encode
from monitor.settings import Settings
from monitor.sources.comment_file import BadLine, read_comment_file
from monitor.sources.service import PollerService
from tests.fake_weibo import weibo_comment
from tests.fixtures import make_comment, read_topic, run_cli


def test_reads_weibo_json_comment_v1_and_csv(tmp_path: Path) -> None:
    api = tmp_path / "dump.jsonl"
    api.write_text(
        "\n".join(
            json.dumps(
                weibo_comment("5000000000001234", n) | {"mid": "5000000000001234"},
                ensure_ascii=False,
            )
            for n in range(3)
        )
        + "\n{broken\n",
        encoding="utf-8",
    )
    items = list(read_comment_file(api))
    assert [type(i) for i in items] == [Comment, Comment, Comment, BadLine]
    assert items[0].post_id == "5000000000001234" and items[0].text.endswith("[泪]")
    assert "dump.jsonl:4: not JSON" in str(items[3])

    ours = tmp_path / "ours.jsonl"
    ours.write_text(encode(make_comment(1, "分手了")).decode() + "\n", encoding="utf-8")
    assert [c.comment_id for c in read_comment_file(ours)] == ["c1"]  # type: ignore[union-attr]

    crawler = tmp_path / "export.csv"
    crawler.write_text(
        "id,weibo_id,content,publish_time,user_id,screen_name\n"
        "4901,5000000000009999,我们分手了,2026-11-22 10:01:02,77,小红\n"
        "4902,5000000000009999,今天真开心,not-a-date,78,小明\n",
        encoding="utf-8",
    )
    first, second = list(read_comment_file(crawler))
    assert isinstance(first, Comment) and (
        first.comment_id,
        first.user_name,
        first.created_at.hour,
    ) == ("4901", "小红", 10)
    assert isinstance(second, SchemaError) and "export.csv:3" in str(second)


def test_file_errors(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match="does not exist"):
        list(read_comment_file(tmp_path / "none.jsonl"))
    latin = tmp_path / "latin.jsonl"  # a stray byte spoils its line, not the file
    latin.write_bytes(b'{"id": "\xe9"}\n')
    (bad,) = read_comment_file(latin)
    assert isinstance(bad, BadLine) and str(bad) == (
        "latin.jsonl:1: not UTF-8 (invalid continuation byte at byte offset 8 of the file)"
    )
    latin_header = tmp_path / "latin.csv"
    latin_header.write_bytes(b"id,text,created_at,post_id,caf\xe9\n")
    with pytest.raises(SourceError, match="the header line is not UTF-8"):
        list(read_comment_file(latin_header))
    csv = tmp_path / "cols.csv"
    csv.write_text("a,b\n1,2\n")
    with pytest.raises(SourceError, match="no column for id, text, created_at, post_id"):
        list(read_comment_file(csv))


async def test_replay_publishes_once_even_when_rerun(stack: Settings, tmp_path: Path) -> None:
    path = tmp_path / "stream.jsonl"
    path.write_text(
        "\n".join(encode(make_comment(i, f"第{i}条")).decode() for i in range(250)),
        encoding="utf-8",
    )
    service = PollerService(stack)
    first = await service.replay(path, speed=0, stop=asyncio.Event(), progress=False)
    second = await service.replay(path, speed=0, stop=asyncio.Event(), progress=False)
    assert first == {"read": 250, "published": 250, "bad": 0}
    assert second == {"read": 250, "published": 0, "bad": 0}
    ids = [
        decode(Comment, r.value).comment_id
        for r in await read_topic(stack.kafka, stack.kafka.comments_topic)
    ]
    assert sorted(ids) == sorted(f"c{i}" for i in range(250))


def test_poll_cli_from_file_and_its_errors(
    stack: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LOVELORN_HOME", str(tmp_path))
    monkeypatch.setenv("LOVELORN_KAFKA__BOOTSTRAP_SERVERS", stack.kafka.bootstrap_servers or "")
    monkeypatch.setenv("LOVELORN_KAFKA__COMMENTS_TOPIC", stack.kafka.comments_topic)
    monkeypatch.setenv("LOVELORN_REDIS__URL", stack.redis.url or "")
    monkeypatch.setenv("LOVELORN_REDIS__KEY_PREFIX", stack.redis.key_prefix)
    path = tmp_path / "s.jsonl"
    path.write_text(encode(make_comment(1, "失恋了")).decode() + "\nnot json\n", encoding="utf-8")
    result = run_cli("poll", "--from-file", str(path))
    assert result.code == 0, result.err
    assert "read 1, published 1 new, 1 unreadable" in result.out
    missing = run_cli("poll", "--from-file", str(tmp_path / "nope.jsonl"))
    assert (
        missing.code == 1
        and missing.err.strip() == f"error: comment file {tmp_path / 'nope.jsonl'} does not exist"
    )
    no_targets = run_cli("poll")
    assert no_targets.code == 1 and "no targets" in no_targets.err
