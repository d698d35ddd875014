"""Where a model came from, recorded in its manifest: the command, the code's commit, the
recipe (with a hash of its text) and what each data source contributed."""

from __future__ import annotations

import hashlib
import platform
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Any

from trainer.data.sources import LoadReport

__all__ = ["provenance"]


def _commit() -> str | None:
    try:
        done = subprocess.run(
            ["git", "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5, check=True
        )
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
            timeout=5,
            check=True,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout.strip() + ("+uncommitted changes" if dirty.stdout.strip() else "")


def provenance(
    reports: list[LoadReport], *, recipe: Path | None = None, argv: list[str] | None = None
) -> dict[str, Any]:
    argv = sys.argv[1:] if argv is None else argv
    out: dict[str, Any] = {
        "command": "lovelorn " + shlex.join(argv),
        "commit": _commit(),
        "python": platform.python_version(),
        "data": [
            {"source": r.source, "rows": r.rows, "kept": r.kept, "classes": r.classes}
            for r in reports
        ],
    }
    if recipe is not None:
        out["recipe"] = {
            "path": str(recipe),
            "sha256": hashlib.sha256(recipe.read_bytes()).hexdigest()[:16],
        }
    return out
