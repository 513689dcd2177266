"""The worker fleet in Docker, through the published API: a key made the documented way, the
Abilene example to completion (JSON, NetCDF, report), three workers sharing a fanned-out study, a
worker container killed mid-part, the broker restarted with studies queued, and the whole stack
taken down and brought up again on the same volumes. The tests run in order on one stack (conftest.py)."""

from __future__ import annotations

import json
import re
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from grid_models.results import without_timings

from .conftest import REPO, Fleet

pytestmark = pytest.mark.docker

_STUDY_TIMEOUT_S = 900
_ids: dict[str, str] = {}


def _abilene(name: str, *, tag: str = "") -> dict[str, Any]:
    """The Abilene example; a ``tag`` on the stage labels makes it another study (an identical
    resubmission returns the earlier one; names do not count) with the same physics."""
    spec: dict[str, Any] = json.loads((REPO / "examples" / "abilene_stargate.json").read_text())
    spec["name"] = name
    for stage in spec["stages"]:
        stage["label"] += tag
    return spec


def _same_answer(result: dict[str, Any], reference: dict[str, Any], *, tag: str) -> None:
    """Everything the engine computed is equal, timings and the tagged labels aside."""
    for key in ("base_case", "stages", "contingency", "hosting_capacity", "load_loss", "environment"):
        mine, theirs = (json.dumps(without_timings(document.get(key))) for document in (result, reference))
        assert mine.replace(tag, "") == theirs, key


def _nodes(result: dict[str, Any]) -> set[str]:
    """The nodes (host or container) of the workers that solved the parts (``node:pid``)."""
    return {worker.rpartition(":")[0] for worker in result["provenance"]["execution"]["workers"]}


def _worker_ids(fleet: Fleet) -> dict[str, str]:
    """Short container id -> container name, for the running worker containers."""
    return {fleet.container_id(name)[:12]: name for name in fleet.containers("worker")}


def _container_of(node: str, workers: dict[str, str]) -> str | None:
    return next((name for short, name in workers.items() if short in node), None)


def test_a_key_made_the_documented_way_runs_the_abilene_example(fleet: Fleet, tmp_path: Path) -> None:
    out = fleet.compose("run", "--rm", "migrate", "gridimpact", "keys", "create", "--tenant", "acme")
    fleet.key = out.strip().splitlines()[-1]
    assert re.fullmatch(r"[A-Za-z0-9_\-]{20,}", fleet.key), out
    client = fleet.client()
    response = client.http.post("/v1/studies", json=_abilene("Abilene in Docker"))
    # 202: a new study, not an earlier run's (200). Its status may already be "running": the
    # answer is read back after the task is sent, and a worker can claim it in between
    assert response.status_code == 202, response.text
    study = response.json()
    assert study["status"] in ("queued", "running")
    _ids["abilene"] = study["id"]
    final = client.wait(study["id"], timeout_s=_STUDY_TIMEOUT_S)
    assert final["status"] == "succeeded", final
    result = client.result(study["id"])
    assert [stage["facility_p_mw"] for stage in result["stages"]] == [200, 600, 1200]
    assert result["provenance"]["execution"]["mode"] == "fleet"
    netcdf = client.result_netcdf(study["id"])
    assert netcdf[:4] in (b"\x89HDF", b"CDF\x01", b"CDF\x02"), netcdf[:8]
    report = client.report(study["id"])
    assert "Abilene in Docker" in report
    assert "ABILENE 1 0" in report
    (tmp_path / "result.nc").write_bytes(netcdf)  # readable as NetCDF, not only a header
    import xarray as xr

    with xr.open_dataset(tmp_path / "result.nc") as dataset:
        assert dataset.sizes  # at least one dimension with data


def test_flower_asks_for_its_password_and_redis_keeps_an_append_only_file(fleet: Fleet) -> None:
    url = f"http://127.0.0.1:{fleet.flower_port}/api/workers?refresh=1"  # refresh: ask the workers now
    assert httpx.get(url, timeout=30).status_code == 401
    deadline, seen = time.monotonic() + 60, dict[str, Any]()
    while not seen and time.monotonic() < deadline:
        answer = httpx.get(url, auth=("admin", fleet.passwords["FLOWER_PASSWORD"]), timeout=30)
        assert answer.status_code == 200
        seen = answer.json()
        time.sleep(2)
    assert any(name.startswith("worker@") for name in seen), seen  # it sees the fleet
    files = fleet.engine.docker("exec", fleet.containers("redis")[0], "sh", "-c", "ls -R /data")
    assert "appendonly" in files, files
    refused = fleet.engine.docker("exec", fleet.containers("redis")[0], "redis-cli", "ping", check=False)
    assert "NOAUTH" in refused, refused  # a password is required


def test_three_workers_share_a_fanned_out_study(fleet: Fleet) -> None:
    fleet.compose("up", "-d", "--no-build", "--no-recreate", "--scale", "worker=3")
    fleet.wait_ready(workers=3)
    client = fleet.client()
    study = client.submit(_abilene("Abilene on three containers", tag=" (3 workers)"))
    assert client.wait(study["id"], timeout_s=_STUDY_TIMEOUT_S)["status"] == "succeeded"
    result = client.result(study["id"])
    execution = result["provenance"]["execution"]
    workers = _worker_ids(fleet)
    containers = {_container_of(node, workers) for node in _nodes(result)}
    assert execution["parts"] > 3
    assert None not in containers, (_nodes(result), workers)  # every worker named is one of the containers
    assert len(containers) >= 2, execution
    _same_answer(result, client.result(_ids["abilene"]), tag=" (3 workers)")


