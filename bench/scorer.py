"""Scorer throughput: naive per-message dygraph vs the batched predictor vs the whole pipeline.

    python bench/scorer.py --data ../shared/data/ocemotion/train.tsv \
        --dev-labels ../shared/data/lovelorn_dev.tsv --ghz 3.0

For each model size (random weights: speed does not depend on them), on texts sampled from
the data file so the length distribution is real:

  (a)  per-message dygraph predict, padded to max_seq_len=128 — what PaddleHub's
       ``TransformerModule.predict`` does with its defaults (batch_size=1,
       pad_to_max_seq_len=True), the way the paper's model is naively served
  (a') per-message dygraph without padding, for reference
  (b)  this project's PaddlePredictor with the scorer's defaults: micro-batches of 64 sorted
       by length into buckets of 16, each padded only to its own longest text (rounded to
       16), Paddle Inference with oneDNN

  (c)  the predictor in each CPU precision (fp32 / bf16 / int8; a precision this CPU or
       Paddle build cannot run is a row saying why), against the roofline of bench/roofline.py:
       the GEMM peak measured through Paddle Inference + oneDNN at the size's own shapes, and
       the ISA's theoretical peak. Useful FLOPs (real tokens) and padded FLOPs (as executed)
       are shown separately; the accuracy change is against fp32 on the same texts (max |dP|)
       and, with --dev-labels, the average precision on lovelorn dev half A.

and, for the first size, the end-to-end scorer (Kafka consumer → predictor → Kafka + Redis
sinks, on the embedded broker and Redis) against the standalone predictor on the same texts.
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

from bench.precisions import model_flops, precision_rows, print_precision_table
from bench.roofline import cpu_info, flops_per_batch
from monitor.embedded import EmbeddedServices
from monitor.model import Manifest, ModelRegistry, PaddlePredictor, buckets, encode_batch
from monitor.schemas import Comment, utcnow
from monitor.scoring.service import ScorerService
from monitor.settings import KafkaSettings, ScorerSettings, Settings
from monitor.text import clean_text
from trainer.errors import DataError
from trainer.evaluation.evaluate import DEV_HALF_SEED, load_dev_labels, split_dev_halves
from trainer.networks.build import build_from_scratch
from trainer.networks.export import export_static

BATCH = 64  # the scorer's default micro-batch (buckets of 16 rows inside)
PADDLEHUB_MAX_SEQ_LEN = 128


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
    settings = pipeline_settings(work / "e2e", threads)
    registry = ModelRegistry(settings.registry_root)
    staged = work / "e2e-staged"
    staged.mkdir(parents=True)
    for item in export_dir.iterdir():
        (staged / item.name).write_bytes(item.read_bytes())
    fields = manifest.model_dump(exclude={"version", "created_at"})
    registry.register(staged, fields)
    registry.promote("v1", margin=1)
    return await pipeline_rate(texts, settings, work / "e2e-services")


def pipeline_settings(home: Path, threads: int, **scorer: object) -> Settings:
    """The scorer's defaults on the embedded services, two partitions, a home of its own."""
    return Settings(
        home=home,
        kafka=KafkaSettings(partitions=2, session_timeout_ms=1000),
        scorer=ScorerSettings(max_batch=BATCH, cpu_threads=threads, max_wait_ms=50, **scorer),  # type: ignore[arg-type]
    )


async def pipeline_rate(texts: list[str], settings: Settings, services_dir: Path) -> float:
    """``texts`` as comments through fresh embedded services and a scorer serving the home's
    current version; texts/s from the first fetch to the last delivery."""
    services = EmbeddedServices(settings, services_dir)
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


