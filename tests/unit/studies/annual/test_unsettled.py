"""Hours whose reactive-limit loop cycled are counted, marked in the dataset and named in a finding
(the snapshot study warns the same way for a stage); a cycled solve is never counted as settled."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from grid_models.facility import StageLoad
from grid_models.grid import Grid
from grid_models.pipeline import run_study
from grid_models.results import FindingCategory, Severity
from grid_models.spec import StudySpec
from grid_models.studies.annual.analysis import Year, unsettled_findings
from grid_models.studies.annual.block import HourBlock

EXAMPLE = Path(__file__).parents[4] / "examples" / "abilene_annual.json"


def _block() -> HourBlock:
    block = HourBlock.empty(0, 4, stages=1, gens=1)
    block.base_converged[:] = True
    block.base_settled[:] = [True, False, True, True]
    block.stage_converged[0] = [True, True, False, True]
    block.stage_settled[0] = [True, True, False, False]  # hour 2 has no solution: not counted as unsettled
    return block


def _context(*stages: StageLoad) -> Any:
    return SimpleNamespace(stages=list(stages))


def test_unsettled_hours_are_counted_per_solve_and_named_once() -> None:
    campus = StageLoad(label="campus", p_mw=100.0, q_mvar=0.0, gpus=None, gpu_model=None)
    year = Year(_block(), [datetime(2016, 1, 1) + timedelta(hours=h) for h in range(4)])
    [finding] = unsettled_findings(year, _context(campus))
    assert finding.severity is Severity.WARNING
    assert finding.category is FindingCategory.REACTIVE
    assert "without the campus: 1 of 4" in finding.what
    assert "1 of 4" in finding.what.split(";")[1]
    block = _block()
    block.base_settled[:] = True
    block.stage_settled[0] = [True, True, False, True]
    assert unsettled_findings(Year(block, year.timestamps), _context(campus)) == []


@pytest.mark.slow  # a winter day of activsg2000 at Abilene, N-0 only (a full-grid study, about 5 s)
def test_a_winter_day_at_abilene_reports_its_cycled_hours(catalog_grid: Callable[[str], Grid]) -> None:
    spec = json.loads(EXAMPLE.read_text())
    spec["analyses"]["annual"] |= {"hours": [1008, 1032], "n1": False, "max_exact_hours": 0}
    result = run_study(StudySpec.model_validate(spec), catalog_grid("activsg2000"))
    annual = result.annual
    assert annual is not None
    data = result.dataset
    assert int(data["hour_q_unsettled"].sum()) == annual.unsettled_hours
    assert int(data["hour_stage_q_unsettled"].sum()) == annual.stages[0].unsettled_hours
    assert annual.unsettled_hours > 0  # January cycles at this POI without the campus (measured: 60 of 158 solved hours)
    assert not (data["hour_q_unsettled"].to_numpy() & (data["hour_solved"].to_numpy() == 0)).any()
    [finding] = [f for f in result.findings if f.category is FindingCategory.REACTIVE]
    assert f"without the campus: {annual.unsettled_hours:,} of 24" in finding.what
    assert finding.value == max(annual.unsettled_hours, annual.stages[0].unsettled_hours)
