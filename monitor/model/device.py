"""Where inference runs: GPU when asked for or available; TensorRT and fp16 only on a GPU."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from monitor.errors import ScoringError
from monitor.settings import ScorerSettings

__all__ = ["DeviceChoice", "choose_device"]


@dataclass(frozen=True)
class DeviceChoice:
    device: Literal["cpu", "gpu"]
    tensorrt: bool = False
    precision: Literal["fp32", "fp16"] = "fp32"
    reason: str = ""


def choose_device(
    settings: ScorerSettings, *, cuda_available: bool, gpu_count: int
) -> DeviceChoice:
    if settings.device == "gpu" and not (cuda_available and gpu_count > settings.gpu_id):
        raise ScoringError(
            "scorer.device=gpu but this Paddle build has no CUDA device "
            f"(compiled with CUDA: {cuda_available}, GPUs: {gpu_count}); install paddlepaddle-gpu "
            "(see README, GPU) or set LOVELORN_SCORER__DEVICE=cpu"
        )
    use_gpu = settings.device == "gpu" or (
        settings.device == "auto" and cuda_available and gpu_count > 0
    )
    if not use_gpu:
        ignored = [
            name for name, on in (("tensorrt", settings.tensorrt), ("fp16", settings.fp16)) if on
        ]
        reason = "no CUDA device" if settings.device == "auto" else "scorer.device=cpu"
        if ignored:
            reason += f"; {' and '.join(ignored)} ignored on CPU"
        return DeviceChoice("cpu", reason=reason)
    return DeviceChoice(
        "gpu",
        tensorrt=settings.tensorrt,
        precision="fp16" if settings.fp16 else "fp32",
        reason=f"GPU {settings.gpu_id}",
    )
