"""Process settings, read once from ``IMPACT_*`` environment variables."""

from __future__ import annotations

from functools import cache
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

__all__ = ["KEY_CACHE_S", "Settings", "get_settings"]


KEY_CACHE_S = 30.0  # the API caches a key's tenant this long: a revoked key stops working within it


def _default_data_dir() -> Path:
    return Path.home() / ".local" / "share" / "gridimpact"


def _default_cache_dir() -> Path:
    return Path.home() / ".cache" / "gridimpact"


class Settings(BaseSettings):
    """Settings shared by the CLI, the API and the workers (one instance per process)."""

    model_config = SettingsConfigDict(env_prefix="IMPACT_", extra="ignore")

    data_dir: Path = Field(default_factory=_default_data_dir, description="embedded database and redis files")
    cache_dir: Path = Field(default_factory=_default_cache_dir, description="parsed-grid cache folder")
    database_url: str | None = Field(None, description="SQLAlchemy URL; default: SQLite in data_dir")
    redis_url: str | None = Field(None, description="broker URL; default for `gridimpact up`: a bundled redis-server")
    api_url: str = Field("http://127.0.0.1:8000", description="where the CLI client finds the API")
    api_key: str | None = Field(None, description="the CLI client's API key")
    host: str = "127.0.0.1"
    port: int = 8000
    max_upload_bytes: int = Field(64 * 1024 * 1024, description="largest grid upload accepted")
    max_request_bytes: int = Field(1024 * 1024, description="largest other request body (a study spec is a few kB)")
    heartbeat_s: float = Field(5.0, gt=0, description="how often a running study records that its worker is alive")
    stale_after_s: float = Field(60.0, gt=0, description="a running study whose worker has not beaten for this long is requeued")
    requeue_after_s: float = Field(
        120.0, gt=0, description="a study queued this long without starting has its message sent again"
    )
    sweep_every_s: float = Field(15.0, gt=0, description="how often the sweeper runs")
    max_attempts: int = Field(3, ge=1, description="a study whose workers died this many times fails")
    api_threads: int = Field(4, ge=1, le=64, description="threads of an API process for its synchronous endpoints")
    worker_nice: int = Field(
        10, ge=0, le=19, description="workers run at this niceness, so that the API answers first on a busy machine"
    )
    tenant_max_queued: int = Field(
        200, ge=1, description="queued studies a tenant may have; a submission beyond it is a 429 with Retry-After"
    )
    tenant_max_running: int = Field(0, ge=0, description="running studies a tenant may have (0: as many as the fleet runs)")
    tenant_waiting_messages: int = Field(
        1, ge=1, description="a tenant's studies waiting in the broker at a time (the rest wait in the database, in order)"
    )
    fanout_hours_per_part: int = Field(
        672,
        ge=24,
        le=8784,
        description="hours per part of a fanned-out annual study (four weeks; rounded up to whole screening windows)",
    )
    fanout_part_bus_outages: int = Field(
        1_000_000,
        ge=0,
        description="split a study's outages over the worker fleet in parts of about this many outages x buses "
        "(2,000 buses: 500 outages a part; 70,000 buses: 14); 0 runs every study in one worker",
    )
    result_retry_after_s: int = Field(2, ge=1, description="Retry-After of a 409 for an unfinished study")

    def database(self) -> str:
        """The database URL (SQLite in ``data_dir`` unless ``database_url`` is set)."""
        if self.database_url:
            return self.database_url
        from impact_service.store.db import sqlite_url

        return sqlite_url(self.data_dir / "gridimpact.db")

    def broker(self) -> str:
        """The broker URL; raises when neither set nor started by ``gridimpact up``."""
        if not self.redis_url:
            raise RuntimeError("IMPACT_REDIS_URL is not set: start the embedded stack with `gridimpact up`, or point it at Redis")
        return self.redis_url


@cache
def get_settings() -> Settings:
    """The process's settings (read once)."""
    return Settings()
