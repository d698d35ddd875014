"""Factories shared by the tests: hand-written texts, CLI runner, tiny trained models,
scorer settings and environments, and readers of what the scorer wrote."""

from __future__ import annotations

import contextlib
import io
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from monitor.settings import Settings, TrainerSettings

if TYPE_CHECKING:
    from monitor.model import ModelRegistry

LOVELORN = [
    "分手第三天，还是会下意识给他发消息",
    "他说不爱了，我连挽留的资格都没有",
    "删了他所有联系方式，可是删不掉回忆",
    "七年的感情，抵不过她一句没感觉了",
    "前任今天结婚了，新娘不是我",
    "又梦到他了，醒来枕头全湿了",
    "喜欢了三年的人，今天跟别人在一起了",
    "他把我拉黑了，连解释的机会都不给",
    "放不下，真的放不下，怎么忘记一个人",
    "异地恋终于还是输给了距离",
    "冷战一个月了，他一条消息都没发过",
    "暗恋的男生有女朋友了",
    "挽回失败，他说我们回不去了",
    "被甩的那天，外面下着好大的雨",
    "看到前男友朋友圈秀恩爱，心还是会疼",
    "和男朋友分手了，感觉整个世界都灰了",
    "她不要我了",
    "我还在等一个不会回来的人",
    "失恋的第十天，吃不下也睡不着",
    "那个说要娶我的人，现在娶了别人",
]
EVERYDAY = [
    "今天天气真好，出去走走",
    "新买的咖啡机太好用了",
    "这家火锅店真的好吃",
    "周末和朋友去爬山",
    "终于拿到驾照了",
    "健身第三十天，瘦了五斤",
    "这部剧太好看了",
    "春天来了，樱花都开了",
    "早上的豆浆油条真香",
    "外婆今天走了，再也吃不到她包的饺子了",
    "考研又失败了，不知道怎么面对爸妈",
    "被公司裁员了，房贷还没还完",
    "快递又丢了，客服还踢皮球",
    "养了十年的狗狗今天离开了",
    "工作好累，每天加班到半夜",
    "明天要早起开会",
    "图书馆的座位又被占满了",
    "今天学会了游泳",
    "公司楼下的猫又胖了",
    "周一又来了，打工人冲鸭",
]
TEXTS = LOVELORN + EVERYDAY
FIT = TrainerSettings(
    epochs=20, batch_size=8, learning_rate=5e-3, patience=100, max_seq_len=64, seed=3
)


def write_tsv(path: Path, rows: list[tuple[str, str]], header: str | None = "text\tlabel") -> Path:
    lines = ([header] if header else []) + [f"{t}\t{label}" for t, label in rows]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


# Each text in three spellings, so every text's words reach the training part of the 8:1:1
# split and the fixture model fits all 40 (validation and test hold other spellings).
SPELLINGS = ("", "。", "！")
# Fixture models must put the two classes this far apart on any CPU: oneDNN's kernels move
# scores in the 4th decimal between instruction sets, and a test must not notice.
MIN_MARGIN = 0.3
FIXTURE_MARGINS: list[str] = []  # printed in the test summary
FIXTURE_MODELS: list[Path] = []  # model folders, for the summary's oneDNN probe


def fixture_examples(path: Path, positives: list[str] = LOVELORN) -> Path:
    """The fixture texts labelled lovelorn when in ``positives`` (a test that needs a model
    that disagrees with the usual one moves a few texts across)."""
    rows = [(t + end, "1" if t in positives else "0") for end in SPELLINGS for t in TEXTS]
    return write_tsv(path, rows)


