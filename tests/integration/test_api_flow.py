"""The study service over HTTP against real processes: submit, poll, results, idempotency,
tenants, cancel, uploads, errors, health and metrics."""

from __future__ import annotations

import io
import os
import subprocess
import sys
import time
import zipfile
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pandapower as pp
import pandapower.networks as pn
import pytest
import xarray as xr
from openpyxl import load_workbook

from grid_models.catalog.matpower_text import parse_matpower_text
from grid_models.catalog.registry import catalog_file
from grid_models.results import without_timings
from impact_service.client import ApiError
from impact_service.embedded import Stack
from impact_service.store import repository as repo
from impact_service.store.db import session_scope
from impact_service.store.models import utcnow

from ..unit.catalog.raw_writer import write_raw
from .conftest import Tenants, busy_spec, new_study, small_spec, wait_for

pytestmark = pytest.mark.integration


def test_submit_poll_and_fetch_results(tenants: Tenants, tmp_path: Path) -> None:
    response = httpx.post(
        f"{tenants.base_url}/v1/studies",
        json=small_spec(name="flow"),
        headers={"X-API-Key": tenants.a.http.headers["X-API-Key"]},
    )
    assert response.status_code == 202
    study = response.json()
    assert response.headers["Location"] == f"/v1/studies/{study['id']}"
    assert study["status"] in ("queued", "running")
    seen = set()
    final = tenants.a.wait(study["id"], on_progress=lambda s: seen.add(s["status"]), poll_s=0.1, timeout_s=120)
    assert final["status"] == "succeeded"
    assert final["progress"] == 1.0
    assert final["finished_at"]
    result = tenants.a.result(study["id"])
    assert [s["facility_p_mw"] for s in result["stages"]] == [50.0, 120.0]
    assert result["provenance"]["grid_checksum"]
    assert result["findings"]
    netcdf = tmp_path / "result.nc"
    netcdf.write_bytes(tenants.a.result_netcdf(study["id"]))
    with xr.open_dataset(netcdf) as data:
        assert data.sizes["stage"] == 3
    report = tenants.a.http.get(f"/v1/studies/{study['id']}/report")
    assert report.status_code == 200
    assert report.headers["content-type"].startswith("text/html")
    assert 'id="findings-summary"' in report.text
    assert "flow" in report.text
    assert tenants.a.report(study["id"]) == report.text  # the second request reads the stored page
    assert tenants.b.http.get(f"/v1/studies/{study['id']}/report").status_code == 404
    _tables_download(tenants, study["id"], result, tmp_path)
    listed = tenants.a.http.get("/v1/studies", params={"status": "succeeded"}).json()
    assert study["id"] in [s["id"] for s in listed["items"]]


def _tables_download(tenants: Tenants, study_id: str, result: dict[str, Any], tmp_path: Path) -> None:
    """The result's tables from the API and from `gridimpact result --format`, with the result's values."""
    xlsx = tenants.a.http.get(f"/v1/studies/{study_id}/result.xlsx")
    assert xlsx.status_code == 200
    assert xlsx.headers["content-type"].startswith("application/vnd.openxmlformats-officedocument.spreadsheetml")
    workbook = load_workbook(io.BytesIO(xlsx.content), read_only=True)
    assert {"overview", "stages", "findings", "provenance"} <= set(workbook.sheetnames)
    stages = list(workbook["stages"].iter_rows(values_only=True))
    column = stages[0].index("facility_p_mw (MW)")
    assert [row[column] for row in stages[2:]] == [s["facility_p_mw"] for s in result["stages"]]
    archive = zipfile.ZipFile(io.BytesIO(tenants.a.result_tables(study_id, "csv")))
    assert "stages.csv" in archive.namelist()
    assert tenants.b.http.get(f"/v1/studies/{study_id}/result.xlsx").status_code == 404  # another tenant's study
    env = {**os.environ, "IMPACT_API_URL": tenants.base_url, "IMPACT_API_KEY": tenants.a.http.headers["X-API-Key"]}
    done = subprocess.run(
        [sys.executable, "-m", "impact_service.cli", "result", study_id, "--format", "xlsx", "--out", str(tmp_path / "tables")],
        capture_output=True, text=True, env=env, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "tables" / f"{study_id}.xlsx").read_bytes() == xlsx.content


def test_result_before_the_end_is_409_with_retry_after(stack: Stack, tenants: Tenants) -> None:
    """A study that has not finished: a queued row no worker will see (queued a day ahead, so the
    sweeper never re-sends it), so every request below meets the same state."""
    study_id = new_study(stack.settings.database(), "tenant-a")
    with session_scope(stack.settings.database()) as session:
        row = repo.get_study(session, study_id=study_id)
        assert row is not None
        row.queued_at = utcnow() + timedelta(days=1)
    for path in ("result", "result.nc", "report", "result.xlsx", "result.csv.zip"):
        response = tenants.a.http.get(f"/v1/studies/{study_id}/{path}")
        assert response.status_code == 409, path
        assert response.json()["error"]["code"] == "study_not_finished"
        assert int(response.headers["Retry-After"]) >= 1
    tenants.a.cancel(study_id)


