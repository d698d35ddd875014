"""Which instruction set oneDNN really runs here: the test summary says it, so a run on an
AVX-512 machine and its second, AVX2-capped pass can be told apart."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

__all__ = ["cpu_has_avx512", "onednn_isa"]

_PROBE = """
import sys
from pathlib import Path
from monitor.model.manifest import Manifest
from monitor.model.predictor import PaddlePredictor
from monitor.settings import ScorerSettings
d = Path(sys.argv[1])
m = Manifest.model_validate_json((d / "manifest.json").read_text())
PaddlePredictor(d, ScorerSettings(device="cpu", precision="fp32"), m).logits(["你好"])
"""


def cpu_has_avx512() -> bool:
    try:
        return " avx512f" in Path("/proc/cpuinfo").read_text()
    except OSError:
        return False


def onednn_isa(model_dir: Path) -> str:
    """oneDNN's own words for the ISA it dispatches to (``ONEDNN_VERBOSE=1``), running one
    text through the exported model in ``model_dir`` in a fresh process."""
    env = os.environ | {"ONEDNN_VERBOSE": "1"}
    done = subprocess.run(
        [sys.executable, "-c", _PROBE, str(model_dir)],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    found = re.search(r"onednn_verbose,.*?cpu,isa:([^,\n]+)", done.stdout + done.stderr)
    return found.group(1).strip() if found else "unknown (no oneDNN verbose line)"
