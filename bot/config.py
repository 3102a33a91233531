"""Settings from the environment (``INTAKE_*``), in one typed object."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from .store.crypto import load_or_create_key_file

PROJECT_ROOT = Path(__file__).resolve().parent.parent


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="INTAKE_", extra="ignore")

    data_dir: Path = PROJECT_ROOT / "var"
    database_url: str = ""
    secret_keys: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="comma-separated Fernet keys; the first encrypts. Default: var/secret.key",
    )
    flows_dir: Path = PROJECT_ROOT / "flows"
    host: str = "127.0.0.1"
    port: int = 8080
    log_level: str = "INFO"
    default_language: str = "en"
    timezone: str = "Europe/Brussels"
    session_idle_minutes: int = Field(default=1440, ge=1)
    purge_interval_seconds: int = Field(default=300, ge=5)
    nlu_url: str = Field(default="", description="a Rasa server (its /model/parse); empty: the embedded NLU only")
    nlu_model_path: Path = PROJECT_ROOT / "var" / "nlu" / "model.npz"
    scheduler_interval_seconds: float = Field(default=15, gt=0, description="how often due reminders are sent")
    webchat_origins: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="comma-separated sites (https://partner.example) whose pages may embed a "
        "Rasa chat widget talking to /socket.io; empty: this server's own pages only",
    )

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
