"""The model contract that serving and training share: encoding, manifest, thresholds,
registry, and the Paddle Inference runtime that runs an exported version.

Nothing here imports Paddle at import time; ``PaddlePredictor`` does when it is built.
"""

from monitor.model.bundled import bundled_model_dir, registry_for
from monitor.model.encoding import (
    blank,
    buckets,
    encode_batch,
    pad,
    scores_from_logits,
    softmax_positive,
)
from monitor.model.manifest import MANIFEST, Calibration, Manifest, PRPoint
from monitor.model.registry import ModelRegistry, Promotion
from monitor.model.thresholds import Thresholds, policy_threshold, threshold_for_precision

__all__ = [
    "MANIFEST",
    "Calibration",
    "Manifest",
    "ModelRegistry",
    "PRPoint",
    "Promotion",
    "Thresholds",
    "blank",
    "buckets",
    "bundled_model_dir",
    "encode_batch",
    "pad",
    "policy_threshold",
    "registry_for",
    "scores_from_logits",
    "softmax_positive",
    "threshold_for_precision",
]
