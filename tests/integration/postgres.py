"""A throwaway PostgreSQL server for tests: IMPACT_TEST_POSTGRES_URL, or one started from the
PostgreSQL binaries on this machine (as the postgres user when running as root)."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

from impact_service.redis_server import free_port

__all__ = ["PostgresServer", "postgres_available"]


def _binaries() -> Path | None:
    found = shutil.which("pg_ctl")
    if found:
        return Path(found).resolve().parent
    candidates = sorted(Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"))
    return candidates[-1].parent if candidates else None


def postgres_available() -> str | None:
    """Why PostgreSQL tests cannot run here, or None when they can."""
    if os.environ.get("IMPACT_TEST_POSTGRES_URL"):
        return None
    if _binaries() is None:
        return "no PostgreSQL binaries (pg_ctl) and no IMPACT_TEST_POSTGRES_URL"
    return None


class PostgresServer:
    """initdb + pg_ctl start in a fresh folder under the system temp dir (the postgres user must reach
    it, pytest's per-user temp dir is private); stop() removes it."""

    def __init__(self) -> None:
        self.folder = Path(tempfile.mkdtemp(prefix="gridimpact-pg-"))
        self.port = free_port()
        self.bin = _binaries()
        self._as_postgres = os.geteuid() == 0

    def _run(self, *command: str) -> None:
        argv = list(command)
        if self._as_postgres:  # PostgreSQL refuses to run as root
            argv = ["runuser", "-u", "postgres", "--", *argv]
        subprocess.run(argv, check=True, capture_output=True, timeout=120)

    @property
    def url(self) -> str:
        """SQLAlchemy URL (psycopg 3)."""
        return os.environ.get("IMPACT_TEST_POSTGRES_URL") or f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"

    def start(self) -> PostgresServer:
        """Create the cluster and start the server (no-op with IMPACT_TEST_POSTGRES_URL)."""
        if os.environ.get("IMPACT_TEST_POSTGRES_URL"):
            return self
        assert self.bin is not None
        data = self.folder / "pgdata"
        self.folder.mkdir(parents=True, exist_ok=True)
        if self._as_postgres:
            shutil.chown(self.folder, "postgres", "postgres")
        self._run(str(self.bin / "initdb"), "-D", str(data), "-U", "postgres", "--auth=trust", "--no-sync")
        self.start_server()
        return self

    def start_server(self) -> None:
        """Start (or restart) the server on the same data folder."""
        data = self.folder / "pgdata"
        options = f"-p {self.port} -k {self.folder} -c listen_addresses=127.0.0.1 -c fsync=off"
        self._run(str(self.bin / "pg_ctl"), "-D", str(data), "-o", options, "-l", str(self.folder / "pg.log"), "-w", "start")
        time.sleep(0.2)

    def stop_server(self) -> None:
        """Stop the server (fast shutdown), keeping its data."""
        if os.environ.get("IMPACT_TEST_POSTGRES_URL") or self.bin is None:
            return
        self._run(str(self.bin / "pg_ctl"), "-D", str(self.folder / "pgdata"), "-m", "fast", "-w", "stop")

    def stop(self) -> None:
        """Stop the server and remove its folder."""
        self.stop_server()
        shutil.rmtree(self.folder, ignore_errors=True)
