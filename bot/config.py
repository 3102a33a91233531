"""Settings from the environment (``INTAKE_*``), in one typed object."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Literal

from pydantic import AliasChoices, Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from .resources import FLOWS_DIR
from .store.crypto import load_or_create_key_file


def default_data_dir() -> Path:
    """``./var`` in the folder the bot was started from: never inside the installed
    package. ``make run`` and the tests start in the repository root, so there it is
    the checkout's ``var/``."""
    return Path.cwd() / "var"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="INTAKE_", extra="ignore", populate_by_name=True)

    data_dir: Path = Field(
        default_factory=default_data_dir,
        description="where the bot writes: the SQLite database, the NLU model, the development key",
    )
    database_url: str = ""
    secret_keys: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="comma-separated Fernet keys; the first encrypts. Default: <data_dir>/secret.key",
    )
    flows_dir: Path = Field(default=FLOWS_DIR, description="the flows to run; default: those shipped with the bot")
    host: str = "127.0.0.1"
    port: int = 8080
    log_level: str = "INFO"
    log_format: Literal["text", "json"] = Field(default="text", description="json: one JSON object a log line")
    metrics_token: SecretStr | None = Field(
        default=None, description="bearer token for /metrics; unset: /metrics answers on loopback only"
    )
    default_language: str = "en"
    timezone: str = "Europe/Brussels"
    session_idle_minutes: int = Field(default=1440, ge=1)
    purge_interval_seconds: int = Field(default=300, ge=5)
    nlu_url: str = Field(default="", description="a Rasa server (its /model/parse); empty: the embedded NLU only")
    nlu_model_path: Path | None = Field(default=None, description="default: <data_dir>/nlu/model.npz (set when loaded)")
    scheduler_interval_seconds: float = Field(default=15, gt=0, description="how often due reminders are sent")
    webchat_origins: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="comma-separated sites (https://partner.example) whose pages may embed a "
        "Rasa chat widget talking to /socket.io; empty: this server's own pages only",
    )

    public_url: str = Field(
        default="",
        description="this server's public https address (Telegram webhook mode; the web chat is at its /)",
    )
    telegram_bot_token: SecretStr | None = Field(
        default=None,
        # The name BotFather's instructions and most deployments use, without our prefix.
        validation_alias=AliasChoices("TELEGRAM_BOT_TOKEN", "INTAKE_TELEGRAM_BOT_TOKEN"),
        description="turns the Telegram channel on",
    )
    telegram_secret: SecretStr | None = Field(
        default=None, description="the Telegram webhook's secret token; default: derived from the bot token"
    )
    telegram_api_url: str = Field(
        default="", description="another Bot API server (e.g. http://127.0.0.1:8081/bot); empty: Telegram's"
    )
    official_web_chat_url: str = Field(
        default="",
        description="the official web chat address the bot tells applicants to trust; "
        "default: the web chat page of INTAKE_PUBLIC_URL; empty: the bot points to the official websites",
    )
    official_telegram_bot: str = Field(
        default="",
        description="the official Telegram bot, as @handle; empty: the bot points to the official websites",
    )

    @model_validator(mode="after")
    def _paths_in_the_data_dir(self) -> Settings:
        if self.nlu_model_path is None:
            self.nlu_model_path = self.data_dir / "nlu" / "model.npz"
        return self

    @field_validator("telegram_bot_token", "telegram_secret", "metrics_token", mode="before")
    @classmethod
    def _blank_is_unset(cls, value: object) -> object:
        if isinstance(value, str):
            return value.strip() or None
        return value

    @field_validator("official_web_chat_url")
    @classmethod
    def _web_address(cls, value: str) -> str:
        value = value.strip()
        if value and not re.fullmatch(r"https?://[^\s/]+(/\S*)?", value):
            raise ValueError("must be a web address such as https://chat.example.be/")
        return value

    @field_validator("official_telegram_bot")
    @classmethod
    def _telegram_handle(cls, value: str) -> str:
        """``@IntakeBot``, ``IntakeBot`` or ``https://t.me/IntakeBot`` → ``@IntakeBot``."""
        value = re.sub(r"^(?:https?://)?(?:t\.me|telegram\.me)/", "", value.strip()).lstrip("@").rstrip("/")
        if not value:
            return ""
        if not re.fullmatch(r"[A-Za-z][A-Za-z0-9_]{1,28}[Bb][Oo][Tt]", value):
            raise ValueError("must be a Telegram bot username such as @IntakeBot (5–32 letters, digits or _, ending in 'bot')")
        return "@" + value

    def official_web_chat(self) -> str | None:
        """Where the official web chat is: the setting, else this server's own page."""
        if self.official_web_chat_url:
            return self.official_web_chat_url
        public = self.public_url.strip().rstrip("/")
        return public + "/" if public else None

    @field_validator("secret_keys", "webchat_origins", mode="before")
    @classmethod
    def _split_keys(cls, value: object) -> object:
        if isinstance(value, str):
            return [k.strip() for k in value.split(",") if k.strip()]
        return value

    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite+aiosqlite:///{self.data_dir / 'intake.db'}"

    def keys(self) -> list[str]:
        return self.secret_keys or load_or_create_key_file(self.data_dir / "secret.key")
