"""A shortened `lovelorn demo`: everything it starts is stopped, alerts flow, a summary prints."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import pytest

from monitor.settings import Settings, TrainerSettings
from trainer.demo import run_demo

QUICK = TrainerSettings(
    epochs=12, batch_size=16, learning_rate=5e-3, patience=12, max_seq_len=64, seed=7
)


def _running_in(folder: Path) -> list[int]:
    """Live processes whose working directory is inside ``folder`` (the embedded services
    run in their state directory)."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            state = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[-1].split()[0]
            cwd = Path(os.readlink(f"/proc/{entry}/cwd"))
        except OSError:
            continue
        if state != "Z" and cwd.is_relative_to(folder):
            found.append(int(entry))
    return found


def test_shortened_demo_prints_alerts_and_leaves_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    summary = asyncio.run(
        run_demo(Settings(home=tmp_path), progress=False, size="test", training=QUICK)
    )
    out = capsys.readouterr().out
    assert summary.scored == summary.comments == 106
    assert summary.alerts > 0 and "ALERT" in out
    assert "summary" in out and "alert latency" in out and "throughput" in out
    assert summary.trained
    state = tmp_path / "demo" / "services" / "state.json"
    assert not state.exists()
    assert _running_in(tmp_path) == []  # no broker, no Redis left behind

    again = asyncio.run(
        run_demo(Settings(home=tmp_path), progress=False, size="test", training=QUICK)
    )
    assert (
        not again.trained and again.model_version == summary.model_version
    )  # a rerun reuses the model
