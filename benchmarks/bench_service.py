"""Benchmarks of the study service (issue: study service), on the embedded stack.

- status polling under load while both workers are busy with a study: requests/s and p99 latency,
  measured by wrk (Debian package) from a second process (targets >= 500 req/s with p99 < 50 ms at
  4 connections, p99 < 100 ms at 16);
- submit-to-start latency on an idle fleet (target <= 0.5 s);
- end-to-end overhead of the service vs calling run_study in-process (target <= 1 s per study).

Fleet scaling (one worker vs two) is measured by ``bench_fleet.py``.

Run: ``.venv/bin/python benchmarks/bench_service.py``.
"""

from __future__ import annotations

import json
import re
import shutil
import statistics
import subprocess
import tempfile
import time
import warnings
from datetime import datetime
from pathlib import Path

from grid_models.catalog.registry import load_catalog_grid
from grid_models.pipeline import run_study
from grid_models.spec import StudySpec
from impact_service.client import ApiClient
from impact_service.embedded import Stack, local_api_key
from impact_service.redis_server import free_port
from impact_service.settings import Settings

warnings.simplefilter("ignore")
ROOT = Path(__file__).parents[1]


def _spec(mw: float) -> dict[str, object]:
    return {"grid": {"catalog": "activsg2000"}, "site": {"bus_name": "ABILENE 1 0"}, "stages": [{"mw": mw}]}


def _seconds(start: str, end: str) -> float:
    return (datetime.fromisoformat(end) - datetime.fromisoformat(start)).total_seconds()


def _latencies(client: ApiClient, cache: Path) -> tuple[list[float], list[float], float]:
    """Submit-to-start and service time of small studies, and the in-process time of the same study."""
    start_latency, service = [], []
    for number in range(5):
        submitted = time.perf_counter()
        study = client.submit(_spec(100.0 + number))
        while client.study(study["id"])["status"] == "queued":
            time.sleep(0.01)
        start_latency.append(time.perf_counter() - submitted)
        final = client.wait(study["id"], poll_s=0.02)
        service.append(time.perf_counter() - submitted)
        if final["status"] != "succeeded":
            raise SystemExit(f"the benchmark study did not succeed: {final}")
    grid = load_catalog_grid("activsg2000", cache_dir=cache)
    run_study(StudySpec.model_validate(_spec(99.0)), grid)  # warm
    began = time.perf_counter()
    run_study(StudySpec.model_validate(_spec(104.0)), grid)
    return start_latency, service, time.perf_counter() - began


def _wrk(url: str, key: str, *, connections: int, seconds: int = 10) -> tuple[float, float]:
    """Requests per second and p99 latency (ms) from wrk (closed loop: each connection sends its next
    request when the previous answer arrives, so more connections push the server into saturation)."""
    wrk = shutil.which("wrk")
    if wrk is None:
        raise SystemExit("install wrk (Debian package 'wrk') to measure polling throughput")
    out = subprocess.run(
        [wrk, "-t1", f"-c{connections}", f"-d{seconds}s", "--latency", "-H", f"X-API-Key: {key}", url],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    p99 = re.search(r"99%\s+([\d.]+)(us|ms|s)", out)
    if p99 is None:
        raise SystemExit(f"wrk printed no 99th percentile:\n{out}")
    scale = {"us": 0.001, "ms": 1.0, "s": 1000.0}[p99.group(2)]
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if errors:
        print(f"  wrk saw {errors.group(1)} non-2xx responses")
    return rps, float(p99.group(1)) * scale


def main() -> None:
    data = Path(tempfile.mkdtemp(prefix="gridimpact-bench-service-"))
    settings = Settings(data_dir=data, cache_dir=data / "cache", database_url=None, redis_url=None, port=free_port())
    stack = Stack(settings=settings, workers=2, log_dir=data / "logs")
    stack.start().close()
    try:
        key = local_api_key(stack.settings)
        client = ApiClient(f"http://{settings.host}:{settings.port}", key)
        start_latency, service, direct = _latencies(client, settings.cache_dir)
        print(f"{'benchmark':52} {'measured':>12}  target")
        print(f"{'submit-to-start latency, idle fleet (median of 5)':52} {statistics.median(start_latency):10.3f} s  <= 0.5 s")
        overhead = statistics.median(service) - direct
        print(f"{'service overhead vs run_study in-process (median)':52} {overhead:10.3f} s  <= 1 s  (run_study {direct:.3f} s)")
        done = client.submit(_spec(90.0))
        client.wait(done["id"], poll_s=0.05)
        for connections in (4, 16):  # the same polling on an idle fleet: what the busy workers add
            rps, p99 = _wrk(f"http://{settings.host}:{settings.port}/v1/studies/{done['id']}", key, connections=connections)
            print(f"{f'status polling, idle fleet, {connections} conn':52} {rps:8.0f} r/s  p99 {p99:6.1f} ms")
        for threads in (2, 1):  # the batch N-1 solver of the busy studies uses 2 threads (both cores) or 1
            busy = []
            for number in range(2):  # both workers busy
                spec = json.loads((ROOT / "examples" / "abilene_stargate.json").read_text())
                spec["analyses"]["contingency"]["threads"] = threads
                spec["name"] = f"busy {number}"
                busy.append(client.submit(spec))
            while any(client.study(b["id"])["status"] != "running" for b in busy):
                time.sleep(0.05)
            for connections, target_ms in ((4, 50), (16, 100)):
                url = f"http://{settings.host}:{settings.port}/v1/studies/{busy[0]['id']}"
                rps, p99 = _wrk(url, key, connections=connections)
                label = f"status polling, 2 workers busy ({threads} thread(s) each), {connections} conn"
                print(f"{label:52} {rps:8.0f} r/s  >= 500 r/s, p99 {p99:6.1f} ms (< {target_ms} ms)")
            for b in busy:
                client.cancel(b["id"])
                client.wait(b["id"])
    finally:
        stack.stop()


if __name__ == "__main__":
    main()
