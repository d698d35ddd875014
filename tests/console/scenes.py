"""A realistic but invented console scene for the browser test and its screenshots: alerts
over two days (every text written for these tests, none from real data), some already
reviewed by a colleague, a review lane with sampled non-alerts, and a day of live scores."""

from __future__ import annotations

import hashlib
import math
import random
from datetime import timedelta

from monitor.schemas import Alert, Sampled, Score, Verdict, alert_id, utcnow
from monitor.settings import Settings
from monitor.store import (
    AlertLog,
    ReviewLane,
    ReviewQueue,
    Store,
    VerdictLog,
    reader_group,
)

LOVELORN = [
    "分手一个月了，每天下班路过他家楼下还是会停一下",
    "她把情侣头像换掉的那一刻，我就知道真的结束了",
    "今天把他送的围巾收进箱子里，哭到半夜",
    "说好一起去看海的人，现在陪别人去了",
    "删掉聊天记录之前又从头看了一遍，原来他早就不耐烦了",
    "异地三年，最后输给了他身边的人",
    "求求你别再发朋友圈了，我真的会忍不住点开",
    "婚礼取消了，请帖还堆在客厅里",
    "他说我们还是做朋友吧，可我做不到",
    "凌晨三点还在等一条不会来的消息",
    "被分手的第七天，第一次一个人吃火锅",
    "明明是我先放手的，为什么最难过的也是我",
    "看到他和新女朋友的合照，手一直在抖",
    "五年的感情，一句性格不合就结束了",
    "又梦见她回来了，醒来发现枕头湿了一片",
    "我把他拉黑又放出来，放出来又拉黑",
    "纪念日那天收到的是分手短信",
    "原来不被爱的那个人，连难过都要小心翼翼",
]
OTHER = [
    "这首歌太伤感了，单曲循环一整天",
    "奶奶住院了，一个人在医院走廊坐了很久",
    "考研二战又没上线，不知道怎么跟家里说",
    "养了八年的猫走了，家里突然好安静",
    "朋友结婚了，我一个人坐在角落里有点想哭",
    "失业第三个月，房租快交不起了",
    "这部电影的结局太虐了，后劲好大",
    "前任这个词，我已经可以平静地说出来了",
]
EVERYDAY = [
    "周末去爬山，山顶风好大",
    "公司楼下新开了一家面馆，味道还不错",
    "今天的晚霞好漂亮，拍了好多张",
    "终于把驾照考下来了",
    "新开的奶茶店排了半小时队",
    "今天终于把衣柜整理好了",
    "楼下的桂花开了，满街都是香味",
    "第一次自己做红烧肉，居然成功了",
    "下雨天适合在家看书",
    "表弟考上大学了，全家都很高兴",
    "其实我还是很想他，只是不说而已",
]
ALERT_TEXTS = LOVELORN + OTHER


def _policies(score: float) -> list[str]:
    return [p for p, t in (("default", 0.18), ("care", 0.3), ("ads", 0.55)) if score >= t]


def _user(i: int) -> str:
    return "u_" + hashlib.sha256(f"person-{i % 9}".encode()).hexdigest()[:32]


async def seed_scene(
    settings: Settings, seed: int = 7, alerts: int = 110, waiting: int = 16
) -> None:
    """``alerts`` alerts over the last two days; a colleague reviewed all but the newest
    ``waiting``; a review lane with 36 of 40 samples reviewed; 4,000 live scores."""
    rng, now = random.Random(seed), utcnow()
    pool = [(t, "lovelorn") for t in LOVELORN] + [(t, "not_lovelorn") for t in OTHER]
    written, truth = [], {}
    for i in range(alerts):
        text, label = pool[i % len(pool)] if i >= alerts - len(pool) else rng.choice(pool)
        score = rng.uniform(0.45, 0.97) if label == "lovelorn" else rng.uniform(0.19, 0.6)
        at = now - timedelta(hours=47.5 * (alerts - i) / alerts, minutes=rng.randint(0, 25))
        written.append(Alert(
            alert_id=alert_id(f"w{i}", "v1"), comment_id=f"49{i:05d}", post_id=f"5{rng.randint(10**8, 10**9)}",
            user_id=_user(i), text=text, score=score, threshold=0.18, policies=_policies(score),
            model_version="v1", created_at=at - timedelta(minutes=3), fetched_at=at, emitted_at=at,
        ))  # fmt: skip
        truth[written[-1].alert_id] = "unsure" if rng.random() < 0.05 else label
    async with Store(settings.redis) as store:
        await AlertLog(store).write(written)
        entries = await ReviewQueue(store, team="care", window=1000).entries()
        groups = [
            "console:care",
            *(reader_group("console:care", p) for p in ("ads", "care", "default")),
        ]
        for entry_id, alert in sorted(entries, key=lambda e: e[1].emitted_at)[: alerts - waiting]:
            verdict = Verdict(
                alert_id=alert.alert_id, comment_id=alert.comment_id, user_id=alert.user_id, text=alert.text,
                score=alert.score, model_version="v1", policies=alert.policies,
                verdict=truth[alert.alert_id], reviewer="lin", team="care",  # type: ignore[arg-type]
            )  # fmt: skip
            await VerdictLog(store).record(verdict, entry_id, groups)
        lane = ReviewLane(store)
        samples = [
            Sampled(
                sample_id=alert_id(f"s{i}", "v1"),
                comment_id=f"48{i:05d}",
                post_id="5100200300",
                user_id=_user(100 + i),
                text=text,
                score=rng.uniform(0.003, 0.15),
                threshold=0.18,
                model_version="v1",
                created_at=now - timedelta(hours=i),
                fetched_at=now - timedelta(hours=i),
            )
            for i, text in enumerate([EVERYDAY[-1]] + [EVERYDAY[j % 10] for j in range(39)])
        ]
        scores = [
            Score(
                comment_id=f"x{i}",
                post_id="p",
                model_version="v1",
                fetched_at=now,
                score=rng.uniform(0.2, 0.97)
                if i % 25 == 0
                else 1 / (1 + math.exp(-rng.gauss(-5.0, 1.5))),
                scored_at=now - timedelta(hours=rng.uniform(0, 23)),
            )
            for i in range(4000)
        ]
        await lane.write(samples, scores)
        sampled = await ReviewQueue(store, team="care", lane="sample", window=100).entries()
        for entry_id, sample in sampled[:36]:
            label = "lovelorn" if "想他" in (sample.text or "") else "not_lovelorn"
            verdict = Verdict(
                alert_id=sample.sample_id, lane="sample", comment_id=sample.comment_id, user_id=sample.user_id,
                text=sample.text, score=sample.score, model_version="v1", verdict=label, reviewer="lin", team="care",
            )  # fmt: skip
            await VerdictLog(store).record(verdict, entry_id, ["console:care"])
