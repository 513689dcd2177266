"""A pool process dies with its worker's main process, and only then: in a container the main
process is pid 1, and a pool process that took a parent of pid 1 for a dead parent killed itself
at birth (every worker container failed with "Could not start worker processes")."""

from __future__ import annotations

import shutil
import subprocess
import sys

import pytest

_CHILD = """
import os, signal, sys
from workers import liveness
{setup}
pid = os.fork()
if pid == 0:
    liveness.die_with_parent()
    os._exit(0)
_, status = os.waitpid(pid, 0)
print("killed" if os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL else "alive")
"""


def _child_fate(setup: str, *, prefix: tuple[str, ...] = ()) -> str:
    argv = [*prefix, sys.executable, "-c", _CHILD.format(setup=setup)]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def test_a_pool_process_of_a_live_main_process_lives() -> None:
    assert _child_fate("liveness.remember_main_process()") == "alive"


def test_a_pool_process_whose_main_process_is_gone_dies() -> None:
    assert _child_fate("liveness._main_pid = 999_999_999") == "killed"


@pytest.mark.skipif(shutil.which("unshare") is None, reason="needs util-linux unshare")
def test_a_main_process_of_pid_1_keeps_its_pool() -> None:
    """As in a container: the worker's main process is pid 1 of its own pid namespace."""
    probe = subprocess.run(["unshare", "--pid", "--fork", "--mount-proc", "true"], capture_output=True, timeout=30, check=False)
    if probe.returncode != 0:
        pytest.skip(f"no pid namespace here: {probe.stderr.decode().strip()}")
    assert (
        _child_fate(
            "assert os.getpid() == 1\nliveness.remember_main_process()", prefix=("unshare", "--pid", "--fork", "--mount-proc")
        )
        == "alive"
    )
