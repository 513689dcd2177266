"""Fleet scaling (issue: study service): the activsg2000 full N-1 study (every line, transformer
and generator out, at the base case and the three Abilene stages) on the embedded stack with
one worker process and with two, plus the same study with fan-out off (one process solves all).

Each configuration runs on a fresh stack; the time is submit to ``succeeded`` as the client sees
it. The batch N-1 solver itself uses ``threads`` threads, so on this 2-core machine a single
worker already keeps both cores busy during its batch solves: the study is also timed with
``threads: 1``, where the fleet is the only source of parallelism.

Run: ``.venv/bin/python benchmarks/bench_fleet.py``.
"""

from __future__ import annotations

import json
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

from grid_models.results import without_timings
from impact_service.client import ApiClient
from impact_service.embedded import Stack, local_api_key
from impact_service.redis_server import free_port
from impact_service.settings import Settings

warnings.simplefilter("ignore")
ROOT = Path(__file__).parents[1]


def _spec(threads: int) -> dict[str, Any]:
    spec = json.loads((ROOT / "examples" / "abilene_stargate.json").read_text())
    spec["name"] = f"full N-1, {threads} solver thread(s)"
    spec["analyses"] = {"contingency": {"study_area": {"mode": "whole_grid"}, "threads": threads}}
    return dict(spec)


def _run(spec: dict[str, Any], *, workers: int, fanout: bool, cache: Path) -> tuple[float, dict[str, Any]]:
    data = Path(tempfile.mkdtemp(prefix="gridimpact-bench-fleet-"))
    settings = Settings(
        data_dir=data,
        cache_dir=cache,
        database_url=None,
        redis_url=None,
        port=free_port(),
        fanout_part_bus_outages=Settings().fanout_part_bus_outages if fanout else 0,
    )
    stack = Stack(settings=settings, workers=workers, log_dir=data / "logs")
    stack.start().close()
    try:
        client = ApiClient(f"http://{settings.host}:{settings.port}", local_api_key(stack.settings))
        time.sleep(3.0)  # let every worker finish its warm-up
        began = time.perf_counter()
        study = client.submit(spec)
        final = client.wait(study["id"], poll_s=0.1)
        elapsed = time.perf_counter() - began
        if final["status"] != "succeeded":
            raise SystemExit(f"the benchmark study did not succeed: {final}")
        return elapsed, client.result(study["id"])
    finally:
        stack.stop()


def main() -> None:
    cache = Path.home() / ".cache" / "gridimpact"
    print(f"{'activsg2000 full N-1 (4 stages)':44} {'one process':>12} {'1 worker':>10} {'2 workers':>10} {'ratio 1/2':>10}")
    for threads in (2, 1):
        spec = _spec(threads)
        alone, result = _run(spec, workers=1, fanout=False, cache=cache)
        one, _ = _run(spec, workers=1, fanout=True, cache=cache)
        two, fleet = _run(spec, workers=2, fanout=True, cache=cache)
        outages = result["contingency"]["contingencies"]
        parts = fleet["provenance"]["execution"]["parts"]
        label = f"{outages:,} outages, {parts} parts, {threads} solver thread(s)"
        same = without_timings(result["contingency"]) == without_timings(fleet["contingency"])
        print(f"{label:44} {alone:10.1f} s {one:8.1f} s {two:8.1f} s {one / two:9.2f}x  same N-1 result: {same}")


if __name__ == "__main__":
    main()
