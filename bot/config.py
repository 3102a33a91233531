"""Settings from the environment (``INTAKE_*``), in one typed object."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Literal

from pydantic import AliasChoices, Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from .resources import FLOWS_DIR
from .store.crypto import Cipher, derive_lookup_key, load_or_create_key_file
from .store.retention import RetentionPolicy


class MissingKeys(RuntimeError):
    """No encryption keys where a generated key file is not acceptable."""


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
    db_pool_size: int = Field(
        default=20, ge=1,
        description="PostgreSQL connections each worker keeps open; more turns at once wait for one "
        "(opening a connection a turn would cost more than the turn)",
    )
    secret_keys: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="comma-separated Fernet keys; the first encrypts. Default: <data_dir>/secret.key",
    )
    lookup_key: SecretStr | None = Field(
        default=None,
        description="the key of the keyed hashes senders are looked up by (URL-safe base64, 32 bytes); "
        "default: derived from the first of INTAKE_SECRET_KEYS. Set it before rotating those",
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
    trusted_proxies: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="comma-separated addresses or networks of reverse proxies whose X-Forwarded-For "
        "and X-Forwarded-Proto are believed (e.g. 127.0.0.1,10.0.0.0/8); empty: none",
    )
    redis_url: str = Field(
        default="",
        description="Redis for rate limits shared by every worker (redis://127.0.0.1:6379/0); "
        "empty: each worker counts on its own",
    )
    address_messages_per_minute: int = Field(
        default=600, ge=1, description="web chat messages per minute from one address (IPv6: one /64)"
    )
    address_new_conversations_per_hour: int = Field(
        default=120, ge=1, description="new web chat conversations per hour from one address (IPv6: one /64)"
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
    retention_transcript_days: int = Field(
        default=30, ge=1, description="days a conversation that sent no case is kept after its last message"
    )
    retention_cases: str = Field(
        default="",
        description="days a case is kept after reaching a status, over the defaults closed=365,withdrawn=30; "
        "a kind may have its own: closed=365,withdrawn=30,voluntary_return:closed=730",
    )
    webhook_interval_seconds: float = Field(
        default=2, gt=0, description="how often new case events are published and due webhook deliveries sent"
    )
    webhook_max_attempts: int = Field(
        default=10, ge=1, description="attempts of one webhook delivery before it is parked as failed"
    )
    webhook_backoff_seconds: float = Field(
        default=5, gt=0, description="wait after a webhook's first failed attempt; doubled each time, with jitter"
    )
    webhook_max_backoff_seconds: float = Field(default=3600, gt=0, description="longest wait between two attempts")
    webhook_timeout_seconds: float = Field(default=10, gt=0, description="a receiver's answer is awaited this long")
    webhook_keep_days: int = Field(
        default=30, ge=1, description="days case events are kept for the feed (/api/v1/events) after delivery"
    )
    env: str = Field(
        default="development",
        description="development or production; production refuses a generated key file",
    )

    @model_validator(mode="after")
    def _paths_in_the_data_dir(self) -> Settings:
        if self.nlu_model_path is None:
            self.nlu_model_path = self.data_dir / "nlu" / "model.npz"
        return self

    @field_validator("telegram_bot_token", "telegram_secret", "lookup_key", "metrics_token", mode="before")
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

    @field_validator("secret_keys", "webchat_origins", "trusted_proxies", mode="before")
    @classmethod
    def _split_keys(cls, value: object) -> object:
        if isinstance(value, str):
            return [k.strip() for k in value.split(",") if k.strip()]
        return value

    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite+aiosqlite:///{self.data_dir / 'intake.db'}"

    @field_validator("env")
    @classmethod
    def _known_env(cls, value: str) -> str:
        value = value.strip().lower()
        if value not in ("development", "production"):
            raise ValueError("must be development or production")
        return value

    def keys(self) -> list[str]:
        """The encryption key ring. Without INTAKE_SECRET_KEYS a key file is made next to
        the database: fine for ``make run``, refused in production, where a key kept
        beside the data it protects protects nothing and is lost with the machine."""
        if self.secret_keys:
            return self.secret_keys
        if self.env == "production":
            raise MissingKeys(
                "INTAKE_SECRET_KEYS is not set, and INTAKE_ENV=production refuses a key generated "
                "next to the database: make one with `intake keys generate`, keep a copy "
                "outside this machine, and set INTAKE_SECRET_KEYS (see docs/PRIVACY.md)"
            )
        return load_or_create_key_file(self.data_dir / "secret.key")

    @field_validator("retention_cases")
    @classmethod
    def _retention_rules(cls, value: str) -> str:
        RetentionPolicy.parse(30, value)  # raises on a malformed rule, at start-up
        return value

    def retention(self) -> RetentionPolicy:
        return RetentionPolicy.parse(self.retention_transcript_days, self.retention_cases)

    def lookup_key_in_use(self) -> str:
        """INTAKE_LOOKUP_KEY, or the one derived from the first encryption key."""
        if self.lookup_key is not None:
            return self.lookup_key.get_secret_value()
        return derive_lookup_key(self.keys()[0])

    def cipher(self) -> Cipher:
        return Cipher(self.keys(), self.lookup_key_in_use())

    backoffice_secure_cookies: bool | None = Field(
        default=None,
        description="send the back office's cookies with Secure; default: when INTAKE_PUBLIC_URL is https",
    )

    # --- WhatsApp Business Cloud API (bot/channels/whatsapp.py) ---------------------
    whatsapp_token: SecretStr | None = Field(
        default=None, description="the Cloud API access token; with the three below, turns the WhatsApp channel on"
    )
    whatsapp_phone_number_id: str = Field(default="", description="the business phone number's id (not the number)")
    whatsapp_app_secret: SecretStr | None = Field(
        default=None, description="the Meta app's secret: checks X-Hub-Signature-256 of every delivery"
    )
    whatsapp_verify_token: SecretStr | None = Field(
        default=None, description="the token Meta sends back when the webhook is registered"
    )
    whatsapp_api_url: str = Field(
        default="https://graph.facebook.com/v21.0", description="the Graph API's base URL, with its version"
    )
    whatsapp_templates: dict[str, dict[str, str]] = Field(
        default_factory=dict,
        description='approved templates for messages outside the 24-hour window, by language: JSON such as '
        '{"en": {"name": "intake_update", "language": "en"}, "ar": {"name": "intake_update", "language": "ar"}}; '
        "each has one body parameter, the message",
    )

    @field_validator("whatsapp_token", "whatsapp_app_secret", "whatsapp_verify_token", mode="before")
    @classmethod
    def _blank_whatsapp_secret_is_unset(cls, value: object) -> object:
        if isinstance(value, str):
            return value.strip() or None
        return value

    def whatsapp_configured(self) -> bool:
        return bool(
            self.whatsapp_token and self.whatsapp_phone_number_id.strip()
            and self.whatsapp_app_secret and self.whatsapp_verify_token
        )

    # --- e-mail alerts of urgent cases to on-duty staff (bot/backoffice/alerts.py) -------
    smtp_host: str = Field(
        default="", description="the SMTP server urgent-case alerts are sent through; empty: no e-mail alerts "
        "(the back office still shows them)",
    )
    smtp_port: int = Field(default=0, ge=0, le=65535, description="default: 465 with tls, 587 with starttls, 25 with none")
    smtp_username: str = Field(default="", description="sign in to the SMTP server as this user (empty: no sign-in)")
    smtp_password: SecretStr | None = Field(default=None, description="the SMTP user's password")
    smtp_from: str = Field(default="", description="the alerts' sender address (required with INTAKE_SMTP_HOST)")
    smtp_security: Literal["starttls", "tls", "none"] = Field(
        default="starttls",
        description="starttls (upgrade a plain connection, port 587), tls (TLS from the start, port 465) "
        "or none (plain, for a relay on the same machine only)",
    )
    smtp_timeout_seconds: float = Field(default=15, gt=0, description="give up on one SMTP exchange after this long")
    alert_interval_seconds: float = Field(
        default=10, gt=0, le=60, description="how often new urgent-case alerts are looked for and e-mailed"
    )

    @field_validator("smtp_password", mode="before")
    @classmethod
    def _blank_smtp_password_is_unset(cls, value: object) -> object:
        if isinstance(value, str):
            return value or None
        return value

    @model_validator(mode="after")
    def _smtp_needs_a_sender(self) -> Settings:
        self.smtp_host = self.smtp_host.strip()
        self.smtp_from = self.smtp_from.strip()
        if self.smtp_host and not re.fullmatch(r"[^@\s<>]+@[^@\s<>]+", self.smtp_from):
            raise ValueError("INTAKE_SMTP_FROM must be an e-mail address such as intake@example.be "
                             "when INTAKE_SMTP_HOST is set")
        return self

    def smtp_configured(self) -> bool:
        return bool(self.smtp_host)

    def smtp_port_in_use(self) -> int:
        return self.smtp_port or {"tls": 465, "starttls": 587, "none": 25}[self.smtp_security]
