"""Large studies fan out over the fleet: a real stack with two worker processes splits the outages
of a study into parts, solves them on both workers at once and merges them, with the result of
the same study run in one process; a worker killed mid-part and a cancel mid-fan-out are handled."""

from __future__ import annotations

import os
import signal
from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Any

import pytest

from grid_models.grid import Grid
from grid_models.pipeline import run_study
from grid_models.results import without_timings
from grid_models.spec import StudySpec
from impact_service.client import ApiClient
from impact_service.embedded import Stack
from impact_service.store import parts as part_repo
from impact_service.store import repository as repo
from impact_service.store.db import session_scope
from impact_service.store.models import StudyPart

from .conftest import example, fast_settings, make_key, wait_for

pytestmark = pytest.mark.integration

# parts of ~200,000 outages x buses: 100 outages a part on activsg2000, the whole list on activsg200
PART_BUS_OUTAGES = 200_000

SPRINGFIELD = {
    "name": "fan-out vs one process",
    "grid": {"catalog": "activsg200"},
    "site": {"bus_name": "SPRINGFIELD 5 1"},
    "stages": [{"mw": 150}, {"mw": 300}],
    "analyses": {"contingency": {}, "hosting_capacity": {"max_mw": 1000}, "load_loss": {}},
}


@pytest.fixture(scope="module")
def fleet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    data = tmp_path_factory.mktemp("fleet")
    settings = fast_settings(data, fanout_part_bus_outages=PART_BUS_OUTAGES).model_copy(update={"fanout_hours_per_part": 24})
    stack = Stack(settings=settings, workers=2, beat=True, log_dir=data / "logs")
    stack.start()
    yield stack
    stack.stop()


@pytest.fixture(scope="module")
def client(fleet: Stack) -> Iterator[ApiClient]:
    api = ApiClient(f"http://{fleet.settings.host}:{fleet.settings.port}", make_key(fleet.settings, "fleet"))
    yield api
    api.close()


def abilene(stage_1_mw: float) -> dict[str, Any]:
    """The Abilene example (N-1, N-1 hosting capacity, load loss on activsg2000): 15 parts here."""
    spec = example("abilene_stargate")
    spec["stages"] = [{"mw": stage_1_mw}, {"mw": 600.0}, {"mw": 1200.0}]
    return spec


def _parts(stack: Stack, study_id: str) -> list[StudyPart]:
    with session_scope(stack.settings.database()) as session:
        return list(part_repo.parts_of(session, study_id=study_id))


def test_a_fanned_out_study_gives_the_one_process_result(
    fleet: Stack, client: ApiClient, catalog_grid: Callable[[str], Grid]
) -> None:
    study = client.submit(SPRINGFIELD)
    assert client.wait(study["id"], timeout_s=180)["status"] == "succeeded"
    fanned = client.result(study["id"])
    assert fanned["provenance"]["execution"]["mode"] == "fleet"
    assert fanned["provenance"]["execution"]["parts"] == len(_parts(fleet, study["id"])) == 3
    alone = run_study(StudySpec.model_validate(SPRINGFIELD), catalog_grid("activsg200")).model_dump(mode="json")
    assert alone["provenance"]["execution"]["mode"] == "one process"
    assert without_timings(fanned["contingency"]) == without_timings(alone["contingency"])
    for mine, theirs in zip(fanned["hosting_capacity"]["limits"], alone["hosting_capacity"]["limits"], strict=True):
        assert mine["max_mw"] == pytest.approx(theirs["max_mw"], abs=1e-9)
        assert (mine["binding_element"], mine["binding_outage"]) == (theirs["binding_element"], theirs["binding_outage"])
    assert [f["what"] for f in fanned["findings"]] == [f["what"] for f in alone["findings"]]
    assert without_timings(fanned["load_loss"]) == without_timings(alone["load_loss"])


