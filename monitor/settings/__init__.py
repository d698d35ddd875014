"""One frozen settings tree for every component.

Sources, strongest first: keyword arguments, ``LOVELORN_…`` environment variables
(nested with ``__``, e.g. ``LOVELORN_KAFKA__BOOTSTRAP_SERVERS``), an optional TOML file,
then defaults. Unknown keys are refused so a typo never silently falls back to a default.
Kafka and Redis addresses left unset mean "the embedded services" (``lovelorn services up``).
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, ValidationError
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from monitor.errors import ConfigError
from monitor.settings.login import LoginSettings
from monitor.settings.masking import mask_url, mask_urls
from monitor.settings.sections import (
    AlertPolicy,
    AlertSettings,
    ConsoleSettings,
    ConsoleUser,
    KafkaSettings,
    KeywordTarget,
    PostTarget,
    RedisSettings,
    RegistrySettings,
    ScorerSettings,
    TrainerSettings,
    WebhookSettings,
    WeiboSettings,
)

__all__ = [
    "AlertPolicy",
    "AlertSettings",
    "ConsoleSettings",
    "ConsoleUser",
    "KafkaSettings",
    "KeywordTarget",
    "LoginSettings",
    "PostTarget",
    "RedisSettings",
    "RegistrySettings",
    "ScorerSettings",
    "Settings",
    "TrainerSettings",
    "WebhookSettings",
    "WeiboSettings",
    "load_settings",
    "mask_url",
    "mask_urls",
]

CONFIG_ENV = "LOVELORN_CONFIG"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="LOVELORN_",
        env_nested_delimiter="__",
        extra="forbid",
        frozen=True,
    )

    home: Path = Field(Path(".lovelorn"), description="state, models and caches")
    metrics_host: str = Field(
        "127.0.0.1", description="address the metrics endpoints bind (0.0.0.0 in containers)"
    )
    log_level: Literal["debug", "info", "warning", "error"] = "info"
    log_format: Literal["auto", "json", "console"] = "auto"
    kafka: KafkaSettings = KafkaSettings()
    redis: RedisSettings = RedisSettings()
    weibo: WeiboSettings = WeiboSettings()
    scorer: ScorerSettings = ScorerSettings()
    alerts: AlertSettings = AlertSettings()
    registry: RegistrySettings = RegistrySettings()
    trainer: TrainerSettings = TrainerSettings()
    console: ConsoleSettings = ConsoleSettings()
    webhook: WebhookSettings = WebhookSettings()

    @property
    def registry_root(self) -> Path:
        return self.registry.root or self.home / "models"

    @property
    def services_dir(self) -> Path:
        return self.home / "services"

    def masked(self) -> dict[str, Any]:
        """The effective settings as JSON-able data; SecretStr dumps as '**********', and the
        credentials written into any URL (Redis, webhook, …) are masked too."""
        masked: dict[str, Any] = mask_urls(self.model_dump(mode="json"))
        return masked


def _describe(exc: ValidationError) -> str:
    parts = []
    for err in exc.errors():
        where = ".".join(str(p) for p in err["loc"]) or "settings"
        msg = err["msg"].removeprefix("Value error, ")
        parts.append(f"{where}: {msg}")
    return "; ".join(parts)


def load_settings(config_file: Path | None = None, **overrides: Any) -> Settings:
    """Build the settings, reading a TOML file from the argument or ``LOVELORN_CONFIG``.

    Raises ConfigError with one line naming every bad key.
    """
    if config_file is None and os.environ.get(CONFIG_ENV):
        config_file = Path(os.environ[CONFIG_ENV])
    cls: type[Settings] = Settings
    if config_file is not None:
        if not config_file.is_file():
            raise ConfigError(f"settings file {config_file} does not exist")
        try:
            tomllib.loads(
                config_file.read_bytes().decode("utf-8")
            )  # as the TOML source reads it: bytes, no newline translation
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise ConfigError(f"settings file {config_file} is not valid TOML: {exc}") from None
        toml_file = config_file

        class _FromFile(Settings):
            @classmethod
            def settings_customise_sources(
                cls,
                settings_cls: type[BaseSettings],
                init_settings: PydanticBaseSettingsSource,
                env_settings: PydanticBaseSettingsSource,
                dotenv_settings: PydanticBaseSettingsSource,
                file_secret_settings: PydanticBaseSettingsSource,
            ) -> tuple[PydanticBaseSettingsSource, ...]:
                return (
                    init_settings,
                    env_settings,
                    TomlConfigSettingsSource(settings_cls, toml_file),
                )

        cls = _FromFile
    try:
        return cls(**overrides)
    except ValidationError as exc:
        origin = f" (from {config_file} and LOVELORN_* variables)" if config_file else ""
        raise ConfigError(f"invalid settings{origin}: {_describe(exc)}") from None
