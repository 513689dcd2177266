"""Hourly profiles over HTTP: an upload is validated with every problem listed, stored for its
tenant only, and an annual study that names a missing or foreign profile is refused before it is
queued."""

from __future__ import annotations

from datetime import datetime, timedelta

import httpx
import pytest

from .conftest import Tenants, small_spec

pytestmark = pytest.mark.integration


def _csv(rows: int = 8760, *, unit: str = "# unit: pu") -> bytes:
    first = datetime(2017, 1, 1)
    lines = [
        unit,
        "timestamp,system",
        *(f"{(first + timedelta(hours=h)).isoformat()},{0.6 + 0.3 * (h % 24) / 24:.4f}" for h in range(rows)),
    ]
    return "\n".join(lines).encode()


def test_a_profile_upload_is_stored_for_its_tenant(tenants: Tenants) -> None:
    response = tenants.a.http.post("/v1/profiles", files={"file": ("shape.csv", _csv(), "text/csv")})
    assert response.status_code == 201, response.text
    created = response.json()
    assert (created["hours"], created["columns"], created["unit"]) == (8760, "system", "pu")
    assert created["first_hour"].startswith("2017-01-01")
    assert tenants.a.http.get(f"/v1/profiles/{created['id']}").status_code == 200
    assert tenants.b.http.get(f"/v1/profiles/{created['id']}").status_code == 404
    assert created["id"] in [p["id"] for p in tenants.a.http.get("/v1/profiles").json()["items"]]
    spec = small_spec(analyses={"annual": {"profile": {"upload_id": created["id"]}, "hours": [0, 2]}})
    assert tenants.a.http.post("/v1/studies", json=spec).status_code == 202
    foreign = tenants.b.http.post("/v1/studies", json=spec)
    assert foreign.status_code == 422
    assert foreign.json()["error"]["code"] == "profile_not_found"


def test_a_bad_profile_is_a_422_listing_every_problem(tenants: Tenants) -> None:
    bad = _csv(100, unit="# unit: watts").replace(b"0.6", b"-0.6", 1)
    response = tenants.a.http.post("/v1/profiles", files={"file": ("bad.csv", bad, "text/csv")})
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["code"] == "profile_invalid"
    messages = " | ".join(detail["message"] for detail in error["details"])
    assert "watts" in messages
    assert "100 hourly rows" in messages
    assert "negative" in messages


def test_an_annual_study_on_a_grid_without_scenarios_is_refused_with_advice(tenants: Tenants) -> None:
    spec = small_spec(grid={"catalog": "activsg500"}, site={"bus": 1}, analyses={"annual": {}})
    response = httpx.post(f"{tenants.base_url}/v1/studies", json=spec, headers={"X-API-Key": tenants.a.http.headers["X-API-Key"]})
    assert response.status_code == 422, response.text
    assert "POST /v1/profiles" in response.json()["error"]["message"]
