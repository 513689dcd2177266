"""The name of the machine or container a process runs on, as workers record it in claims and
Celery node names.

Outside Docker it is the host name. Inside a container it is the host name and the container's
short id: on the host network (``docker/compose.host-network.yaml``) every container carries the
host's name, yet each has its own process ids and its own Celery worker, so the name must tell
them apart. ``python -m impact_service.node`` prints it (the worker container's healthcheck).
"""

from __future__ import annotations

import functools
import re
import socket
from pathlib import Path

__all__ = ["node_name"]

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


if __name__ == "__main__":
    print(node_name())
