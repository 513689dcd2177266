"""The embedded stack's secrets and files: the bundled Redis wants a password and refuses the
commands that let a local user write files as its owner (``CONFIG SET dir`` + ``SAVE`` did);
the database, its WAL/SHM files, the logs and Redis's files are readable by their owner only."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
import redis

from impact_service.embedded import Stack
from impact_service.redis_server import DISABLED_COMMANDS

from .conftest import Tenants, small_spec


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_the_bundled_redis_needs_its_password_and_refuses_dangerous_commands(stack: Stack) -> None:
    assert stack.redis is not None
    anonymous = redis.Redis(host="127.0.0.1", port=stack.redis.port, socket_timeout=2)
    with pytest.raises((redis.AuthenticationError, redis.ResponseError)):
        anonymous.ping()
    wrong = redis.Redis(host="127.0.0.1", port=stack.redis.port, password="guess", socket_timeout=2)
    with pytest.raises((redis.AuthenticationError, redis.ResponseError)):
        wrong.ping()
    owner = redis.Redis.from_url(stack.redis.url, socket_timeout=2)
    assert owner.ping()
    for command in ("CONFIG SET dir /tmp", "SAVE", "FLUSHALL", "DEBUG SLEEP 0", "MODULE LIST"):
        with pytest.raises(redis.ResponseError, match="unknown command"):
            owner.execute_command(*command.split())
    assert {"CONFIG", "SAVE", "FLUSHALL", "DEBUG", "MODULE"} <= set(DISABLED_COMMANDS)
    assert stack.redis.password not in " ".join(stack.redis.process.args)  # type: ignore[union-attr, arg-type]


def test_the_stack_files_are_readable_by_their_owner_only(stack: Stack, tenants: Tenants) -> None:
    study = tenants.a.submit(small_spec(name="file modes"))
    assert tenants.a.wait(study["id"], timeout_s=120)["status"] == "succeeded"  # the database has been written to
    data = stack.settings.data_dir
    assert _mode(data) == 0o700
    files = [*data.glob("gridimpact.db*"), *(data / "redis").iterdir()]
    if stack.log_dir is not None:
        files += list(stack.log_dir.glob("*.log"))
    assert any(path.name == "gridimpact.db-wal" for path in files) or any(path.name == "gridimpact.db" for path in files)
    loose = {str(path): oct(_mode(path)) for path in files if path.is_file() and _mode(path) & 0o077}
    assert not loose, f"readable by others: {loose}"
