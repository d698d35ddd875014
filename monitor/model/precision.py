"""Which CPU precision a predictor may run: the accuracy gate and the choice.

A reduced precision (bf16, int8) changes the scores, so it is only used for a version whose
export measured it on that version's own validation texts and found it within the
tolerances below (recorded per precision in ``Manifest.precision_gates``). The CPU must
also run it natively: Paddle Inference's ``enable_mkldnn_bfloat16()`` silently keeps fp32 on
a CPU without AVX-512 (it only logs "CPU does not support BFLOAT16 calculations"), so the
check is made here and a request that cannot be honoured fails loudly instead.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from typing import Literal, get_args

import numpy as np
import structlog

from monitor.errors import ScoringError
from monitor.model.manifest import PrecisionGate

__all__ = [
    "FASTEST_FIRST",
    "INT8_UNAVAILABLE",
    "MAX_ABS_DAP",
    "MAX_ABS_DP",
    "REDUCED",
    "Precision",
    "choose_precision",
    "cpu_support",
    "judge",
    "onednn_cap",
]

log = structlog.get_logger()

Precision = Literal["fp32", "bf16", "int8"]
REDUCED: tuple[Precision, ...] = ("bf16", "int8")
# Speed order for `auto` (oneDNN: int8 > bf16 > fp32 where the ISA has them).
FASTEST_FIRST: tuple[Precision, ...] = ("int8", "bf16", "fp32")

# The gate's tolerances, against fp32 on the same texts: a served probability may move by
# at most MAX_ABS_DP, and the validation average precision by at most MAX_ABS_DAP.
MAX_ABS_DP = 0.02
MAX_ABS_DAP = 0.005

INT8_UNAVAILABLE = (
    "no int8 program is exported: Paddle 3.3's post-training quantization output "
    "(quantize_linear/dequantize_linear) fails to load in Paddle Inference (pd_op.cast "
    "EnforceNotMet)"
)


def judge(
    precision: str,
    reference: np.ndarray,
    scores: np.ndarray,
    *,
    ap_reference: float | None,
    ap_scores: float | None,
) -> PrecisionGate:
    """The gate record for ``scores`` (reduced precision) against ``reference`` (fp32).

    Pure: the caller computes the average precisions (the trainer owns the metric). Without
    labels (``ap_*`` None) the AP half cannot be checked, so the gate does not pass.
    """
    reference, scores = np.asarray(reference, float), np.asarray(scores, float)
    if reference.shape != scores.shape or not len(reference):
        return PrecisionGate(precision=precision, passed=False, reason="no comparable scores")
    max_dp = float(np.abs(scores - reference).max())
    d_ap = None if ap_reference is None or ap_scores is None else ap_scores - ap_reference
    failures = []
    if not max_dp <= MAX_ABS_DP:  # `not <=` also fails NaN
        failures.append(f"max |dP| {max_dp:.4f} > {MAX_ABS_DP}")
    if d_ap is None:
        failures.append("no labels for average precision")
    elif not abs(d_ap) <= MAX_ABS_DAP:
        failures.append(f"|dAP| {abs(d_ap):.4f} > {MAX_ABS_DAP}")
    return PrecisionGate(
        precision=precision,
        passed=not failures,
        max_abs_dp=max_dp,
        d_ap=d_ap,
        texts=len(reference),
        reason="; ".join(failures),
    )


# oneDNN's ISA caps (ONEDNN_MAX_CPU_ISA) below avx512_core, where it has no bf16 kernels.
_BELOW_AVX512 = {"SSE41", "AVX", "AVX2", "AVX2_VNNI", "AVX2_VNNI_2"}


def onednn_cap() -> str | None:
    """The ISA cap oneDNN obeys in this process (``ONEDNN_MAX_CPU_ISA``, or the older
    ``DNNL_MAX_CPU_ISA``), upper-cased; None when uncapped."""
    cap = os.environ.get("ONEDNN_MAX_CPU_ISA") or os.environ.get("DNNL_MAX_CPU_ISA")
    return cap.strip().upper() if cap and cap.strip().upper() not in ("ALL", "DEFAULT") else None


def cpu_support(precision: str) -> str | None:
    """None if this CPU, oneDNN's ISA cap and the Paddle build let ``precision`` run
    natively, else why not. The CPU's flags alone are not enough: with oneDNN capped at
    AVX2 on an AVX-512 CPU a bf16 predictor fails inside ``run()``."""
    if precision == "fp32":
        return None
    if precision == "int8":
        return INT8_UNAVAILABLE
    if precision == "bf16":
        from monitor.model.runtime import quiet_paddle

        quiet_paddle()
        from paddle.base import core

        if not core.supports_bfloat16():
            return "this CPU has no AVX-512 (oneDNN needs avx512_core for bf16; Paddle would silently run fp32)"
        if (cap := onednn_cap()) in _BELOW_AVX512:
            return (
                f"oneDNN is capped at {cap} (ONEDNN_MAX_CPU_ISA), below the avx512_core bf16 needs"
            )
        return None
    return f"unknown precision {precision!r}"


def _plain(precision: str, cpu_why: str | None, gate: PrecisionGate | None, version: str) -> str:
    """Why ``precision`` is skipped, in a user's words (no Paddle internals)."""
    if precision == "int8":
        return "int8 is not available"
    if cpu_why is not None:
        return f"this CPU cannot run {precision}"
    if gate is None or gate.reason.startswith("not measured"):
        return f"{precision} not measured for {version} (`lovelorn models gate {version}`)"
    return f"{precision} failed its accuracy check for {version}"


def choose_precision(
    requested: str,
    gates: Mapping[str, PrecisionGate],
    supported: Callable[[str], str | None] = cpu_support,
    *,
    version: str = "?",
) -> Precision:
    """The precision to run for ``requested`` ("auto" or one of ``Precision``).

    An explicit reduced precision whose gate did not pass (or was never measured) or that
    the CPU cannot run raises ScoringError; ``auto`` takes the fastest that is both gated
    and supported, else fp32, and logs why the faster ones were skipped.
    """
    if requested == "fp32":
        return "fp32"
    candidates = FASTEST_FIRST if requested == "auto" else (requested,)
    skipped: dict[str, str] = {}
    plain: list[str] = []
    for precision in candidates:
        if precision not in get_args(Precision):
            raise ScoringError(f"unknown scorer precision {precision!r}")
        if precision == "fp32":
            break
        gate = gates.get(precision)
        why = cpu_why = supported(precision)
        if why is None and gate is not None and gate.passed:
            return precision
        if gate is None:
            why = why or (
                f"{version}'s manifest has no {precision} accuracy gate "
                f"(`lovelorn models gate {version}` measures it)"
            )
        elif not gate.passed:
            why = why or (
                f"{version}'s {precision} accuracy gate did not pass: {gate.reason} "
                f"(`lovelorn models gate {version}` measures it again)"
            )
        skipped[precision] = why or ""
        plain.append(_plain(precision, cpu_why, gate, version))
    if requested != "auto":
        raise ScoringError(
            f"scorer.precision={requested} refused for {version}: {skipped[requested]}"
        )
    # Nothing the user did wrong: one plain line at info level, the details for debugging.
    log.info("precision", version=version, running="fp32", because="; ".join(plain))
    log.debug("precision_fallback", version=version, chosen="fp32", skipped=skipped)
    return "fp32"
