"""Where inference runs: the selection logic (the GPU itself cannot run on this machine)."""

import pytest

from monitor.errors import ScoringError
from monitor.model.device import choose_device
from monitor.settings import ScorerSettings


def test_auto_uses_cpu_without_cuda_and_says_why() -> None:
    choice = choose_device(
        ScorerSettings(device="auto", fp16=True), cuda_available=False, gpu_count=0
    )
    assert choice.device == "cpu" and not choice.tensorrt and choice.precision == "fp32"
    assert "no CUDA device" in choice.reason and "fp16 ignored on CPU" in choice.reason


def test_auto_uses_the_gpu_when_there_is_one() -> None:
    choice = choose_device(
        ScorerSettings(device="auto", tensorrt=True, fp16=True), cuda_available=True, gpu_count=1
    )
    assert (choice.device, choice.tensorrt, choice.precision) == ("gpu", True, "fp16")


def test_explicit_gpu_without_one_is_a_clear_error() -> None:
    with pytest.raises(ScoringError, match="install paddlepaddle-gpu"):
        choose_device(ScorerSettings(device="gpu"), cuda_available=False, gpu_count=0)
    with pytest.raises(ScoringError, match="GPUs: 1"):
        choose_device(ScorerSettings(device="gpu", gpu_id=1), cuda_available=True, gpu_count=1)


def test_cpu_forced_even_with_a_gpu() -> None:
    choice = choose_device(
        ScorerSettings(device="cpu", tensorrt=True), cuda_available=True, gpu_count=2
    )
    assert choice.device == "cpu" and "tensorrt ignored on CPU" in choice.reason
