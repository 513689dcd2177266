"""The environmental analyses inside a study: spec, result sections, findings tied to stages."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from pydantic import ValidationError

from grid_models.grid import Grid
from grid_models.pipeline import run_study
from grid_models.results import StudyResult
from grid_models.spec import StudySpec

SPEC = {
    "grid": {"catalog": "activsg200"},
    "site": {"bus_name": "CLINTON 1 0"},
    "stages": [{"mw": 60, "label": "S1"}, {"mw": 150, "label": "S2"}],
    "analyses": {"emissions": {"load_factor": 0.9}},
    "onsite_generation": {"units": [{"count": 35, "nox_ppm": 25, "from_stage": 2, "label": "35 turbines"}]},
}


@pytest.fixture(scope="module")
def result(catalog_grid: Callable[[str], Grid]) -> StudyResult:
    return run_study(StudySpec.model_validate(SPEC), catalog_grid("activsg200"))


def test_sections_and_provenance_of_the_tables(result: StudyResult) -> None:
    env = result.environment
    assert env is not None
    assert env.grid_supply is not None
    assert env.onsite is not None
    assert [s.stage for s in env.grid_supply.stages] == ["S1", "S2"]
    assert [s.stage_index for s in env.onsite.stages] == [2]
    assert env.tables_version
    assert set(env.table_digests) >= {"turbines", "thresholds", "egrid"}
    assert env.grid_supply.egrid_subregion == "US"  # no default subregion for activsg200
    assert StudyResult.model_validate_json(result.model_dump_json()).environment == env  # JSON round trip


def test_findings_name_their_stage_and_rule(result: StudyResult) -> None:
    title_v = [f for f in result.findings if f.category == "air_permit" and "Title V" in f.what]
    assert len(title_v) == 1
    assert title_v[0].stage_index == 2
    assert title_v[0].limit == 100
    assert "FORMALDEHYDE 19.2 tpy (>= 10)" in title_v[0].what  # single-HAP major source threshold
    assert "40 CFR 70.2" in (title_v[0].rule or "")
    assert not any(f.category == "air_permit" and f.stage_index == 1 for f in result.findings)  # turbines from S2
    grid = [f for f in result.findings if f.category == "emissions" and f.stage_index == 1]
    assert grid
    assert "grid supply adds CO2" in grid[0].what
    assert any(f.category == "water" and f.stage == "S2" for f in result.findings)
    assert any("lb NOx" in f.what and "marginal" in f.what for f in result.findings)


def test_onsite_units_must_start_at_an_existing_stage() -> None:
    bad = {**SPEC, "onsite_generation": {"units": [{"count": 2, "from_stage": 3}]}}
    with pytest.raises(ValidationError, match="set from_stage between 1 and 2"):
        StudySpec.model_validate(bad)
