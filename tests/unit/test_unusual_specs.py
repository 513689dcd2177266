"""Unusual but legitimate study specs (found by probing the engine): each gets a clear error or
an honest result, never a crash."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from grid_models.engine import run_study
from grid_models.errors import StudySpecError
from grid_models.grid import Grid
from grid_models.report import render_report
from grid_models.spec import StudySpec


def _spec(**fields: object) -> StudySpec:
    base: dict[str, object] = {"grid": {"catalog": "activsg200"}, "site": {"bus_name": "CLINTON 1 0"}, "stages": [{"mw": 100}]}
    return StudySpec.model_validate(base | fields)


def test_a_voltage_floor_above_every_bus_is_refused_with_the_grids_highest(catalog_grid: Callable[[str], Grid]) -> None:
    spec = _spec(criteria={"monitored_min_kv": 500}, analyses={"load_loss": {}})
    with pytest.raises(StudySpecError, match=r"leaves no bus monitored.*230 kV"):
        run_study(spec, catalog_grid("activsg200"))


@pytest.mark.parametrize(
    "fields",
    [
        {"site": {"bus": 49}, "analyses": {"emissions": {}}},  # no stage has a solution
        {"solver": {"max_iterations": 1}, "onsite_generation": {"units": [{"count": 2}]}},  # nor the base case
    ],
)
def test_the_report_renders_when_nothing_solves(fields: dict[str, object], catalog_grid: Callable[[str], Grid]) -> None:
    result = run_study(_spec(**fields), catalog_grid("activsg200"))
    assert not (result.base_case.converged and all(stage.converged for stage in result.stages))
    assert "<html" in render_report(result)
