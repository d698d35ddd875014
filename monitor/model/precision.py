"""Which CPU precision a predictor may run: the accuracy gate and the choice.

A reduced precision (bf16, int8) changes the scores, so it is only used for a version whose
export measured it on that version's own validation texts and found it within the
tolerances below (recorded per precision in ``Manifest.precision_gates``). The CPU must
also run it natively: Paddle Inference's ``enable_mkldnn_bfloat16()`` silently keeps fp32 on
a CPU without AVX-512 (it only logs "CPU does not support BFLOAT16 calculations"), so the
check is made here and a request that cannot be honoured fails loudly instead.
"""

from __future__ import annotations

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


def cpu_support(precision: str) -> str | None:
    """None if this CPU and Paddle build can run ``precision`` natively, else why not."""
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
        return None
    return f"unknown precision {precision!r}"


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
    runnable: set[str] = set()  # by this CPU, whatever the gate said
    for precision in candidates:
        if precision not in get_args(Precision):
            raise ScoringError(f"unknown scorer precision {precision!r}")
        if precision == "fp32":
            break
        gate = gates.get(precision)
        why = supported(precision)
        if why is None:
            runnable.add(precision)
            if gate is not None and gate.passed:
                return precision
        if gate is None:
            why = why or f"{version}'s manifest has no {precision} accuracy gate (re-export it)"
        elif not gate.passed:
            why = why or f"{version}'s {precision} accuracy gate failed: {gate.reason}"
        skipped[precision] = why or ""
    if requested != "auto":
        raise ScoringError(
            f"scorer.precision={requested} refused for {version}: {skipped[requested]}"
        )
    # A gate that failed or is missing on a CPU that could run it is worth a warning (a
    # re-export may fix it); missing hardware is the common case and logged at debug level.
    (log.warning if runnable else log.debug)(
        "precision_fallback", version=version, chosen="fp32", skipped=skipped
    )
    return "fp32"