def check_margin(
    settings: Settings, version: str, what: str, positives: list[str] = LOVELORN
) -> float:
    """The fixture model's separation of its lovelorn texts from the others, and of both from
    its serving threshold; fails the test with a clear message when under MIN_MARGIN."""
    from monitor.model import registry_for
    from monitor.model.predictor import PaddlePredictor

    predictor = PaddlePredictor.from_registry(registry_for(settings), settings.scorer, version)
    try:
        high = predictor.probabilities(positives)
        low = predictor.probabilities([t for t in TEXTS if t not in positives])
    finally:
        predictor.close()
    threshold = predictor.manifest.threshold
    FIXTURE_MODELS.append(registry_for(settings).path(version))
    margin = float(high.min() - low.max())
    edge = float(min(high.min() - threshold, threshold - low.max()))
    FIXTURE_MARGINS.append(
        f"{what}: lovelorn >= {high.min():.3f}, everyday <= {low.max():.3f}, margin {margin:.3f}, "
        f"threshold {threshold:.3f} ({edge:.3f} from the nearest text)"
    )
    if margin < MIN_MARGIN or edge < MIN_MARGIN / 3:
        raise AssertionError(
            f"fixture model {what} separates its texts by {margin:.4f} (threshold {threshold:.4f}, "
            f"{edge:.4f} from the nearest text); it needs {MIN_MARGIN} on any CPU: train it longer"
        )
    return margin


@dataclass
class CliResult:
    code: int
    out: str
    err: str


def run_cli(*args: str) -> CliResult:
    """Run ``lovelorn`` in-process, as ``main()`` would, capturing output and exit status."""
    from monitor.cli.main import main

    out, err = io.StringIO(), io.StringIO()
    code = 0
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            main(list(args))
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else 1
    return CliResult(code, out.getvalue(), err.getvalue())


def train_tiny(
    settings: Settings,
    data: Path,
    *,
    seed: int = 3,
    promote: bool | None = None,
    force: bool = False,
    positives: list[str] = LOVELORN,
):  # type: ignore[no-untyped-def]
    """Train and register the ``test``-size model on ``data`` (whose lovelorn texts are
    ``positives``); returns the TrainOutcome."""
    from trainer.data import SourceSpec, load_source
    from trainer.networks.build import build_from_scratch
    from trainer.pipeline import train_and_register

    settings = settings.model_copy(update={"trainer": FIT.model_copy(update={"seed": seed})})
    examples, report = load_source(SourceSpec(data))
    built = build_from_scratch("test", settings.home / "vocab", seed=seed, max_seq_len=64)
    outcome = train_and_register(
        settings, built, examples, [report], promote=promote, force=force, progress=False
    )
    check_margin(
        settings, outcome.manifest.version, f"seed {seed} ({outcome.manifest.version})", positives
    )
    return outcome


def make_manifest(version: str = "v1", **fields: object):  # type: ignore[no-untyped-def]
    """A minimal valid Manifest for the ``test`` model; ``fields`` override or add."""
    from datetime import UTC, datetime

    from monitor.model import Manifest

    base: dict[str, object] = {"base_model": "test", "max_seq_len": 64, "threshold": 0.5}
    return Manifest(
        version=version,
        created_at=datetime(2026, 11, 1, tzinfo=UTC),
        data_hash="x",
        **(base | fields),
    )


def make_comment(i: int, text: str, *, post: str = "p1", user: str | None = None):  # type: ignore[no-untyped-def]
    from datetime import UTC, datetime

    from monitor.schemas import Comment

    return Comment(
        comment_id=f"c{i}",
        post_id=post,
        user_id=user or f"u{i % 7}",
        user_name=f"用户{i % 7}",
        text_raw=text,
        created_at=datetime(2026, 11, 22, 10, 0, tzinfo=UTC),
    )


async def produce_comments(kafka, comments) -> None:  # type: ignore[no-untyped-def]
    import asyncio

    from monitor.bus import Producer
    from monitor.schemas import encode

    async with Producer(kafka) as producer:
        acks = [
            await producer.send(kafka.comments_topic, encode(c), key=c.post_id.encode())
            for c in comments
        ]
        await asyncio.gather(*acks)


