"""Recovery of ``gridimpact up`` (issue: exact limits and a hardened service, measured section).

``gridimpact up --workers 2`` runs as a separate process (its supervisor restarts what dies). For
each victim in turn (a worker's main process, the API, the bundled Redis): six studies are
submitted (the Abilene example's N-0 stages, ~5 s each), and once two are running the victim is
killed with SIGKILL. Measured: the time from the kill until the API answers again and the fleet is
running studies again (a study queued at the kill has started, or every study has finished),
target under 15 s; then every study must finish exactly once (one result row, status succeeded).

Run: ``.venv/bin/python benchmarks/bench_recovery.py``.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from impact_service.client import ApiClient
from impact_service.embedded import local_api_key
from impact_service.redis_server import free_port
from impact_service.settings import Settings
from impact_service.store import repository as repo
from impact_service.store.db import session_scope

ROOT = Path(__file__).parents[1]
TARGET_S = 15.0


def _children(pid: int) -> list[int]:
    """Every descendant of a process (Linux /proc)."""
    found, frontier = [], [pid]
    while frontier:
        current = frontier.pop()
        try:
            kids = [int(k) for k in Path(f"/proc/{current}/task/{current}/children").read_text().split()]
        except OSError:
            kids = []
        found += kids
        frontier += kids
    return found


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def _victim(up: int, kind: str) -> int:
    for pid in _children(up):
        line = _cmdline(pid)
        parent = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1] if Path(f"/proc/{pid}").exists() else ""
        if kind == "redis" and "redis-server" in line:
            return pid
        if kind == "api" and "impact_service.cli api" in line:
            return pid
        if kind == "worker" and "celery" in line and " worker " in line and parent == str(up):
            return pid  # the worker's main process (its pool processes are its children)
    raise SystemExit(f"no {kind} process under gridimpact up ({up})")


def _spec(number: int, victim: str) -> dict[str, Any]:
    spec = json.loads((ROOT / "examples" / "abilene_stargate.json").read_text())
    spec["name"] = f"recovery {victim} {number}"
    spec["analyses"] = {}
    offset = ("worker", "api", "redis").index(victim) * 10 + number  # distinct specs: a repeat would return the earlier study
    spec["stages"] = [{"label": f"stage {n}", "mw": 200 * n + offset} for n in (1, 2, 3)]
    return dict(spec)


def _statuses(client: ApiClient, ids: list[str]) -> list[str]:
    while True:
        try:
            return [client.study(i)["status"] for i in ids]
        except Exception:  # noqa: BLE001 - the API is down (being restarted): ask again
            time.sleep(0.1)


def _recovery(up: int, client: ApiClient, victim: str) -> tuple[float, list[str]]:
    ids = [client.submit(_spec(n, victim))["id"] for n in range(6)]
    deadline = time.monotonic() + 120
    while _statuses(client, ids).count("running") < 2:
        if time.monotonic() > deadline:
            raise SystemExit(f"two of the {victim} round's studies never ran at once: {_statuses(client, ids)}")
        time.sleep(0.05)
    queued = [i for i, s in zip(ids, _statuses(client, ids), strict=True) if s == "queued"]
    os.kill(_victim(up, victim), signal.SIGKILL)
    killed = time.monotonic()
    while True:
        statuses = dict(zip(ids, _statuses(client, ids), strict=True))
        moving = any(statuses[i] != "queued" for i in queued) or all(s == "succeeded" for s in statuses.values())
        if moving:
            break
        time.sleep(0.05)
    recovered = time.monotonic() - killed
    for study_id in ids:
        client.wait(study_id, timeout_s=600)
    return recovered, ids


def main() -> None:
    data = Path(tempfile.mkdtemp(prefix="gridimpact-bench-recovery-"))
    port = free_port()
    env = {**os.environ, "IMPACT_DATA_DIR": str(data), "IMPACT_CACHE_DIR": str(Path.home() / ".cache" / "gridimpact")}
    env.pop("IMPACT_DATABASE_URL", None)
    env.pop("IMPACT_REDIS_URL", None)
    log = (data / "up.log").open("wb")
    up = subprocess.Popen(
        [sys.executable, "-m", "impact_service.cli", "up", "--workers", "2", "--port", str(port)],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    settings = Settings(data_dir=data, database_url=None)
    try:
        client = ApiClient(f"http://127.0.0.1:{port}", None)
        while not client.ready():
            time.sleep(0.2)
        time.sleep(3.0)  # the workers' warm-up
        client = ApiClient(f"http://127.0.0.1:{port}", local_api_key(settings))
        print(f"{'SIGKILL of':22} {'back to work':>14}  {'target':>10}  every study once")
        for victim in ("worker", "api", "redis"):
            seconds, ids = _recovery(up.pid, client, victim)
            with session_scope(settings.database()) as session:
                rows = [repo.get_study(session, study_id=i) for i in ids]
                results = [repo.get_result(session, study_id=i) for i in ids]
                once = all(r is not None and r.status == "succeeded" for r in rows) and all(r is not None for r in results)
                attempts = sum(r.attempts for r in rows if r is not None)
            verdict = "meets" if seconds < TARGET_S else "MISSES"
            print(f"{victim:22} {seconds:12.1f} s  < {TARGET_S:.0f} s {verdict:6}  {once} ({attempts} claims for 6)")
    finally:
        up.send_signal(signal.SIGINT)
        try:
            up.wait(timeout=60)
        except subprocess.TimeoutExpired:
            up.kill()
        print(f"(the supervisor's log: {data / 'up.log'})")


if __name__ == "__main__":
    main()
