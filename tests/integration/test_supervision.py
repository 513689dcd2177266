"""``gridimpact up``'s supervisor against SIGKILL: a killed worker, API or bundled Redis is started
again (with a back-off, and said), and a study submitted while the broker was down runs within
seconds of its return (it used to wait for the sweeper's re-send: 129 s measured)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from impact_service.client import ApiClient
from impact_service.embedded import Stack
from impact_service.redis_server import free_port
from impact_service.supervisor import Supervisor

from .conftest import fast_settings, make_key, small_spec, wait_for

pytestmark = pytest.mark.integration


class _Running:
    """A supervisor ticking in a thread (as ``up`` does in its main loop); ``paused`` holds it."""

    def __init__(self, stack: Stack) -> None:
        self.said: list[str] = []
        self.supervisor = Supervisor(stack, say=self.said.append)
        self.paused = threading.Event()
        self.done = threading.Event()
        self.thread = threading.Thread(target=self._loop, daemon=True)

    def _loop(self) -> None:
        while not self.done.is_set():
            if not self.paused.is_set():
                self.supervisor.tick()
            time.sleep(0.2)


@pytest.fixture
def supervised(tmp_path: Path) -> Iterator[tuple[Stack, _Running]]:
    settings = fast_settings(tmp_path / "stack").model_copy(update={"requeue_after_s": 600.0})
    stack = Stack(settings=settings, workers=1, beat=False, log_dir=tmp_path / "logs")  # no sweeper: only up re-sends
    stack.start()
    running = _Running(stack)
    running.thread.start()
    yield stack, running
    running.done.set()
    running.thread.join(timeout=5)
    stack.stop()


def _client(stack: Stack) -> ApiClient:
    return ApiClient(f"http://{stack.settings.host}:{stack.settings.port}", make_key(stack.settings, "supervised"))


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"  # a zombie is dead, only not yet reaped


def _children(pid: int) -> list[int]:
    try:
        return [int(child) for child in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


def _replaced(stack: Stack, name: str, old_pid: int) -> bool:
    process = stack.processes[name]
    return process.pid != old_pid and process.poll() is None


def test_killed_children_are_started_again_and_said(supervised: tuple[Stack, _Running]) -> None:
    stack, running = supervised
    pool = wait_for(lambda: _children(stack.processes["worker-0"].pid), timeout_s=60)
    for name in ("worker-0", "api"):
        old = stack.processes[name].pid
        os.kill(old, signal.SIGKILL)
        wait_for(lambda name=name, old=old: _replaced(stack, name, old), timeout_s=30)
        assert any(text.startswith(f"{name} stopped (exit code -9)") for text in running.said), running.said
        assert any(text.startswith(f"{name} started again") for text in running.said), running.said
    wait_for(lambda: not any(_alive(pid) for pid in pool), timeout_s=10)  # no orphaned pool process
    client = _client(stack)
    wait_for(client.ready, timeout_s=30)
    study = client.submit(small_spec(name="after the restarts"))
    assert client.wait(study["id"], timeout_s=120)["status"] == "succeeded"


def test_a_study_submitted_while_redis_was_down_runs_within_seconds_of_its_return(
    supervised: tuple[Stack, _Running],
) -> None:
    stack, running = supervised
    assert stack.redis is not None
    client = _client(stack)
    running.paused.set()  # hold the restart until the study has been submitted into the outage
    assert stack.redis.process is not None
    os.kill(stack.redis.process.pid, signal.SIGKILL)
    stack.redis.process.wait()
    study = client.submit(small_spec(name="during the outage"))
    assert client.study(study["id"])["status"] == "queued"
    running.paused.clear()
    wait_for(lambda: stack.redis is not None and stack.redis.process is not None and stack.redis.process.poll() is None)
    back = time.monotonic()
    wait_for(lambda: client.study(study["id"])["status"] != "queued", timeout_s=30)
    assert time.monotonic() - back < 15.0  # the sweeper would re-send it only after requeue_after_s (600 s here)
    assert client.wait(study["id"], timeout_s=120)["status"] == "succeeded"
    assert any("redis stopped" in text for text in running.said)
    assert any("queued stud" in text for text in running.said)


def test_a_killed_up_takes_its_children_along(tmp_path: Path) -> None:
    """SIGKILL of `gridimpact up` itself: its API, worker and their pool processes stop too (a
    worker left behind by a killed `up` kept taking the stack's studies)."""
    port = free_port()
    env = {**os.environ, "IMPACT_DATA_DIR": str(tmp_path / "data"), "IMPACT_CACHE_DIR": str(tmp_path / "cache")}
    env.pop("IMPACT_DATABASE_URL", None)
    env.pop("IMPACT_REDIS_URL", None)
    with (tmp_path / "up.log").open("wb") as log:
        up = subprocess.Popen(
            [sys.executable, "-m", "impact_service.cli", "up", "--workers", "1", "--port", str(port)],
            env=env, stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip
        try:
            client = ApiClient(f"http://127.0.0.1:{port}", None)
            assert wait_for(client.ready, timeout_s=120), (tmp_path / "up.log").read_text()[-2000:]
            family = _children(up.pid)
            family += [grandchild for child in family for grandchild in _children(child)]
            assert len(family) >= 3  # API, worker, its pool process (and the bundled Redis)
        finally:
            up.kill()
            up.wait()
    gone = wait_for(lambda: not any(_alive(pid) for pid in family), timeout_s=30)
    assert gone, [pid for pid in family if _alive(pid)]
