"""Poison files (issue 25 item 5): each bad line of a replayed file is dead-lettered with its
line number and reason and the rest of the file is published; a stray byte spoils only its
own line; JSON nested 100,000 deep is one rejected line, never a RecursionError."""

from __future__ import annotations

import asyncio
import csv
from collections.abc import Iterator
from pathlib import Path

import pytest

from monitor.schemas import Comment, decode, encode
from monitor.settings import Settings
from monitor.sources.comment_file import MAX_DEPTH, BadLine, read_comment_file
from tests.fixtures import LOVELORN, make_comment, read_topic, run_cli

DEEP = b"[" * 100_000
GOOD = [encode(make_comment(i, LOVELORN[i])) for i in range(5)]
# line number -> (the line, a piece of the reason it is refused for)
BAD = {
    2: (DEEP, f"JSON nested deeper than {MAX_DEPTH} levels"),
    4: (GOOD[0].replace(b"c0", b"c90").replace("分手".encode(), b"\xe5\x88"), "not UTF-8"),
    5: (b'{"comment_id": "c91", "schema_version": 1,', "not JSON"),
    7: (b'{"comment_id": "c92", "schema_version": 1, "post_id": "p1"}', "text_raw"),
    8: (GOOD[0].replace(b"c0", b"c93").replace(b'00Z"', b'00"'), "timezone"),
    # closed: the JSON decoder may parse it, and validating it would then recurse ~1000 deep
    10: (GOOD[0][:-1] + b', "x": ' + b"[" * 990 + b"]" * 990 + b"}", "nested deeper"),
}
LINES = [GOOD[0], BAD[2][0], GOOD[1], BAD[4][0], BAD[5][0], GOOD[2], BAD[7][0], BAD[8][0]]
LINES += [GOOD[3], BAD[10][0], b"", GOOD[4]]  # the blank line 11 is skipped, not bad


def _poison_file(path: Path) -> Path:
    path.write_bytes(b"\n".join(LINES) + b"\n")
    return path


def test_each_bad_line_is_one_bad_line_with_its_number_and_reason(tmp_path: Path) -> None:
    path = _poison_file(tmp_path / "poison.jsonl")
    items = list(read_comment_file(path))
    assert [i.comment_id for i in items if isinstance(i, Comment)] == [f"c{n}" for n in range(5)]
    bad = [i for i in items if isinstance(i, BadLine)]
    assert [b.line for b in bad] == sorted(BAD)
    for b in bad:
        line, reason = BAD[b.line]
        assert reason in b.reason and str(b).startswith(f"poison.jsonl:{b.line}: "), b
        assert b.size == len(line) and b.raw == line[: 64 * 1024]
    # the offset named is the bad byte's own, counted from the start of the file
    stray = next(b for b in bad if b.line == 4)
    offset = int(stray.reason.split("byte offset ")[1].split()[0])
    data = path.read_bytes()
    assert data[offset:].startswith(b"\xe5\x88") and data[offset - 1 : offset] != b"\xe5"


def test_a_bom_and_a_latin1_byte_spoil_only_their_line(tmp_path: Path) -> None:
    path = tmp_path / "latin.jsonl"
    path.write_bytes(b"\xef\xbb\xbf" + GOOD[0] + b'\n{"id": "\xe9"}\n' + GOOD[1] + b"\n")
    first, bad, last = read_comment_file(path)
    assert isinstance(first, Comment) and isinstance(last, Comment)
    assert isinstance(bad, BadLine) and bad.line == 2
    offset = 3 + len(GOOD[0]) + 1 + len(b'{"id": "')
    assert path.read_bytes()[offset] == 0xE9
    assert (
        bad.reason == f"not UTF-8 (invalid continuation byte at byte offset {offset} of the file)"
    )


@pytest.fixture
def csv_limit() -> Iterator[int]:
    """The csv module's field limit is process-wide (trainer.data raises it on import)."""
    previous = csv.field_size_limit(131_072)
    yield 131_072
    csv.field_size_limit(previous)


def test_csv_bad_records_are_their_own(tmp_path: Path, csv_limit: int) -> None:
    """A record may span lines (quoted newlines): its first line is the one named, a bad
    byte, a field over the csv module's limit or a bad date spoil only that record."""
    path = tmp_path / "export.csv"
    path.write_bytes(
        b"id,weibo_id,content,publish_time,likes\n"
        + "1,5001,分手了,2026-11-22 10:00:00,3\n\n".encode()
        + b'2,5001,"two\nlines \xe9",2026-11-22 10:00:00,0\n'
        + b'3,5001,"'
        + b"x" * (csv_limit + 1)
        + b'",2026-11-22 10:00:00,0\n'
        + "4,5001,好难过,2026-11-22 10:00:00,²\n".encode()
        + "5,5001,坏日子,今天 25:99,0\n".encode()
        + "6,5001,再见,2026-11-22 10:00:00,7\n".encode()
    )
    items = list(read_comment_file(path))
    comments = [i for i in items if isinstance(i, Comment)]
    assert [(c.comment_id, c.like_count) for c in comments] == [("1", 3), ("4", None), ("6", 7)]
    bad = {i.line: i.reason for i in items if isinstance(i, BadLine)}
    assert list(bad) == [4, 6, 8]
    assert bad[4].startswith("not UTF-8") and "field larger than field limit" in bad[6]
    assert "25:99" in bad[8]


