"""Scorer throughput: naive per-message dygraph vs the batched predictor vs the whole pipeline.

    python bench/scorer.py --data ../shared/data/ocemotion/train.tsv

For each model size (random weights: speed does not depend on them), on texts sampled from
the data file so the length distribution is real:

  (a)  per-message dygraph predict, padded to max_seq_len=128 — what PaddleHub's
       ``TransformerModule.predict`` does with its defaults (batch_size=1,
       pad_to_max_seq_len=True), the way the paper's model is naively served
  (a') per-message dygraph without padding, for reference
  (b)  this project's PaddlePredictor with the scorer's defaults: micro-batches of 64 sorted
       by length into buckets of 16, each padded only to its own longest text (rounded to
       16), Paddle Inference with oneDNN

It also measures the CPU's float32 matmul GFLOP/s (numpy/OpenBLAS, best of several shapes)
and the fraction of it (b) reaches, counting the FLOPs of every padded token; and, for the
first size, the end-to-end scorer (Kafka consumer → predictor → Kafka + Redis sinks, on the
embedded broker and Redis) against the standalone predictor on the same texts.
All numbers come from one run, side by side; the machine is noisy, so compare ratios.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from monitor.embedded import EmbeddedServices
from monitor.model import Manifest, ModelRegistry, buckets, encode_batch
from monitor.model.predictor import PaddlePredictor
from monitor.schemas import Comment, utcnow
from monitor.scoring.service import ScorerService
from monitor.settings import KafkaSettings, ScorerSettings, Settings
from monitor.text import clean_text
from trainer.model.build import build_from_scratch
from trainer.model.export import export_static

BATCH = 64  # the scorer's default micro-batch (buckets of 16 rows inside)
PADDLEHUB_MAX_SEQ_LEN = 128


def matmul_peak(seconds: float = 2.0) -> float:
    """Best float32 GFLOP/s of numpy matmul over a few square and model-like shapes."""
    best = 0.0
    rng = np.random.default_rng(0)
    for m, k, n in ((1024, 1024, 1024), (2048, 2048, 2048), (1536, 768, 3072), (1280, 312, 1248)):
        a = rng.standard_normal((m, k), dtype=np.float32)
        b = rng.standard_normal((k, n), dtype=np.float32)
        a @ b  # warm-up
        deadline = time.perf_counter() + seconds / 4
        while time.perf_counter() < deadline:
            t0 = time.perf_counter()
            a @ b
            best = max(best, 2 * m * k * n / (time.perf_counter() - t0) / 1e9)
    return best


def flops_per_batch(config: dict, rows: int, width: int) -> float:
    """Encoder matmuls on every (padded) token plus attention scores and mixing."""
    h, i, layers = config["hidden_size"], config["intermediate_size"], config["num_hidden_layers"]
    tokens = rows * width
    dense = 2 * tokens * layers * (4 * h * h + 2 * h * i)
    attention = 2 * rows * layers * 2 * width * width * h
    return dense + attention


def per_message_dygraph(model, tokenizer, texts: list[str], pad_to: int | None) -> float:  # type: ignore[no-untyped-def]
    import paddle

    model.eval()
    started = time.perf_counter()
    with paddle.no_grad():
        for text in texts:
            ids = encode_batch(tokenizer, [text], PADDLEHUB_MAX_SEQ_LEN)[0]
            if pad_to:
                ids = ids + [0] * (pad_to - len(ids))
            batch = paddle.to_tensor([ids], dtype="int64")
            model(input_ids=batch, token_type_ids=paddle.zeros_like(batch)).numpy()
    return len(texts) / (time.perf_counter() - started)


def batched_predictor(
    predictor: PaddlePredictor, tokenizer, texts: list[str], config: dict
) -> tuple[float, float]:  # type: ignore[no-untyped-def]
    """(texts/s end to end incl. tokenization, achieved GFLOP/s over model time)."""
    predictor.probabilities(texts[:BATCH])  # warm-up shapes
    started = time.perf_counter()
    for start in range(0, len(texts), BATCH):
        predictor.probabilities(texts[start : start + BATCH])
    elapsed = time.perf_counter() - started
    # FLOPs as executed: the predictor's own buckets, each padded to its longest text rounded up to 16
    flops = 0.0
    for start in range(0, len(texts), BATCH):
        ids = encode_batch(tokenizer, texts[start : start + BATCH], predictor.max_seq_len)
        for group in buckets([len(x) for x in ids], predictor._bucket_rows):
            width = -(-max(len(ids[i]) for i in group) // 16) * 16
            flops += flops_per_batch(config, len(group), width)
    return len(texts) / elapsed, flops / elapsed / 1e9


def export(size: str, work: Path, max_seq_len: int) -> tuple[object, object, dict, Path, Manifest]:
    built = build_from_scratch(size, work / "vocab", seed=1, max_seq_len=max_seq_len)
    out = work / f"export-{size}"
    export_static(built.model, built.tokenizer, out)
    manifest = Manifest(
        version=f"bench-{size}",
        created_at=utcnow(),
        base_model=size,
        max_seq_len=max_seq_len,
        threshold=0.5,
        data_hash="bench",
    )
    config = {
        k: getattr(built.model.config, k)
        for k in ("hidden_size", "intermediate_size", "num_hidden_layers")
    }
    return built.model, built.tokenizer, config, out, manifest


async def end_to_end(
    texts: list[str], export_dir: Path, manifest: Manifest, work: Path, threads: int
) -> float:
    """Comments through the embedded broker, the scorer and both sinks; texts/s from first fetch to last delivery."""
    settings = Settings(
        home=work / "e2e",
        kafka=KafkaSettings(partitions=2, session_timeout_ms=1000),
        scorer=ScorerSettings(max_batch=BATCH, cpu_threads=threads, max_wait_ms=50),
    )
    registry = ModelRegistry(settings.registry_root)
    staged = work / "e2e-staged"
    staged.mkdir(parents=True)
    for item in export_dir.iterdir():
        (staged / item.name).write_bytes(item.read_bytes())
    fields = manifest.model_dump(exclude={"version", "created_at"})
    registry.register(staged, fields)
    registry.promote("v1", margin=1)
    services = EmbeddedServices(settings, work / "e2e-services")
    await services.up()
    try:
        live = services.endpoints()
        from monitor.bus import Producer
        from monitor.schemas import encode

        comments = [
            Comment(
                comment_id=f"c{i}",
                post_id=f"p{i % 8}",
                user_id=f"u{i}",
                text_raw=t,
                created_at=utcnow(),
            )
            for i, t in enumerate(texts)
        ]
        async with Producer(live.kafka) as producer:
            acks = [
                await producer.send(live.kafka.comments_topic, encode(c), key=c.post_id.encode())
                for c in comments
            ]
            await asyncio.gather(*acks)
        service = ScorerService(live)
        stop = asyncio.Event()
        task = asyncio.create_task(service.run(stop))
        while service.stats.records == 0 and not task.done():
            await asyncio.sleep(0.005)
        started = time.perf_counter()
        while service.stats.scored < len(texts) and not task.done():
            await asyncio.sleep(0.005)
        elapsed = time.perf_counter() - started
        stop.set()
        await task
        return len(texts) / elapsed
    finally:
        services.down()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--data", type=Path, required=True, help="OCEMOTION train.tsv (id, text, label; no header)"
    )
    parser.add_argument("--sizes", default="nano,medium")
    parser.add_argument(
        "--texts", type=int, default=2048, help="texts for the batched and end-to-end runs"
    )
    parser.add_argument(
        "--naive-texts", type=int, default=256, help="texts for the per-message runs"
    )
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--max-seq-len", type=int, default=128)
    args = parser.parse_args()

    rows_in = [line.split("\t") for line in args.data.read_text(encoding="utf-8").splitlines()]
    all_texts = [t for t in (clean_text(r[1]) for r in rows_in if len(r) >= 2) if t]
    texts = random.Random(0).sample(all_texts, min(args.texts, len(all_texts)))
    lengths = [len(t) for t in texts]
    print(
        f"texts: {len(texts)} sampled from {args.data.name}; chars mean {np.mean(lengths):.0f}, "
        f"median {np.median(lengths):.0f}, p90 {np.percentile(lengths, 90):.0f}"
    )
    peak = matmul_peak()
    print(f"CPU float32 matmul peak (numpy/OpenBLAS, best of 4 shapes): {peak:.0f} GFLOP/s\n")

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        e2e = None
        for n, size in enumerate(args.sizes.split(",")):
            model, tokenizer, config, out, manifest = export(size, work, args.max_seq_len)
            naive = texts[: args.naive_texts]
            a = per_message_dygraph(model, tokenizer, naive, PADDLEHUB_MAX_SEQ_LEN)
            a_nopad = per_message_dygraph(model, tokenizer, naive, None)
            predictor = PaddlePredictor(
                out, ScorerSettings(max_batch=BATCH, cpu_threads=args.threads), manifest
            )
            b, gflops = batched_predictor(predictor, tokenizer, texts, config)
            if n == 0:
                standalone = b
                e2e = asyncio.run(end_to_end(texts, out, manifest, work, args.threads))
                b_again, _ = batched_predictor(
                    predictor, tokenizer, texts, config
                )  # standalone again, after: noise check
                standalone = (standalone + b_again) / 2
            predictor.close()
            rows.append((size, a, a_nopad, b, b / a, gflops, gflops / peak))
        print(
            "| size | (a) dygraph per message, pad 128 | (a') per message, no pad | (b) batched predictor | (b)/(a) | achieved GFLOP/s | of matmul peak |"
        )
        print("|---|---|---|---|---|---|---|")
        for size, a, a_nopad, b, ratio, gflops, frac in rows:
            print(
                f"| {size} | {a:.1f}/s | {a_nopad:.1f}/s | {b:.1f}/s | {ratio:.1f}× | {gflops:.0f} | {frac:.0%} |"
            )
        if e2e is not None:
            print(
                f"\nend to end ({args.sizes.split(',')[0]}, {len(texts)} comments, Tansu + Redis, batch {BATCH}): "
                f"{e2e:.1f}/s vs standalone predictor {standalone:.1f}/s = {e2e / standalone:.0%}"
            )


if __name__ == "__main__":
    main()
