"""The zero-setup main job: embedded services, the bundled sample stream, a summary."""

from __future__ import annotations

import asyncio
import json
import time
from importlib.resources import files

import click

from monitor.bus import Consumer, Producer
from monitor.embedded import EmbeddedServices
from monitor.redis_client import connect_redis
from monitor.schemas import Comment, decode, encode, utcnow
from monitor.settings import Settings
from monitor.sources.weibo_json import parse_comment


def sample_stream() -> list[Comment]:
    lines = (
        files("monitor").joinpath("demo_data/stream.jsonl").read_text(encoding="utf-8").splitlines()
    )
    now = utcnow()
    return [
        parse_comment(json.loads(line), post_id=None, source="demo", fetched_at=now)
        for line in lines
        if line.strip()
    ]


async def run_demo(settings: Settings) -> None:
    services = EmbeddedServices(settings, settings.home / "demo-services")
    started = time.monotonic()
    await services.up()
    try:
        live = services.endpoints()
        comments = sample_stream()
        async with Producer(live.kafka) as producer:
            acks = [
                await producer.send(live.kafka.comments_topic, encode(c), key=c.post_id.encode())
                for c in comments
            ]
            await asyncio.gather(*acks)
        redis = connect_redis(live.redis)
        stream = f"{live.redis.key_prefix}demo"
        seen = 0
        async with Consumer(
            live.kafka, group_id="demo", topics=[live.kafka.comments_topic]
        ) as consumer:
            deadline = time.monotonic() + 60
            while seen < len(comments) and time.monotonic() < deadline:
                batches = await consumer.getmany(timeout_ms=500)
                for records in batches.values():
                    for record in records:
                        comment = decode(Comment, record.value)
                        await redis.xadd(
                            stream, {"comment_id": comment.comment_id, "text": comment.text}
                        )
                        seen += 1
                await consumer.commit({tp: rs[-1].offset + 1 for tp, rs in batches.items()})
        in_redis = await redis.xlen(stream)
        await redis.aclose()
        click.echo(
            f"round trip: {len(comments)} comments produced, {seen} consumed, {in_redis} in Redis "
            f"({time.monotonic() - started:.1f}s)"
        )
    finally:
        services.down()
