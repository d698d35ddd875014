"""A comment too large for the topic (first-hour item 4): it goes to the dead-letter topic,
the rest of the file is published, and nothing acknowledged is published twice."""

from __future__ import annotations

import asyncio
from pathlib import Path

from monitor.schemas import Comment, decode
from monitor.settings import Settings
from monitor.sources.service import PollerService
from tests.fixtures import LOVELORN, make_comment, read_topic


def test_an_oversized_comment_is_dead_lettered_and_the_file_goes_on(
    stack: Settings, tmp_path: Path
) -> None:
    comments = [make_comment(i, LOVELORN[i]) for i in range(4)]
    huge = make_comment(99, "分手" * 1_000_000)  # a 10 MB line in the file
    stream = tmp_path / "stream.jsonl"
    stream.write_text(
        "\n".join(c.model_dump_json() for c in [*comments[:2], huge, *comments[2:]]),
        encoding="utf-8",
    )

    async def replay() -> dict[str, int]:
        return await PollerService(stack).replay(
            stream, speed=0, stop=asyncio.Event(), progress=False
        )

    first = asyncio.run(replay())
    assert first == {"read": 5, "published": 4, "bad": 0}
    published = asyncio.run(read_topic(stack.kafka, stack.kafka.comments_topic))
    assert sorted(decode(Comment, r.value).comment_id for r in published) == [
        "c0",
        "c1",
        "c2",
        "c3",
    ]
    dead = asyncio.run(read_topic(stack.kafka, stack.kafka.dead_letter_topic))
    assert len(dead) == 1
    headers = dict(dead[0].headers)
    assert b"exceeds kafka.max_message_bytes" in headers["error"]
    assert int(headers["truncated_from"]) > 6_000_000 and len(dead[0].value) == 64 * 1024

    again = asyncio.run(replay())  # every comment, the oversized one too, is marked seen
    assert again == {"read": 5, "published": 0, "bad": 0}
    assert len(asyncio.run(read_topic(stack.kafka, stack.kafka.comments_topic))) == 4
    assert len(asyncio.run(read_topic(stack.kafka, stack.kafka.dead_letter_topic))) == 1
