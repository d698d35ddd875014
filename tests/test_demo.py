"""A shortened `lovelorn demo`: everything it starts is stopped, alerts flow, a summary prints."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import pytest

from monitor.demo import run_demo
from monitor.settings import RegistrySettings, Settings


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


def test_demo_serves_the_bundled_model_and_leaves_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    summary = asyncio.run(
        run_demo(Settings(home=tmp_path, registry=RegistrySettings(bundled=True)))
    )
    out = capsys.readouterr().out
    assert summary.scored + summary.dead_letters == summary.comments == 160
    assert summary.alerts > 0 and "ALERT" in out
    assert "summary" in out and "alert latency" in out and "throughput" in out
    assert summary.model_version == "v1" and "small" in summary.model_base
    state = tmp_path / "demo" / "services" / "state.json"
    assert not state.exists()
    assert _running_in(tmp_path) == []  # no broker, no Redis left behind
