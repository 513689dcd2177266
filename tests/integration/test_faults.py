"""Faults against real processes: a worker killed mid-study, Redis restarted with studies queued,
the database briefly down."""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from impact_service.client import ApiClient
from impact_service.embedded import Stack
from impact_service.store import repository as repo
from impact_service.store.db import session_scope

from .conftest import busy_spec, example, fast_settings, make_key, small_spec, wait_for
from .postgres import PostgresServer, postgres_available

pytestmark = pytest.mark.integration


def _client(stack: Stack, tenant: str) -> ApiClient:
    return ApiClient(f"http://{stack.settings.host}:{stack.settings.port}", make_key(stack.settings, tenant))


@pytest.fixture
def fresh_stack(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Stack]:
    """Two workers; fan-out off unless the test is parametrized with a part size."""
    part_bus_outages = getattr(request, "param", 0)
    settings = fast_settings(tmp_path / "stack", fanout_part_bus_outages=part_bus_outages)
    stack = Stack(settings=settings, workers=2, beat=True, log_dir=tmp_path / "logs")
    stack.start()
    yield stack
    stack.stop()


def _holder_pid(stack: Stack, study_id: str) -> int | None:
    with session_scope(stack.settings.database()) as session:
        study = repo.get_study(session, study_id=study_id)
        if study is None or study.status != "running" or not study.worker:
            return None
        return int(study.worker.rsplit(":", 1)[1])


def test_worker_killed_mid_study_the_study_still_succeeds_once(fresh_stack: Stack) -> None:
    client = _client(fresh_stack, "kill")
    study = client.submit(example("abilene_stargate"))
    pid = wait_for(lambda: _holder_pid(fresh_stack, study["id"]), timeout_s=120)
    wait_for(lambda: client.study(study["id"])["progress"] > 0.1, timeout_s=120)
    os.kill(pid, signal.SIGKILL)
    final = client.wait(study["id"], timeout_s=240)
    assert final["status"] == "succeeded"
    with session_scope(fresh_stack.settings.database()) as session:
        row = repo.get_study(session, study_id=study["id"])
        assert row is not None
        assert row.attempts >= 2
        assert row.worker
        assert int(row.worker.rsplit(":", 1)[1]) != pid
        assert repo.get_result(session, study_id=study["id"]) is not None  # one row: study_id is its primary key
    assert client.result(study["id"])["stages"][-1]["facility_p_mw"] == 1200.0


@pytest.mark.parametrize("fresh_stack", [0, 200_000], ids=["one-process", "fan-out"], indirect=True)
def test_redis_restart_loses_no_queued_study(fresh_stack: Stack) -> None:
    """Fanned out, the busy studies' parts are queued in Redis too when it restarts."""
    client = _client(fresh_stack, "redis")
    busy = [client.submit(busy_spec(i)) for i in range(2)]
    queued = [client.submit(small_spec(stages=[{"mw": 60 + i}])) for i in range(3)]
    assert fresh_stack.redis is not None
    fresh_stack.redis.stop()
    fresh_stack.redis.start()
    for study in busy + queued:
        assert client.wait(study["id"], timeout_s=300)["status"] == "succeeded", study["id"]


@pytest.mark.skipif(postgres_available() is not None, reason=str(postgres_available()))
def test_database_briefly_down_answers_503_and_loses_nothing(tmp_path: Path) -> None:
    server = PostgresServer().start()
    stack = Stack(
        settings=fast_settings(tmp_path / "stack").model_copy(update={"database_url": server.url}),
        workers=1,
        log_dir=tmp_path / "logs",
    )
    try:
        stack.start()
        client = _client(stack, "db")
        study = client.submit(example("abilene_stargate"))
        wait_for(lambda: client.study(study["id"])["status"] == "running", timeout_s=120)
        server.stop_server()
        response = httpx.get(
            f"http://{stack.settings.host}:{stack.settings.port}/v1/studies/{study['id']}",
            headers={"X-API-Key": client.http.headers["X-API-Key"]},
        )
        assert response.status_code == 503
        assert response.json()["error"]["code"] == "database_unavailable"
        assert httpx.get(f"http://{stack.settings.host}:{stack.settings.port}/readyz").status_code == 503
        server.start_server()
        assert client.wait(study["id"], timeout_s=300)["status"] == "succeeded"
    finally:
        stack.stop()
        server.stop()


def _pool_children(pid: int) -> list[int]:
    """The pool processes of a worker (its direct children, Linux /proc)."""
    try:
        text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    except OSError:
        return []
    return [int(child) for child in text.split()]


def test_pool_processes_killed_in_a_row_are_replaced_at_once(fresh_stack: Stack) -> None:
    """Warm-up ran in each new pool process (3-4 s) and raced Celery's 4 s start timeout: after one
    pool process was killed, its replacements were killed in turn and the worker sat idle ~40 s."""
    worker = fresh_stack.processes["worker-1"].pid
    assert fresh_stack.log_dir is not None
    log = fresh_stack.log_dir / "worker-1.log"
    wait_for(lambda: "ready." in log.read_text(errors="replace"), timeout_s=60)  # a pool dying during start-up is fatal
    first = wait_for(lambda: _pool_children(worker), timeout_s=60)
    # warm in the main process, before the fork: every pool process inherits the loaded engine
    wait_for(lambda: "lightsim2grid" in Path(f"/proc/{worker}/maps").read_text(), timeout_s=60)
    killed: set[int] = set()
    for _ in range(3):
        current = wait_for(lambda: [c for c in _pool_children(worker) if c not in killed], timeout_s=10)
        for child in current:
            os.kill(child, signal.SIGKILL)
            killed.add(child)
    replacement = wait_for(lambda: [c for c in _pool_children(worker) if c not in killed], timeout_s=10)
    assert replacement
    assert not set(replacement) & set(first)
    os.kill(fresh_stack.processes["worker-0"].pid, signal.SIGSTOP)  # only the worker under test may take the study
    try:
        client = _client(fresh_stack, "pool")
        study = client.submit(small_spec())
        assert client.wait(study["id"], timeout_s=30)["status"] == "succeeded"
    finally:
        os.kill(fresh_stack.processes["worker-0"].pid, signal.SIGCONT)
    assert "Timed out waiting for UP message" not in log.read_text(errors="replace")