def test_both_workers_solve_parts_at_the_same_time(fleet: Stack, client: ApiClient) -> None:
    study = client.submit(abilene(201.0))
    seen: list[float] = []
    final = client.wait(study["id"], on_progress=lambda s: seen.append(s["progress"]), poll_s=0.2, timeout_s=300)
    assert final["status"] == "succeeded"
    assert seen == sorted(seen), "progress never goes back"
    parts = _parts(fleet, study["id"])
    assert len(parts) == 15
    assert all(p.status == "done" and p.payload is None for p in parts)
    workers = {p.worker for p in parts}
    assert len(workers) == 2
    spans = [(p.started_at, p.finished_at, p.worker) for p in parts]
    assert any(a[2] != b[2] and _overlap(a, b) for a in spans for b in spans), (
        "parts of the two workers never ran at the same time"
    )
    execution = client.result(study["id"])["provenance"]["execution"]
    assert sorted(execution["workers"]) == sorted(workers)  # type: ignore[type-var]
    first_queued = min(p.queued_at for p in parts)
    last_finished = max(p.finished_at for p in parts if p.finished_at is not None)
    assert execution["parts_s"] == pytest.approx((last_finished - first_queued).total_seconds(), abs=1e-3)
    assert execution["plan_s"] > 0
    assert execution["completion_s"] > 0


def _overlap(a: tuple[datetime | None, datetime | None, Any], b: tuple[datetime | None, datetime | None, Any]) -> bool:
    assert a[0]
    assert a[1]
    assert b[0]
    assert b[1]
    return a[0] < b[1] and b[0] < a[1]


def _running_part(stack: Stack, study_id: str) -> tuple[str, int] | None:
    running = [p for p in _parts(stack, study_id) if p.status == "running" and p.worker]
    return (running[0].id, int(running[0].worker.rsplit(":", 1)[1])) if running else None  # type: ignore[union-attr]


def test_a_worker_killed_mid_part_costs_the_part_not_the_study(fleet: Stack, client: ApiClient) -> None:
    study = client.submit(abilene(202.0))
    part_id, pid = wait_for(lambda: _running_part(fleet, study["id"]), timeout_s=120, every_s=0.05)
    os.kill(pid, signal.SIGKILL)
    assert client.wait(study["id"], timeout_s=300)["status"] == "succeeded"
    parts = {p.id: p for p in _parts(fleet, study["id"])}
    assert parts[part_id].attempts >= 2
    assert not str(parts[part_id].worker).endswith(f":{pid}")
    assert all(p.status == "done" for p in parts.values())
    with session_scope(fleet.settings.database()) as session:
        assert repo.get_result(session, study_id=study["id"]) is not None
    assert client.result(study["id"])["stages"][-1]["facility_p_mw"] == 1200.0


def test_cancel_stops_a_fanned_out_study(fleet: Stack, client: ApiClient) -> None:
    study = client.submit(abilene(203.0))
    wait_for(lambda: any(p.status == "done" for p in _parts(fleet, study["id"])), timeout_s=120, every_s=0.1)
    client.cancel(study["id"])
    final = client.wait(study["id"], timeout_s=60)
    assert final["status"] == "canceled"
    assert final["error"]["code"] == "study_canceled"
    parts = _parts(fleet, study["id"])
    assert any(p.status != "done" for p in parts), "the cancel came too late to test anything"
    assert {p.status for p in parts} <= {"done", "canceled"}, "a canceled study's unsolved parts are marked canceled"
    assert all(p.claim_token is None for p in parts)
    with session_scope(fleet.settings.database()) as session:
        assert repo.get_result(session, study_id=study["id"]) is None


ANNUAL = {
    "name": "two days of 2017, hour by hour",
    "grid": {"catalog": "activsg200"},
    "site": {"bus_name": "CLINTON 1 0"},
    "stages": [{"label": "campus", "mw": 450}],
    "analyses": {"annual": {"hours": [3000, 3048], "window_hours": 24}},
}


def test_an_annual_study_fans_out_in_blocks_of_hours(
    fleet: Stack, client: ApiClient, catalog_grid: Callable[[str], Grid]
) -> None:
    """48 hours in two 24-hour parts on the two workers; the merged year equals the one-process
    run (each 24-hour screening window is solved the same way wherever it runs)."""
    study = client.submit(ANNUAL)
    assert client.wait(study["id"], timeout_s=300)["status"] == "succeeded"
    parts = _parts(fleet, study["id"])
    assert [(p.kind, p.start, p.stop) for p in parts] == [("hours", 3000, 3024), ("hours", 3024, 3048)]
    fanned = client.result(study["id"])
    assert fanned["provenance"]["execution"]["mode"] == "fleet"
    assert fanned["provenance"]["execution"]["parts"] == 2
    alone = run_study(StudySpec.model_validate(ANNUAL), catalog_grid("activsg200")).model_dump(mode="json")
    mine, theirs = fanned["annual"], alone["annual"]
    assert len(mine["hourly_headroom_mw"]) == 48
    assert without_timings(mine) == without_timings(theirs)
    assert mine["energy_balance_max_mw"] < 1e-3