def test_idempotency_key_and_identical_resubmission(tenants: Tenants) -> None:
    first = tenants.a.submit(small_spec(name="idem", stages=[{"mw": 77}]), idempotency_key="abc-123")
    again = tenants.a.http.post(
        "/v1/studies", json=small_spec(name="renamed", stages=[{"mw": 77}]), headers={"Idempotency-Key": "abc-123"}
    )
    assert again.status_code == 200
    assert again.json()["id"] == first["id"]
    other = tenants.a.http.post(  # the key reused for another question: refused, not answered with the old study
        "/v1/studies", json=small_spec(name="idem", stages=[{"mw": 78}]), headers={"Idempotency-Key": "abc-123"}
    )
    assert other.status_code == 422
    assert other.json()["error"]["code"] == "idempotency_key_reused"
    assert first["id"] in other.json()["error"]["message"]
    identical = tenants.a.http.post("/v1/studies", json=small_spec(name="idem", stages=[{"mw": 77}]))
    assert identical.status_code == 200
    assert identical.json()["id"] == first["id"]
    other_tenant = tenants.b.submit(small_spec(name="idem", stages=[{"mw": 77}]), idempotency_key="abc-123")
    assert other_tenant["id"] != first["id"]


def test_tenants_see_only_their_own(tenants: Tenants) -> None:
    study = tenants.a.submit(small_spec(stages=[{"mw": 33}]))
    for call in (
        lambda: tenants.b.study(study["id"]),
        lambda: tenants.b.result(study["id"]),
        lambda: tenants.b.cancel(study["id"]),
    ):
        with pytest.raises(ApiError) as caught:
            call()
        assert caught.value.status == 404
    listed = tenants.b.http.get("/v1/studies").json()
    assert study["id"] not in [s["id"] for s in listed["items"]]
    with pytest.raises(ApiError) as caught:
        tenants.anonymous.study(study["id"])
    assert caught.value.status == 401


def test_cancel_queued_and_running(tenants: Tenants, stack: Stack) -> None:
    busy = [tenants.a.submit(busy_spec(i)) for i in range(2)]
    assert busy[0]["id"] != busy[1]["id"]
    wait_for(lambda: all(tenants.a.study(s["id"])["status"] == "running" for s in busy), timeout_s=120)
    queued = tenants.a.submit(small_spec(stages=[{"mw": 41}]))
    canceled = tenants.a.cancel(queued["id"])
    assert canceled["status"] == "canceled"
    running = tenants.a.cancel(busy[0]["id"])
    assert running["cancel_requested"]
    final = tenants.a.wait(busy[0]["id"], timeout_s=120)
    assert final["status"] == "canceled"
    assert final["error"]["code"] == "study_canceled"
    tenants.a.cancel(busy[1]["id"])
    tenants.a.wait(busy[1]["id"], timeout_s=120)
    time.sleep(2)
    with session_scope(stack.settings.database()) as session:
        row = repo.get_study(session, study_id=queued["id"])
        assert row is not None
        assert row.started_at is None
        assert row.status == "canceled"


def test_upload_and_study_on_it(tenants: Tenants) -> None:
    content = pp.to_json(pn.case9()).encode()
    response = tenants.a.http.post("/v1/grids", files={"file": ("case9.json", content, "application/json")})
    assert response.status_code == 201, response.text
    upload = response.json()
    assert upload["summary"]["buses"] == 9
    assert tenants.a.http.get(f"/v1/grids/{upload['id']}").status_code == 200
    buses = tenants.a.http.get(f"/v1/grids/{upload['id']}/buses", params={"min_kv": 300}).json()
    assert buses["total"] == 9
    study = tenants.a.submit({"grid": {"upload_id": upload["id"]}, "site": {"bus": 4}, "stages": [{"mw": 20}]})
    assert tenants.a.wait(study["id"], timeout_s=60)["status"] == "succeeded"
    with pytest.raises(ApiError) as caught:
        tenants.b.submit({"grid": {"upload_id": upload["id"]}, "site": {"bus": 4}, "stages": [{"mw": 20}]})
    assert caught.value.status == 404
    bad = tenants.a.http.post("/v1/grids", files={"file": ("bad.m", b"mpc.bus = [1 2 3;", "text/plain")})
    assert bad.status_code == 422
    assert bad.json()["error"]["details"]


