"""Process settings, read once from ``IMPACT_*`` environment variables."""

from __future__ import annotations

from functools import cache
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

__all__ = ["Settings", "get_settings"]


def _default_cache_dir() -> Path:
    return Path.home() / ".cache" / "gridimpact"


class Settings(BaseSettings):
    """Settings shared by the CLI, the API and the workers."""

    model_config = SettingsConfigDict(env_prefix="IMPACT_", extra="ignore")

    cache_dir: Path = Field(default_factory=_default_cache_dir, description="parsed-grid cache folder")


@cache
def get_settings() -> Settings:
    """The process's settings (read once)."""
    return Settings()
