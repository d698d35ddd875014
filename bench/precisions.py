"""The precision table of bench/scorer.py: each CPU precision against its own roofline.

For one exported model: fp32, bf16 and int8 predictors timed in alternating rounds on the
same texts (the machine is shared, so only side-by-side ratios mean anything), each
throughput turned into useful GFLOP/s (real tokens) and padded GFLOP/s (what ran), and a
share of the GEMM peak measured for that precision with the same library at the model's
shapes. A precision that cannot run here gets a row with the reason, never a silent fp32.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from bench.roofline import CpuInfo, GemmPeak, flops_per_batch, theoretical_peak
from monitor.model import Manifest, PaddlePredictor, buckets, cpu_support, encode_batch
from monitor.settings import ScorerSettings
from trainer.evaluation.metrics import average_precision

__all__ = ["PrecisionRow", "precision_rows", "print_precision_table"]

BATCH = 64


@dataclass
class PrecisionRow:
    size: str
    precision: str
    why_not: str = ""
    rates: list[float] = field(default_factory=list)
    peaks: list[float] = field(default_factory=list)  # GEMM peak measured after each round
    max_dp: float | None = None
    ap: float | None = None


def model_flops(config: dict, tokenizer, texts: list[str], max_seq_len: int) -> tuple[float, float]:  # type: ignore[no-untyped-def]
    """(useful, padded) FLOPs to score ``texts`` with the predictor's bucketing."""
    useful = padded = 0.0
    for start in range(0, len(texts), BATCH):
        ids = encode_batch(tokenizer, texts[start : start + BATCH], max_seq_len)
        useful += sum(flops_per_batch(config, 1, len(x)) for x in ids)
        for group in buckets([len(x) for x in ids], 16):
            width = -(-max(len(ids[i]) for i in group) // 16) * 16
            padded += flops_per_batch(config, len(group), width)
    return useful, padded


def _one_pass(predictor: PaddlePredictor, texts: list[str]) -> float:
    started = time.perf_counter()
    for start in range(0, len(texts), BATCH):
        predictor.probabilities(texts[start : start + BATCH])
    return len(texts) / (time.perf_counter() - started)


def precision_rows(
    size: str,
    export_dir: Path,
    manifest: Manifest,
    config: dict,
    texts: list[str],
    dev: tuple[list[str], np.ndarray] | None,
    *,
    precisions: list[str],
    threads: int,
    rounds: int,
) -> list[PrecisionRow]:
    h, i = config["hidden_size"], config["intermediate_size"]
    shapes = [(h, h), (h, i), (i, h)]
    rows = [PrecisionRow(size, p, why_not=cpu_support(p) or "") for p in precisions]
    live = [r for r in rows if not r.why_not]
    settings = ScorerSettings(max_batch=BATCH, cpu_threads=threads, precision="fp32")
    predictors = {
        r.precision: PaddlePredictor(export_dir, settings, manifest, measuring=r.precision)  # type: ignore[arg-type]
        for r in live
    }
    # int8 has no Paddle GEMM to measure (no quantized program loads; see precision.py).
    peaks = {
        r.precision: GemmPeak(shapes, threads, r.precision) for r in live if r.precision != "int8"
    }
    try:
        scores = {p: pr.probabilities(texts) for p, pr in predictors.items()}  # also warms shapes
        # AP only means something as a difference: skip the dev texts with nothing to compare.
        dev = dev if len(predictors) > 1 else None
        dev_scores = {p: pr.probabilities(dev[0]) for p, pr in predictors.items()} if dev else {}
        for _ in range(rounds):  # alternate, so load changes hit every precision alike
            for row in live:
                row.rates.append(_one_pass(predictors[row.precision], texts))
                if row.precision in peaks:
                    row.peaks.append(peaks[row.precision].measure())
    finally:
        for pr in predictors.values():
            pr.close()
    for row in live:
        if "fp32" in scores:
            row.max_dp = float(np.abs(scores[row.precision] - scores["fp32"]).max())
        if dev:
            row.ap = average_precision(dev[1], dev_scores[row.precision])
    return rows


def print_precision_table(
    rows: list[PrecisionRow],
    flops: dict[str, tuple[float, float]],
    n_texts: dict[str, int],
    cpu: CpuInfo,
) -> None:
    print(
        f"\nCPU: {cpu.model}, {cpu.cores} cores; ISA flags: "
        + (" ".join(sorted(f for f in cpu.flags if f.startswith(("avx", "fma", "amx")))) or "none")
    )
    print(
        "| size | precision | texts/s median (min–max) | vs fp32 | GFLOP/s useful / padded "
        "| measured GEMM peak (Paddle+oneDNN) | padded share of measured peak, median of rounds | theoretical peak "
        "| max abs dP vs fp32 | AP dev | dAP |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    fp32 = {r.size: r for r in rows if r.precision == "fp32"}
    for r in rows:
        theory, assumption = theoretical_peak(cpu, r.precision)
        theory_s = f"{theory:.0f} ({assumption})" if theory else f"n/a ({assumption})"
        if r.why_not:
            print(f"| {r.size} | {r.precision} | n/a: {r.why_not} | | | | | {theory_s} | | | |")
            continue
        med = float(np.median(r.rates))
        base = fp32.get(r.size)
        ratio = (
            f"{np.median(np.array(r.rates) / np.array(base.rates)):.2f}×"
            if base and base.rates
            else "n/a"
        )
        useful, padded = flops[r.size]
        g_useful, g_padded = (
            useful / n_texts[r.size] * med / 1e9,
            padded / n_texts[r.size] * med / 1e9,
        )
        # A share per round (rate and peak measured back to back), then their median.
        per_text = padded / n_texts[r.size] / 1e9
        shares = [per_text * rate / pk for rate, pk in zip(r.rates, r.peaks, strict=False)]
        share = "n/a (no peak measurable)"
        if shares:
            share = f"{np.median(shares):.0%} ({min(shares):.0%}–{max(shares):.0%})"
            share += " ⚠ above peak: yardstick wrong" if max(shares) > 1 else ""
        ap = f"{r.ap:.4f}" if r.ap is not None else "n/a"
        d_ap = (
            f"{r.ap - base.ap:+.4f}" if r.ap is not None and base and base.ap is not None else "n/a"
        )
        dp = f"{r.max_dp:.1e}" if r.max_dp is not None else "n/a"
        peak = (
            f"{np.median(r.peaks):.0f} ({min(r.peaks):.0f}–{max(r.peaks):.0f})"
            if r.peaks
            else "n/a"
        )
        print(
            f"| {r.size} | {r.precision} | {med:.1f} ({min(r.rates):.1f}–{max(r.rates):.1f}) | {ratio} "
            f"| {g_useful:.1f} / {g_padded:.1f} | {peak} | {share} | {theory_s} | {dp} | {ap} | {d_ap} |"
        )
