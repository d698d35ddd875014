"""Training checkpoints (pretraining and fine-tuning): model, optimizer moments, schedule and position, swapped in
atomically so a kill while writing leaves the previous checkpoint intact."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

__all__ = ["CHECKPOINT", "load_checkpoint", "save_checkpoint"]

CHECKPOINT = "checkpoint"


def _rename_state(state: dict[str, Any], names: dict[str, str]) -> dict[str, Any]:
    """Optimizer state keyed by other parameter names (``{name}_moment1_0`` and the like).

    Paddle keys an optimizer's state by each parameter's generated name (``linear_12.w_0``),
    which depends on how many layers the process built before; checkpoints store the model's
    structured names (``ernie.encoder.layers.0.linear1.weight``) instead, so a resumed run in
    a fresh process (or one that built another model first) finds its moments."""
    longest_first = sorted(names, key=len, reverse=True)  # "a.bias" before "a"
    out: dict[str, Any] = {}
    for key, value in state.items():
        if isinstance(value, dict):
            value = _rename_state(value, names)
        new = names.get(key)
        if new is None:
            old = next((o for o in longest_first if key.startswith(o + "_")), None)
            new = names[old] + key[len(old) :] if old is not None else key
        out[new] = value
    return out


def save_checkpoint(
    out_dir: Path, model: Any, optimizer: Any, schedule: Any, state: dict[str, Any]
) -> None:
    """Model, optimizer (moments), schedule and position; written beside, then swapped in,
    so a kill during the write leaves the previous checkpoint intact."""
    import paddle

    staging, final, old = (
        out_dir / f"{CHECKPOINT}.tmp",
        out_dir / CHECKPOINT,
        out_dir / f"{CHECKPOINT}.old",
    )
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    paddle.save(model.state_dict(), str(staging / "model.pdparams"))
    structured = {p.name: n for n, p in model.named_parameters()}
    paddle.save(_rename_state(optimizer.state_dict(), structured), str(staging / "optimizer.pdopt"))
    state = state | {"schedule": schedule.state_dict()}
    (staging / "state.json").write_text(json.dumps(state, indent=1))
    if final.exists():
        final.rename(old)
    staging.rename(final)
    shutil.rmtree(old, ignore_errors=True)


def load_checkpoint(
    out_dir: Path, model: Any, optimizer: Any, schedule: Any
) -> dict[str, Any] | None:
    import paddle

    where = out_dir / CHECKPOINT
    if not (where / "state.json").is_file():
        return None
    state: dict[str, Any] = json.loads((where / "state.json").read_text())
    model.set_state_dict(paddle.load(str(where / "model.pdparams")))
    generated = {n: p.name for n, p in model.named_parameters()}
    optimizer.set_state_dict(_rename_state(paddle.load(str(where / "optimizer.pdopt")), generated))
    schedule.set_state_dict(state["schedule"])
    return state
