"""A shortened chaos soak (bench/soak.py): scorer, poller and Redis each killed once, nothing lost."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "bench"))

from soak import Soak, audit_ok


def test_short_soak_survives_chaos(tmp_path: Path) -> None:
    soak = Soak(tmp_path, rate=5, seconds=45, chaos_every=12, seed=1)
    result = asyncio.run(soak.run())
    assert audit_ok(result), result
    assert result["input"] == result["scored"] and result["input"] >= 200
    assert all(count >= 1 for count in soak.restarts.values()), soak.restarts