def test_a_killed_worker_container_costs_only_its_part(fleet: Fleet) -> None:
    client = fleet.client()
    study = client.submit(_abilene("Abilene with a worker killed", tag=" (killed)"))
    deadline, running = time.monotonic() + 300, list[Any]()
    while not running and time.monotonic() < deadline:
        running = fleet.sql(f"select id, worker from study_parts where study_id = '{study['id']}' and status = 'running'")
        time.sleep(0.2)
    assert running, "no part of the study ever ran"
    part_id, worker = running[0]
    victim = _container_of(worker.rpartition(":")[0], _worker_ids(fleet))
    assert victim is not None, worker
    fleet.engine.docker("kill", victim)
    final = client.wait(study["id"], timeout_s=_STUDY_TIMEOUT_S)
    assert final["status"] == "succeeded", final
    parts = fleet.sql(f"select status, attempts from study_parts where study_id = '{study['id']}'")
    assert {status for status, _ in parts} == {"done"}
    assert int(dict(fleet.sql(f"select id, attempts from study_parts where id = '{part_id}'"))[part_id]) >= 2
    assert fleet.sql(f"select count(*) from study_results where study_id = '{study['id']}'") == [["1"]]
    _same_answer(client.result(study["id"]), client.result(_ids["abilene"]), tag=" (killed)")  # solved once, the same answer
    fleet.compose("up", "-d", "--no-build", "--scale", "worker=3")  # the killed container comes back


def _broker_lists(fleet: Fleet) -> dict[str, int]:
    """Every list in Redis (the task queues) and its length."""
    script = ('for k in $(redis-cli --scan); do [ "$(redis-cli type "$k")" = list ] && echo "$k $(redis-cli llen "$k")"; done; '
              "true")  # fmt: skip
    redis = fleet.containers("redis")[0]
    out = fleet.engine.docker("exec", "-e", f"REDISCLI_AUTH={fleet.passwords['REDIS_PASSWORD']}", redis, "sh", "-c", script)
    return {key: int(length) for key, length in (line.rsplit(" ", 1) for line in out.splitlines() if line.strip())}


def test_a_broker_restart_loses_no_queued_study(fleet: Fleet) -> None:
    client = fleet.client()
    ids = [client.submit(_abilene(f"Queued through a broker restart {n}") | {"stages": [{"mw": 300 + n}, {"mw": 900}]})["id"]
           for n in range(5)]  # fmt: skip
    queued = [row[0] for row in fleet.sql("select id from studies where status = 'queued'") if row[0] in ids]
    assert queued, "every study had started before the restart: nothing was tested"
    workers = fleet.containers("worker")
    fleet.engine.docker("pause", *workers)  # nothing takes a message while the broker restarts
    try:
        time.sleep(2)  # the append-only file is written every second (appendfsync everysec)
        waiting = _broker_lists(fleet)
        assert sum(waiting.values()) >= 1, f"no message waited in Redis: the restart tested nothing ({waiting})"
        fleet.compose("restart", "redis")
        assert _broker_lists(fleet) == waiting  # the broker itself kept them (its append-only file)
    finally:
        fleet.engine.docker("unpause", *workers)
    for study_id in ids:
        assert client.wait(study_id, timeout_s=_STUDY_TIMEOUT_S)["status"] == "succeeded", study_id
    assert fleet.sql(f"select count(*) from study_results where study_id in ({', '.join(repr(i) for i in ids)})") == [["5"]]


def test_studies_and_keys_survive_a_stop_and_start_of_the_stack(fleet: Fleet) -> None:
    old = {name: fleet.container_id(name) for service in ("api", "postgres", "redis") for name in fleet.containers(service)}
    fleet.compose("down", "--timeout", "30")  # containers and network removed; the named volumes stay
    fleet.compose("up", "-d", "--no-build", "--scale", "worker=2")
    new = {fleet.container_id(name) for service in ("api", "postgres", "redis") for name in fleet.containers(service)}
    assert not new & set(old.values()), "the stack came back in the same containers: the volumes were not tested"
    fleet.wait_ready(workers=2)
    client = fleet.client()  # the key made before the stop
    study = client.study(_ids["abilene"])
    assert study["status"] == "succeeded"
    assert client.result(_ids["abilene"])["provenance"]["execution"]["mode"] == "fleet"
    fresh = client.submit(_abilene("Abilene after a restart") | {"stages": [{"mw": 250}]})
    assert client.wait(fresh["id"], timeout_s=_STUDY_TIMEOUT_S)["status"] == "succeeded"


def test_the_runtime_image_holds_no_compiler_pip_or_test_suite(fleet: Fleet) -> None:
    """The multi-stage image's runtime stage, checked in a container of the image itself."""
    script = (
        "id -u; for tool in gcc cc g++ make pip pip3; do command -v $tool; done; "
        "find / -xdev -type d -name tests -path '*site-packages*' 2>/dev/null | head -5; "
        "ls /src 2>/dev/null | head -3; true"
    )
    out = fleet.engine.docker("run", "--rm", "--entrypoint", "sh", "gridimpact:latest", "-c", script)
    lines = out.split()
    assert lines[0] == "10001", out  # the non-root user of the Dockerfile
    assert lines[1:] == [], f"the runtime image holds build tools, test suites or sources:\n{out}"
