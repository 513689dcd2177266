"""The name of the machine or container a process runs on, as workers record it in claims and
Celery node names.

Outside Docker it is the host name. Inside a container it is the host name and the container's
short id: on the host network (``docker/compose.host-network.yaml``) every container carries the
host's name, yet each has its own process ids and its own Celery worker, so the name must tell
them apart. ``python -m impact_service.node`` prints it (the worker container's healthcheck).

``die_with`` binds a process to its parent (PR_SET_PDEATHSIG): the children of `gridimpact up`,
the bundled Redis included, stop when `up` dies, even by SIGKILL.
"""

from __future__ import annotations

import ctypes
import functools
import logging
import os
import re
import signal
import socket
import sys
from pathlib import Path

__all__ = ["PARENT_PID_VARIABLE", "die_with", "node_name"]

PARENT_PID_VARIABLE = "IMPACT_PARENT_PID"  # set by `gridimpact up` for its children
_PR_SET_PDEATHSIG = 1
logger = logging.getLogger(__name__)

_CONTAINER_ID = re.compile(r"/containers/([0-9a-f]{64})/")


def _container_id() -> str | None:
    if not Path("/.dockerenv").exists():
        return None
    try:
        found = _CONTAINER_ID.search(Path("/proc/self/mountinfo").read_text())
    except OSError:
        return None
    return found.group(1)[:12] if found else None


@functools.cache
def node_name() -> str:
    """``host`` outside Docker; ``host-<container short id>`` inside (``host`` alone when the
    host name already is the container id, as on a bridge network)."""
    host = socket.gethostname()
    container = _container_id()
    return host if container is None or host.startswith(container) else f"{host}-{container}"


def die_with(parent_pid: int, *, sig: signal.Signals = signal.SIGTERM) -> None:
    """Ask Linux to send ``sig`` to this process when its parent dies (PR_SET_PDEATHSIG, kept
    across exec), and exit at once if ``parent_pid`` is already gone. Elsewhere than Linux: nothing."""
    if not sys.platform.startswith("linux"):
        return
    try:
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, sig)
    except OSError as exc:  # no libc by that name: the supervisor's own stop still applies
        logger.warning("pdeathsig_unavailable error=%s", exc)
        return
    if os.getppid() != parent_pid:  # the parent died before the request took effect
        os.kill(os.getpid(), sig)


def _main(argv: list[str]) -> None:
    """``python -m impact_service.node``: print the node name; ``... exec PARENT_PID PROGRAM [ARGS]``:
    become PROGRAM bound to PARENT_PID (how a program we cannot change, such as the bundled
    redis-server, stops with `gridimpact up`)."""
    if len(argv) >= 3 and argv[0] == "exec":
        die_with(int(argv[1]))
        os.execv(argv[2], argv[2:])
    print(node_name())


if __name__ == "__main__":
    _main(sys.argv[1:])
