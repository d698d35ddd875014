"""The yardsticks for bench/scorer.py: measured GEMM peaks and the ISA's theoretical peak.

A share of peak is only honest when the peak comes from the same library that runs the
model, at the model's own GEMM shapes and thread count: here a single Linear layer run
through Paddle Inference with oneDNN, exactly as the encoder's fc/inner_product ops run.
(numpy's OpenBLAS is a different library, and this machine pins its kernel with
OPENBLAS_CORETYPE, which is why the old bench reported 121–162 % "of matmul peak".)

The theoretical peak is cores × GHz × FLOPs per cycle per core for the widest ISA
/proc/cpuinfo reports, assuming two FMA pipes (true of Zen 2–4 and Intel server cores):
  fp32  AVX-512: 2 × 16 lanes × 2 = 64;  AVX2+FMA: 2 × 8 × 2 = 32
  bf16  AVX512_BF16 (vdpbf16ps): 2 × fp32;  none: no native bf16 (oneDNN refuses it)
  int8  AVX512_VNNI (vpdpbusd): 4 × fp32;  AVX2 (vpmaddubsw + vpmaddwd): 2 × fp32
GHz defaults to /proc/cpuinfo's "cpu MHz", which under a hypervisor is the nominal clock,
not the boost clock; pass the measured clock (``--ghz``) when it is known.
"""

from __future__ import annotations

import os
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

__all__ = ["CpuInfo", "GemmPeak", "cpu_info", "flops_per_batch", "theoretical_peak"]


def flops_per_batch(config: dict, rows: int, width: int) -> float:
    """Encoder matmuls on every (padded) token plus attention scores and mixing."""
    h, i, layers = config["hidden_size"], config["intermediate_size"], config["num_hidden_layers"]
    tokens = rows * width
    dense = 2 * tokens * layers * (4 * h * h + 2 * h * i)
    attention = 2 * rows * layers * 2 * width * width * h
    return dense + attention


@dataclass(frozen=True)
class CpuInfo:
    model: str
    cores: int
    ghz: float
    flags: frozenset[str]


def cpu_info(ghz: float | None = None, cores: int | None = None) -> CpuInfo:
    text = Path("/proc/cpuinfo").read_text()
    field = {}
    for line in text.splitlines():
        key, _, value = line.partition(":")
        field.setdefault(key.strip(), value.strip())
    mhz = float(field.get("cpu MHz", "0") or 0)
    return CpuInfo(
        model=field.get("model name", "?"),
        cores=cores or len(os.sched_getaffinity(0)),
        ghz=ghz or mhz / 1000,
        flags=frozenset(field.get("flags", "").split()),
    )


def theoretical_peak(cpu: CpuInfo, precision: str) -> tuple[float | None, str]:
    """(G(FL)OP/s or None, the FLOPs-per-cycle assumption)."""
    f = cpu.flags
    fp32 = 64 if "avx512f" in f else 32 if {"avx2", "fma"} <= f else 8
    if precision == "fp32":
        per, why = fp32, "AVX-512 2×FMA" if fp32 == 64 else "AVX2 2×FMA"
    elif precision == "bf16":
        if "avx512_bf16" not in f:
            return None, "no AVX512_BF16"
        per, why = 2 * fp32, "vdpbf16ps"
    elif precision == "int8":
        vnni = "avx512_vnni" in f or "avx_vnni" in f
        per, why = (4 * fp32, "VNNI") if vnni else (2 * fp32, "AVX2 vpmaddubsw, no VNNI")
    else:
        raise ValueError(precision)
    return cpu.cores * cpu.ghz * per, f"{cpu.cores}×{cpu.ghz:.2f} GHz×{per} ({why})"


class GemmPeak:
    """Best GFLOP/s of a Linear(k→n) on 1024 rows through Paddle Inference + oneDNN, in fp32
    or (``enable_mkldnn_bfloat16``, only where the CPU has bf16) bf16.

    ``shapes`` are the model's (k, n) pairs, so the yardstick has the model's aspect ratios.
    Built once, measured once per timing round: on a shared machine the model's rate and
    its peak are only comparable when taken at the same moment.
    """

    ROWS = 1024

    def __init__(self, shapes: list[tuple[int, int]], threads: int, precision: str = "fp32"):
        import paddle
        from paddle import inference
        from paddle.static import InputSpec

        rng = np.random.default_rng(0)
        self._runs: list[tuple[float, object]] = []
        with tempfile.TemporaryDirectory() as tmp:
            for k, n in shapes:
                paddle.disable_static()
                layer = paddle.jit.to_static(
                    paddle.nn.Linear(k, n),
                    input_spec=[InputSpec([None, k], "float32", "x")],
                    full_graph=True,
                )
                prefix = Path(tmp) / f"linear_{k}_{n}"
                paddle.jit.save(layer, str(prefix))
                config = inference.Config(f"{prefix}.json", f"{prefix}.pdiparams")
                config.disable_glog_info()
                config.disable_gpu()
                config.enable_mkldnn()
                if precision == "bf16":
                    config.enable_mkldnn_bfloat16()
                config.set_cpu_math_library_num_threads(threads)
                predictor = inference.create_predictor(config)
                handle = predictor.get_input_handle(predictor.get_input_names()[0])
                handle.reshape([self.ROWS, k])
                handle.copy_from_cpu(rng.standard_normal((self.ROWS, k)).astype(np.float32))
                predictor.run()  # warm-up: kernel creation
                self._runs.append((2.0 * self.ROWS * k * n, predictor.run))

    def measure(self, seconds: float = 1.5) -> float:
        best = 0.0
        for flops, run in self._runs:
            deadline = time.perf_counter() + seconds / len(self._runs)
            while time.perf_counter() < deadline:
                t0 = time.perf_counter()
                run()  # type: ignore[operator]
                best = max(best, flops / (time.perf_counter() - t0) / 1e9)
        return best