def test_a_pss_e_raw_upload_runs_the_same_study_as_its_matpower_case(tenants: Tenants) -> None:
    """activsg200 written as RAW 33 and uploaded: its study equals the catalog grid's, wording aside."""
    raw = write_raw(parse_matpower_text(catalog_file("activsg200").read_text())).encode()
    response = tenants.a.http.post("/v1/grids", files={"file": ("activsg200.raw", raw, "text/plain")})
    assert response.status_code == 201, response.text
    upload = response.json()
    assert (upload["format"], upload["summary"]["buses"]) == ("psse_raw", 200)
    stored = upload["summary"]["stored_solution"]  # the engine's base case against the file's voltages
    assert stored["converged"]
    assert stored["buses_beyond_tolerance"] == 0
    assert stored["max_difference_pu"] < 1e-4
    fuels = sorted({*(parse_matpower_text(catalog_file("activsg200").read_text()).genfuel or []), "unknown"})
    spec = small_spec(name="raw upload", dispatch={"dispatchable_fuels": fuels})  # RAW has no fuel types: all units pick up
    from_raw = tenants.a.submit({**spec, "grid": {"upload_id": upload["id"]}})
    from_catalog = tenants.a.submit({**spec, "stages": [{"mw": 50.0}, {"mw": 120.0}]})
    results = []
    for study in (from_raw, from_catalog):
        assert tenants.a.wait(study["id"], timeout_s=120)["status"] == "succeeded"
        results.append(tenants.a.result(study["id"]))
    assert without_timings(results[0]["base_case"]) == without_timings(results[1]["base_case"])
    for raw_stage, catalog_stage in zip(results[0]["stages"], results[1]["stages"], strict=True):
        moved = [sum(f["delta_p_mw"] for f in stage.pop("dispatch_by_fuel")) for stage in (raw_stage, catalog_stage)]
        assert moved[0] == pytest.approx(moved[1], abs=1e-6)  # the same units moved; RAW names no fuels
        for stage in (raw_stage, catalog_stage):  # branch names number the file's rows; the writer puts lines first
            for change in stage["largest_loading_increases"]:
                change.pop("name")
        assert without_timings(raw_stage) == without_timings(catalog_stage)
    bad = tenants.a.http.post(
        "/v1/grids", files={"file": ("bad.raw", raw.replace(b", 33, 0, 1", b", 31, 0, 1", 1), "text/plain")}
    )
    assert bad.status_code == 422
    assert "versions 33, 34 and 35" in bad.json()["error"]["message"]
    hand = (Path(__file__).parents[1] / "cases" / "psse" / "hand_v33.raw").read_text()
    hand = hand.replace("345.0000,3,   1,   1,   1,1.02000", "345.0000,3,   1,   1,   1,1.0x000")  # line 4: VM
    hand = hand.replace("    3,'1 ',1,     0.000,    20.000", "    9,'1 ',1,     0.000,    20.000")  # line 11: no bus 9
    broken = tenants.a.http.post("/v1/grids", files={"file": ("hand.raw", hand.encode(), "text/plain")})
    assert broken.status_code == 422
    assert {"line 4", "line 11"} <= {detail["field"] for detail in broken.json()["error"]["details"]}


def test_expected_errors_are_4xx_with_a_message(tenants: Tenants) -> None:
    http = tenants.a.http
    cases = [
        (http.post("/v1/studies", json=small_spec(grid={"catalog": "../etc/passwd"})), 422),
        (http.post("/v1/studies", json=small_spec(grid={"catalog": "activsg999"})), 404),
        (http.post("/v1/studies", json=small_spec(site={"bus_name": "ATLANTIS"})), 422),
        (http.post("/v1/studies", json=small_spec(stages=[{"mw": -5}])), 422),
        (http.post("/v1/studies", content=b"{not json", headers={"Content-Type": "application/json"}), 422),
        (http.get("/v1/studies/does-not-exist"), 404),
        (http.get("/v1/grids/activsg2000/buses", params={"min_kv": "lots"}), 422),
    ]
    for response, status in cases:
        assert response.status_code == status, response.text
        assert response.json()["error"]["message"]


def test_catalog_grids_and_poi_search(tenants: Tenants) -> None:
    grids = tenants.a.http.get("/v1/grids").json()["items"]
    assert {"activsg200", "activsg70k"} <= {g["id"] for g in grids}
    found = tenants.a.http.get("/v1/grids/activsg2000/buses", params={"name": "ABILENE", "min_kv": 200}).json()
    assert [b["name"] for b in found["items"]] == ["ABILENE 1 0", "ABILENE 2 0"]
    summary = tenants.a.http.get("/v1/grids/activsg2000").json()["summary"]
    assert summary["buses"] == 2000


def test_factor_tables_with_sources(tenants: Tenants) -> None:
    body = tenants.a.http.get("/v1/factors").json()
    nox = next(r for r in body["tables"]["technology_rates"] if r["key"] == "gas_cc.nox")
    assert nox["value"] == "0.020"
    assert nox["unit"] == "lb/MMBtu"
    assert "NREL" in nox["source"]
    assert set(body["digests"]) == set(body["tables"])
    assert body["version"]
    assert tenants.anonymous.http.get("/v1/factors").status_code == 401


def test_health_readiness_and_metrics(tenants: Tenants) -> None:
    assert httpx.get(f"{tenants.base_url}/healthz").json() == {"status": "ok"}
    assert httpx.get(f"{tenants.base_url}/readyz").status_code == 200
    text = httpx.get(f"{tenants.base_url}/metrics").text
    assert "gridimpact_http_requests_total" in text
    assert 'gridimpact_studies{status="succeeded"}' in text
    assert "gridimpact_queue_depth" in text
    assert "gridimpact_study_duration_seconds_bucket" in text
