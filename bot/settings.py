"""All settings in one typed place, read from the environment or `.env`."""

from __future__ import annotations

from datetime import timedelta
from functools import lru_cache
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict
from pydantic_settings import SettingsError as SourceError
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from storage.broadcasts import TemplateTerms
from storage.db import DEFAULT_URL
from storage.pledges import Terms


class SettingsError(Exception):
    """A setting is missing or malformed; the message is one sentence for the operator."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", extra="ignore")

    database_url: str = DEFAULT_URL
    telegram_bot_token: SecretStr | None = None
    telegram_api_base_url: str = "https://api.telegram.org/bot"
    telegram_bot_username: str | None = None  # for t.me deep links in invite codes
    webhook_secret: SecretStr | None = None  # Telegram's X-Telegram-Bot-Api-Secret-Token
    public_base_url: str | None = None  # where Telegram and Twilio reach the web process, e.g. https://ksbb.example.org

    twilio_account_sid: str | None = None
    twilio_auth_token: SecretStr | None = None
    twilio_whatsapp_from: str | None = None  # our WhatsApp sender number, e.g. +6281100000000
    twilio_api_base_url: str | None = None  # a local fake in tests, or a proxy
    twilio_mps: int = Field(80, ge=1)  # Twilio's messages per second per sender
    # Approved WhatsApp templates (Twilio ContentSid) for messages the bot starts outside the 24-hour
    # window, by kind: {"broadcast": "HX…", "reminder": "HX…", "notification": "HX…"} (JSON in the env).
    whatsapp_templates: dict[str, str] = {}
    # Optional Content templates (twilio/quick-reply) for 2 or 3 choices as buttons in a session:
    # {"2": "HX…", "3": "HX…"}; variables {{1}} the text, then title and id of each button.
    whatsapp_quick_replies: dict[str, str] = {}
    # Twilio connection overrides appended to our webhook URLs (`…/whatsapp#rc=3&rp=all`), so Twilio
    # retries an inbound message we answered 5xx; signatures are accepted with or without them.
    twilio_webhook_overrides: str | None = None
    whatsapp_template_price: int = Field(500, ge=0)  # Rupiah per template message, for previews (an estimate)
    whatsapp_daily_cap: int = Field(1000, ge=1)  # business-initiated conversations per 24 hours
    default_locale: Literal["id", "en"] = "id"
    timezone: str = "Asia/Jakarta"

    # Send limits, enforced by the shared limiter (tests raise them, benchmarks use the real ones).
    telegram_global_per_second: int = Field(30, ge=1)
    telegram_chat_burst: int = Field(3, ge=1)
    telegram_chat_per_second: float = Field(1.0, gt=0)
    # Slack kept beyond each limit, so network jitter between our clock and the platform's never
    # turns into a 429 (20 ms costs 2% of the global rate).
    limiter_margin_seconds: float = Field(0.02, ge=0, le=1)

    # Outbox sender.
    sender_batch_size: int = Field(30, ge=1, le=30)
    sender_lease_seconds: float = Field(60.0, gt=0)
    sender_max_attempts: int = Field(5, ge=1)
    sender_idle_seconds: float = Field(1.0, gt=0)

    # Conversations and retention.
    idle_reset_minutes: int = Field(30, ge=1)
    retention_hours: int = Field(48, ge=1)

    # Pledges (KSBB Penataan Permukiman).
    pledge_min_share: int = Field(1_000_000, ge=1)  # Rupiah, the smallest share of a Bersama offer
    pledge_hold_hours: int = Field(72, ge=1)  # an unconfirmed pledge lapses after this
    pledge_remind_hours: int = Field(24, ge=1)  # the RW's coordinators are reminded after this
    pledge_funds_reminder_days: int = Field(7, ge=1)  # a confirmed pledge without funds reminds this often

    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    port: int = Field(8000, ge=1, le=65535)  # where `ksbb run` serves the web app (with Twilio configured)
    metrics_port: int | None = Field(None, ge=1, le=65535)  # `ksbb worker` serves /metrics here when set

    @field_validator("database_url")
    @classmethod
    def _known_database(cls, url: str) -> str:
        if not url.startswith(("sqlite", "postgresql", "postgres")):
            raise ValueError("must start with sqlite:// or postgresql://")
        try:
            make_url(url)
        except ArgumentError:
            raise ValueError("is not a URL such as sqlite:///ksbb.db or postgresql://user@host/db") from None
        return url

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, name: str) -> str:
        try:
            ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError("is not a known time zone") from exc
        return name

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def template_terms(self) -> TemplateTerms:
        return TemplateTerms("broadcast" in self.whatsapp_templates, self.whatsapp_template_price)

    @property
    def pledge_terms(self) -> Terms:
        return Terms(self.pledge_min_share, timedelta(hours=self.pledge_hold_hours),
                     timedelta(hours=self.pledge_remind_hours), timedelta(days=self.pledge_funds_reminder_days))


def load_settings(**overrides: object) -> Settings:
    """Read settings, turning a validation error into one clear sentence."""
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        first = exc.errors()[0]
        name = str(first["loc"][0]).upper() if first["loc"] else "a setting"
        message = first["msg"].removeprefix("Value error, ")
        raise SettingsError(f"Setting {name} is invalid: {message}.") from None
    except SourceError as exc:  # a value that is not the JSON it must be, e.g. WHATSAPP_TEMPLATES
        field = str(exc).split('"')[1] if str(exc).count('"') >= 2 else "a setting"
        raise SettingsError(f"Setting {field.upper()} is invalid: it is not valid JSON.") from None


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, read once."""
    return load_settings()