def test_poll_dead_letters_each_bad_line_and_publishes_the_rest(
    stack: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The CLI's documented outcome for a partial file: exit 0, the summary counts the
    unreadable lines and names the dead-letter topic that holds them."""
    _cli_env(monkeypatch, stack, tmp_path)
    path = _poison_file(tmp_path / "poison.jsonl")
    dlq = stack.kafka.dead_letter_topic

    result = run_cli("poll", "--from-file", str(path))
    assert result.code == 0, result.err
    assert f"read 5, published 5 new, 6 unreadable (dead-lettered to {dlq})" in result.out
    assert "Traceback" not in result.err + result.out

    published = asyncio.run(read_topic(stack.kafka, stack.kafka.comments_topic))
    assert sorted(decode(Comment, r.value).comment_id for r in published) == [
        f"c{n}" for n in range(5)
    ]
    dead = asyncio.run(read_topic(stack.kafka, dlq))
    by_line = {int(dict(r.headers)["source_line"]): r for r in dead}
    assert sorted(by_line) == sorted(BAD)
    for number, record in by_line.items():
        line, reason = BAD[number]
        headers = dict(record.headers)
        assert headers["error"].decode().startswith(f"poison.jsonl:{number}: ")
        assert reason in headers["error"].decode(), (number, headers["error"])
        assert headers["source_file"] == b"poison.jsonl" and record.key == b"poison.jsonl"
        assert headers["source_topic"] == stack.kafka.comments_topic.encode()
        assert record.value == line[: 64 * 1024]
    assert int(dict(by_line[2].headers)["truncated_from"]) == len(DEEP)

    # A rerun publishes nothing twice; the bad lines, not being comments, are sent again.
    again = run_cli("poll", "--from-file", str(path))
    assert again.code == 0 and "read 5, published 0 new, 6 unreadable" in again.out
    assert len(asyncio.run(read_topic(stack.kafka, stack.kafka.comments_topic))) == 5
    assert len(asyncio.run(read_topic(stack.kafka, dlq))) == 2 * len(BAD)


def test_a_file_with_no_comment_is_refused_whole(
    stack: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Another encoding (a GBK export) or format is one error line and exit 1, with
    nothing published or dead-lettered, not hundreds of dead letters."""
    _cli_env(monkeypatch, stack, tmp_path)
    gbk = tmp_path / "gbk.jsonl"
    gbk.write_bytes(
        b"\n".join(
            make_comment(i, LOVELORN[i % len(LOVELORN)]).model_dump_json().encode("gbk")
            for i in range(150)
        )
    )
    deep = tmp_path / "deep.jsonl"
    deep.write_bytes(DEEP + b"\n")
    for path, reason in ((gbk, "gbk.jsonl:1: not UTF-8"), (deep, "deep.jsonl:1: JSON nested")):
        result = run_cli("poll", "--from-file", str(path))
        assert result.code == 1 and result.err.startswith(f"error: {path}: not a comment file"), (
            result
        )
        assert reason in result.err and len(result.err.strip().splitlines()) == 1
    for topic in (stack.kafka.comments_topic, stack.kafka.dead_letter_topic):
        assert asyncio.run(read_topic(stack.kafka, topic, timeout_s=3)) == []


def _cli_env(monkeypatch: pytest.MonkeyPatch, stack: Settings, home: Path) -> None:
    monkeypatch.setenv("LOVELORN_HOME", str(home))
    monkeypatch.setenv("LOVELORN_KAFKA__BOOTSTRAP_SERVERS", stack.kafka.bootstrap_servers or "")
    monkeypatch.setenv("LOVELORN_KAFKA__COMMENTS_TOPIC", stack.kafka.comments_topic)
    monkeypatch.setenv("LOVELORN_KAFKA__DEAD_LETTER_TOPIC", stack.kafka.dead_letter_topic)
    monkeypatch.setenv("LOVELORN_REDIS__URL", stack.redis.url or "")
    monkeypatch.setenv("LOVELORN_REDIS__KEY_PREFIX", stack.redis.key_prefix)
