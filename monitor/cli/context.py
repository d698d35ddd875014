"""What every command shares: the settings, loaded once and lazily, and the logging set-up."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from monitor.logs import configure_logging
from monitor.settings import Settings, load_settings

__all__ = ["AppContext"]


@dataclass
class AppContext:
    config_file: Path | None = None
    verbose: bool = False
    _settings: Settings | None = field(default=None, repr=False)

    @property
    def settings(self) -> Settings:
        if self._settings is None:
            self._settings = load_settings(self.config_file)
            level = "debug" if self.verbose else self._settings.log_level
            configure_logging(self._settings.log_format, level)
        return self._settings

    def services_settings(self, *, kafka: bool = True, redis: bool = True) -> Settings:
        """The settings with Kafka/Redis filled in from embedded services when unset."""
        from monitor.embedded import resolve_endpoints

        return resolve_endpoints(self.settings, kafka=kafka, redis=redis)
