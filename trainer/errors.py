"""The trainer's errors: each is something the user can fix, shown by the CLI as one line.

MonitorError
└── TrainerError
    ├── DataError     a labelled file, recipe or corpus that cannot be used
    ├── ModelError    a model that cannot be built or loaded
    └── ExportError   an export that does not score like the trained model
"""

from __future__ import annotations

from monitor.errors import TrainerError

__all__ = ["DataError", "ExportError", "ModelError", "TrainerError"]


class DataError(TrainerError):
    pass


class ModelError(TrainerError):
    pass


class ExportError(TrainerError):
    pass
