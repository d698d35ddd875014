"""Where fetched and unpacked files live: ``~/.cache/lovelorn`` (``LOVELORN_CACHE`` moves it),
outside the repository and every home, shared by the runs of one user."""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["cache_root"]


def cache_root() -> Path:
    configured = os.environ.get("LOVELORN_CACHE")
    return Path(configured) if configured else Path.home() / ".cache" / "lovelorn"