def dev_texts(dev_labels: Path, corpus: Path) -> tuple[list[str], np.ndarray]:
    """Dev half A's texts and lovelorn labels (half B is kept for one report per recipe)."""
    half_a, _ = split_dev_halves(load_dev_labels(dev_labels, corpus), DEV_HALF_SEED)
    return [i.text for i in half_a], np.array([i.label for i in half_a])


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
        "--naive-texts", type=int, default=256, help="texts for the per-message runs (0: skip)"
    )
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--max-seq-len", type=int, default=128)
    parser.add_argument("--precisions", default="fp32,bf16,int8")
    parser.add_argument("--rounds", type=int, default=3, help="alternating timing rounds")
    parser.add_argument("--dev-labels", type=Path, help="lovelorn_dev.tsv, for AP per precision")
    parser.add_argument(
        "--ghz", type=float, help="clock for the theoretical peak (default: cpuinfo)"
    )
    parser.add_argument("--no-e2e", action="store_true", help="skip the Kafka + Redis run")
    args = parser.parse_args()

    rows_in = [line.split("\t") for line in args.data.read_text(encoding="utf-8").splitlines()]
    all_texts = [t for t in (clean_text(r[1]) for r in rows_in if len(r) >= 2) if t]
    texts = random.Random(0).sample(all_texts, min(args.texts, len(all_texts)))
    lengths = [len(t) for t in texts]
    print(
        f"texts: {len(texts)} sampled from {args.data.name}; chars mean {np.mean(lengths):.0f}, "
        f"median {np.median(lengths):.0f}, p90 {np.percentile(lengths, 90):.0f}"
    )
    try:
        dev = dev_texts(args.dev_labels, args.data) if args.dev_labels else None
    except DataError as exc:  # a wrong labels or corpus file: one line, as in `lovelorn evaluate`
        parser.exit(1, f"error: {exc}\n")
    if dev:
        print(f"dev half A: {len(dev[0])} labelled texts, {int(dev[1].sum())} lovelorn")
    cpu = cpu_info(args.ghz, args.threads)

    rows, precision_table, flops, n_texts = [], [], {}, {}
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        e2e = None
        for n, size in enumerate(args.sizes.split(",")):
            model, tokenizer, config, out, manifest = export(size, work, args.max_seq_len)
            naive = texts[: args.naive_texts]
            a = (
                per_message_dygraph(model, tokenizer, naive, PADDLEHUB_MAX_SEQ_LEN)
                if naive
                else None
            )
            a_nopad = per_message_dygraph(model, tokenizer, naive, None) if naive else None
            settings = ScorerSettings(max_batch=BATCH, cpu_threads=args.threads, precision="fp32")
            predictor = PaddlePredictor(out, settings, manifest)
            b, gflops = batched_predictor(predictor, tokenizer, texts, config)
            if n == 0 and not args.no_e2e:
                standalone = b
                e2e = asyncio.run(end_to_end(texts, out, manifest, work, args.threads))
                b_again, _ = batched_predictor(
                    predictor, tokenizer, texts, config
                )  # standalone again, after: noise check
                standalone = (standalone + b_again) / 2
            predictor.close()
            rows.append((size, a, a_nopad, b, gflops))
            flops[size] = model_flops(config, tokenizer, texts, args.max_seq_len)
            n_texts[size] = len(texts)
            precision_table += precision_rows(
                size,
                out,
                manifest,
                config,
                texts,
                dev,
                precisions=args.precisions.split(","),
                threads=args.threads,
                rounds=args.rounds,
            )
        print(
            "\n| size | (a) dygraph per message, pad 128 | (a') per message, no pad | (b) batched predictor, fp32 | (b)/(a) | padded GFLOP/s |"
        )
        print("|---|---|---|---|---|---|")
        for size, a, a_nopad, b, gflops in rows:
            na = "n/a"
            print(
                f"| {size} | {f'{a:.1f}/s' if a else na} | {f'{a_nopad:.1f}/s' if a_nopad else na} "
                f"| {b:.1f}/s | {f'{b / a:.1f}×' if a else na} | {gflops:.1f} |"
            )
        print_precision_table(precision_table, flops, n_texts, cpu)
        if e2e is not None:
            print(
                f"\nend to end ({args.sizes.split(',')[0]}, {len(texts)} comments, Tansu + Redis, batch {BATCH}): "
                f"{e2e:.1f}/s vs standalone predictor {standalone:.1f}/s = {e2e / standalone:.0%}"
            )


if __name__ == "__main__":
    main()
