"""The worker's rules run against an in-memory SQLite store (shared cache, so that the heartbeat
thread and the test see one database); nothing is sent to a broker: sends are recorded."""

from __future__ import annotations

import sqlite3
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

import pytest

from impact_service.settings import Settings
from impact_service.store import repository as repo
from impact_service.store.db import session_scope, upgrade_schema


@dataclass
class Sent:
    """Messages the code under test would have sent: (task, id)."""

    messages: list[tuple[str, str]] = field(default_factory=list)

    def of(self, task: str) -> list[str]:
        return [identifier for name, identifier in self.messages if name == task]


@pytest.fixture
def settings(tmp_path: Path) -> Iterator[Settings]:
    name = f"store-{uuid.uuid4().hex}"
    url = f"sqlite+pysqlite:///file:{name}?mode=memory&cache=shared&uri=true"
    keeper = sqlite3.connect(f"file:{name}?mode=memory&cache=shared", uri=True)  # the database lives while this is open
    upgrade_schema(url)
    yield Settings(
        data_dir=tmp_path,
        cache_dir=tmp_path / "cache",
        database_url=url,
        redis_url="redis://unused.invalid:1/0",
        heartbeat_s=0.05,
        stale_after_s=30.0,
        requeue_after_s=60.0,
        max_attempts=3,
    )
    keeper.close()


@pytest.fixture
def sent(monkeypatch: pytest.MonkeyPatch) -> Sent:
    record = Sent()

    def recorder(task: str) -> Callable[..., str]:
        def send(_broker: str, identifier: str, *, buses: int | None = None) -> str:  # noqa: ARG001 - the senders' signature
            record.messages.append((task, identifier))
            return f"task-{len(record.messages)}"

        return send

    monkeypatch.setattr("workers.runner.send_run_study", recorder("send_run_study"))
    monkeypatch.setattr("impact_service.queue.dispatch.send_run_study", recorder("send_run_study"))
    monkeypatch.setattr("workers.fanout.send_run_part", recorder("send_run_part"))
    monkeypatch.setattr("workers.fanout.send_merge", recorder("send_merge"))
    return record


def queued_study(settings: Settings, tenant: str = "t", *, sent: bool = True) -> str:
    """A queued study row of ``tenant`` (its message sent to the broker unless ``sent`` is False)."""
    with session_scope(settings.database()) as session:
        row = repo.ensure_tenant(session, name=tenant)
        study = repo.create_study(
            session,
            tenant_id=row.id,
            spec={"grid": {"catalog": "activsg200"}},
            input_hash="h" * 64,
            grid_key="catalog:activsg200",
            name="rule",
            idempotency_key=None,
        )
        if sent:
            study.task_id = f"sent-{study.id}"
        return study.id


def claimed_study(settings: Settings) -> tuple[str, str]:
    """A running study and its claim token."""
    study_id = queued_study(settings)
    with session_scope(settings.database()) as session:
        token = repo.claim_study(
            session, study_id=study_id, worker="test:1", task_id="task-1", redelivered=False, stale_after=timedelta(seconds=30)
        )
    assert token is not None
    return study_id, token
