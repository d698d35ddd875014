"""The model contract that serving and training share: encoding, manifest, thresholds,
registry, the Paddle Inference runtime that runs an exported version, cascades and
explanations. Callers import these names from ``monitor.model``; the modules behind them
may move.

Nothing here imports Paddle at import time; ``PaddlePredictor`` does when it is built.
"""

from monitor.model.bundled import BUNDLED_VERSION, bundled_model_dir, registry_for, unpack
from monitor.model.cascade import CascadePredictor, choose_band, open_predictor
from monitor.model.encoding import (
    blank,
    buckets,
    encode_batch,
    pad,
    scores_from_logits,
    softmax_positive,
)
from monitor.model.explain import Explanation, explain
from monitor.model.gates import precision_gates
from monitor.model.manifest import MANIFEST, Calibration, CascadePlan, Manifest, PRPoint
from monitor.model.params import HALF_SUFFIX, halve
from monitor.model.precision import cpu_support
from monitor.model.predictor import PaddlePredictor, Predictor
from monitor.model.registry import ModelRegistry, Promotion
from monitor.model.runtime import import_paddle, quiet_paddle
from monitor.model.thresholds import (
    Thresholds,
    average_precision,
    policy_threshold,
    pr_curve,
    threshold_for_precision,
)

__all__ = [
    "BUNDLED_VERSION",
    "HALF_SUFFIX",
    "MANIFEST",
    "Calibration",
    "CascadePlan",
    "CascadePredictor",
    "Explanation",
    "Manifest",
    "ModelRegistry",
    "PRPoint",
    "PaddlePredictor",
    "Predictor",
    "Promotion",
    "Thresholds",
    "average_precision",
    "blank",
    "buckets",
    "bundled_model_dir",
    "choose_band",
    "cpu_support",
    "encode_batch",
    "explain",
    "halve",
    "import_paddle",
    "open_predictor",
    "pad",
    "policy_threshold",
    "pr_curve",
    "precision_gates",
    "quiet_paddle",
    "registry_for",
    "scores_from_logits",
    "softmax_positive",
    "threshold_for_precision",
    "unpack",
]