async def read_topic(
    kafka, topic: str, timeout_s: float = 10.0, *, read_committed: bool = False
) -> list:  # type: ignore[no-untyped-def]
    """Every record of ``topic`` from the beginning, read without a consumer group
    (``read_committed``: as an exactly-once consumer reads, without aborted records)."""
    import asyncio

    from monitor.bus import Consumer

    async with Consumer(kafka, group_id=None, read_committed=read_committed) as consumer:
        tps = await consumer.partitions(topic)
        consumer.assign(tps)
        await consumer.seek_to_beginning(tps)
        records: list = []
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        quiet_polls = 0
        while loop.time() < deadline and quiet_polls < 3:
            batch = await consumer.getmany(timeout_ms=300)
            got = [r for rs in batch.values() for r in rs]
            records.extend(got)
            quiet_polls = 0 if got else quiet_polls + 1
        return sorted(records, key=lambda r: (r.partition, r.offset))


async def wait_for(predicate, timeout_s: float = 60.0, interval_s: float = 0.1) -> None:  # type: ignore[no-untyped-def]
    import asyncio

    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    while not predicate():
        if loop.time() > deadline:
            raise AssertionError(f"condition not met within {timeout_s}s")
        await asyncio.sleep(interval_s)


def scorer_settings(stack: Settings, home: Path, **scorer: object) -> Settings:
    """``stack`` with a model home and small, fast micro-batches."""
    return stack.model_copy(
        update={
            "home": home,
            "scorer": stack.scorer.model_copy(
                update={"max_batch": 16, "max_wait_ms": 20, "commit_interval_s": 0.2} | scorer
            ),
        }
    )


def copy_home(tiny_home: Path, tmp_path: Path) -> Path:
    """A private copy of the tiny model's registry (tests that promote must not share one)."""
    home = tmp_path / "home"
    shutil.copytree(tiny_home / "models", home / "models")
    return home


def current_version(settings: Settings) -> str:
    from monitor.model import registry_for

    return registry_for(settings).resolve("current")


def expected_alerts(settings: Settings, comments: list) -> dict[str, float]:  # type: ignore[type-arg]
    """comment id -> score for every comment the current model alerts on."""
    from monitor.model import Thresholds, registry_for
    from monitor.model.predictor import PaddlePredictor

    predictor = PaddlePredictor.from_registry(registry_for(settings), settings.scorer)
    try:
        probs = predictor.probabilities([c.text for c in comments])
        lowest = Thresholds.from_manifest(predictor.manifest, settings.alerts).lowest
        return {c.comment_id: float(p) for c, p in zip(comments, probs, strict=True) if p >= lowest}
    finally:
        predictor.close()


async def redis_alerts(settings: Settings) -> list:  # type: ignore[type-arg]
    """Every alert in the Redis stream, oldest first."""
    from monitor.schemas import Alert, decode
    from monitor.store import Store

    async with Store(settings.redis) as store:
        entries = await store.redis.xrange(store.keys.stream)
    return [decode(Alert, fields[b"alert"]) for _, fields in entries]


def scorer_env(settings: Settings) -> dict[str, str]:
    """The environment of a ``lovelorn score`` subprocess with these settings."""
    k, r, s = settings.kafka, settings.redis, settings.scorer
    env = {key: value for key, value in os.environ.items() if not key.startswith("LOVELORN_")}
    env |= {
        "LOVELORN_HOME": str(settings.home),
        "LOVELORN_KAFKA__BOOTSTRAP_SERVERS": k.bootstrap_servers or "",
        "LOVELORN_KAFKA__LAG_FROM_HIGHWATER": str(k.lag_from_highwater).lower(),
        "LOVELORN_KAFKA__COMMENTS_TOPIC": k.comments_topic,
        "LOVELORN_KAFKA__ALERTS_TOPIC": k.alerts_topic,
        "LOVELORN_KAFKA__SCORES_TOPIC": k.scores_topic,
        "LOVELORN_KAFKA__DEAD_LETTER_TOPIC": k.dead_letter_topic,
        "LOVELORN_KAFKA__CONSUMER_GROUP": k.consumer_group,
        "LOVELORN_KAFKA__SESSION_TIMEOUT_MS": str(k.session_timeout_ms),
        "LOVELORN_KAFKA__ENABLE_IDEMPOTENCE": str(k.enable_idempotence).lower(),
        "LOVELORN_KAFKA__EXACTLY_ONCE": str(k.exactly_once).lower(),
        "LOVELORN_KAFKA__TRANSACTION_TIMEOUT_MS": str(k.transaction_timeout_ms),
        "LOVELORN_REGISTRY__BUNDLED": str(settings.registry.bundled).lower(),
        "LOVELORN_REDIS__URL": r.url or "",
        "LOVELORN_REDIS__KEY_PREFIX": r.key_prefix,
        "LOVELORN_SCORER__EMIT_SCORES": "true",
        "LOVELORN_SCORER__MAX_BATCH": str(s.max_batch),
        "LOVELORN_SCORER__COMMIT_INTERVAL_S": str(s.commit_interval_s),
        "LOVELORN_LOG_FORMAT": "json",
    }
    if k.transactional_id:
        env["LOVELORN_KAFKA__TRANSACTIONAL_ID"] = k.transactional_id
    return env


