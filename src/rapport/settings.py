"""One Settings object, read from the environment (prefix ``RAPPORT_``) and an optional ``.env`` file."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="RAPPORT_", env_file=".env", extra="ignore")

    database_url: str = Field(
        default="sqlite:///var/rapport.db",
        description="SQLAlchemy URL; SQLite file by default, postgresql+psycopg://... in production.",
    )
    secret_key: SecretStr = Field(
        default=SecretStr("dev-only-change-me"),
        description="Signs sessions and links. Set a long random value in production.",
    )
    default_region: str = Field(
        default="US", description="ISO country used to read phone numbers written without a country code."
    )
    default_currency: str = "USD"
    shopify_webhook_secret: SecretStr | None = Field(
        default=None, description="The Shopify app's client secret, used to verify X-Shopify-Hmac-Sha256."
    )
    shopify_source: str = Field(default="shopify", description="Source name recorded for Shopify ids.")
    max_batch_records: int = Field(default=5000, ge=1)
    background_scan: bool = Field(
        default=True,
        description="Each app process runs the duplicate scan in a background thread. Set false where "
        "`rapport worker` processes run it instead (several app processes on one PostgreSQL).",
    )
    host: str = "127.0.0.1"
    port: int = 8000
    secure_cookies: bool = Field(
        default=False,
        description="Mark the session cookie Secure even when the request looks like plain http (behind a proxy).",
    )
    session_idle_minutes: int = Field(default=240, ge=1, description="A session unused this long is signed out.")
    session_max_hours: int = Field(default=12, ge=1, description="A session ends this long after sign-in (a shift).")
    login_window_minutes: int = Field(default=15, ge=1, description="How far back failed sign-ins are counted.")
    login_max_failures_per_account: int = Field(default=5, ge=1)
    login_max_failures_per_ip: int = Field(default=20, ge=1)
    hold_default_hours: int = Field(
        default=48,
        ge=1,
        le=24 * 90,
        description="How long an item put aside for a client is kept when no time is given.",
    )
    hold_max_days: int = Field(default=14, ge=1, le=90, description="The longest a hold may last.")
    pickup_collect_days: int = Field(
        default=7,
        ge=1,
        le=60,
        description="Days a click-and-collect client has to collect before the items go back on sale.",
    )

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    def sqlite_path(self) -> Path | None:
        if not self.is_sqlite:
            return None
        path = self.database_url.split("///", 1)[-1]
        return None if path in ("", ":memory:") else Path(path)


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