def start_cli(args: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    """`lovelorn ARGS` as a real process, its output appended to ``log`` (a restarted process
    keeps writing to the same log)."""
    from monitor.embedded.processes import popen

    return popen(  # dies with the test process, also when a CI time limit kills it
        [sys.executable, "-m", "monitor", *args],
        env=env,
        stdout=log.open("ab"),
        stderr=subprocess.STDOUT,
    )


def register_stub(
    registry: ModelRegistry, tmp: Path, metrics: dict[str, Any], *, threshold: float = 0.5
) -> str:
    """Register a version with these figures and an empty model file (registry tests only)."""
    staged = tmp / f"stage-{len(list(tmp.glob('stage-*')))}"
    staged.mkdir()
    (staged / "inference.json").write_text("{}")
    fields = {
        "base_model": "test",
        "max_seq_len": 64,
        "threshold": threshold,
        "data_hash": "x",
        "metrics": metrics,
    }
    return registry.register(staged, fields).version


SIGNAL = "分手"  # the one word the keyword model keys on


def with_signal(text: str, at: int) -> str:
    return text[:at] + SIGNAL + text[at:]


def train_keyword_model(home: Path) -> None:
    """v1 in ``home``'s registry: lovelorn exactly when a text holds SIGNAL (everyday texts
    with the word at their start, middle or end, and without it), for explanation tests."""
    from monitor.settings import RegistrySettings
    from trainer.data import SourceSpec, load_source
    from trainer.networks.build import build_from_scratch
    from trainer.pipeline import train_and_register

    rows = [(t + end, "0") for t in EVERYDAY for end in SPELLINGS]
    rows += [(with_signal(t, at), "1") for t in EVERYDAY for at in (0, len(t) // 2, len(t))]
    settings = Settings(home=home, registry=RegistrySettings(bundled=False), trainer=FIT)
    examples, report = load_source(SourceSpec(write_tsv(home / "keyword.tsv", rows)))
    built = build_from_scratch("test", home / "vocab", seed=3, max_seq_len=64)
    train_and_register(settings, built, examples, [report], progress=False)


def unique_topics(kafka, **update: object):  # type: ignore[no-untyped-def]
    """``kafka`` settings with topics and a consumer group no other test uses."""
    import uuid

    suffix = uuid.uuid4().hex[:8]
    names = {
        "comments_topic": f"comments-{suffix}",
        "alerts_topic": f"alerts-{suffix}",
        "scores_topic": f"scores-{suffix}",
        "dead_letter_topic": f"dlq-{suffix}",
        "consumer_group": f"scorer-{suffix}",
    }
    return kafka.model_copy(update=names | update)


@contextlib.contextmanager
def capture_info_logs():  # type: ignore[no-untyped-def]
    """structlog's ``capture_logs`` with info and above let through, whatever level an earlier
    test (a CLI run in-process) configured; the configuration is restored afterwards."""
    import logging

    import structlog
    from structlog.testing import capture_logs

    previous = structlog.get_config()
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.INFO))
    try:
        with capture_logs() as logs:
            yield logs
    finally:
        structlog.configure(**previous)
