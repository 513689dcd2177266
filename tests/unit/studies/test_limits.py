"""Limits apply as stated: a voltage or loading past its limit by any amount is beyond it; only a
bus a generator holds at a set-point on the limit gets a tolerance (1e-6 pu)."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest

from grid_models.grid import Grid
from grid_models.pipeline import run_study
from grid_models.results import BindingKind, HostingCriterion
from grid_models.spec import StudySpec
from grid_models.studies.evaluation import HELD_TOLERANCE_PU, loading_beyond, voltage_beyond


def test_a_voltage_past_its_limit_by_any_amount_is_beyond_it() -> None:
    free = np.full(4, np.nan)  # no regulator at these buses
    vm = np.array([1.05, 1.05 + 1e-9, 1.05 + 7.5e-6, 1.0499999])
    assert voltage_beyond(vm, free, 1.05, 1.0).tolist() == [False, True, True, False]
    assert voltage_beyond(np.array([0.95 - 1e-9, 0.95]), np.full(2, np.nan), 0.95, -1.0).tolist() == [True, False]
    assert not voltage_beyond(np.array([np.nan]), np.array([np.nan]), 1.05, 1.0).any()  # a dead bus


def test_only_a_bus_held_at_its_set_point_gets_the_tolerance() -> None:
    setpoint = np.array([1.05, 1.05, 1.03])
    vm = np.array([1.05 + 1e-7, 1.05 + 2 * HELD_TOLERANCE_PU, 1.05 + 1e-7])  # held; held but past it; not held
    assert voltage_beyond(vm, setpoint, 1.05, 1.0).tolist() == [False, True, True]
    rows = np.array([[1.05, 1.05 + 1e-7], [1.05 + 1e-5, 1.0501]], dtype=np.float32).astype(np.float64)  # N-1 tables
    assert voltage_beyond(rows, np.array([1.05, np.nan]), 1.05, 1.0).tolist() == [[False, True], [True, True]]


def test_a_loading_past_its_rating_by_any_amount_is_beyond_it() -> None:
    assert loading_beyond(np.array([100.0, 100.000001, np.nan, 99.99]), 100.0).tolist() == [False, True, False, False]


@pytest.fixture(scope="module")
def abilene_n0(catalog_grid: Callable[[str], Grid]) -> float:
    """The N-0 hosting capacity at ABILENE 1 0 (activsg2000), to 1 MW."""
    spec = StudySpec.model_validate(
        {
            "grid": {"catalog": "activsg2000"},
            "site": {"bus": 3088},
            "stages": [{"mw": 1000}],
            "analyses": {"hosting_capacity": {"n1": False, "collapse": False, "resolution_mw": 1}},
        }
    )
    result = run_study(spec, catalog_grid("activsg2000"))
    assert result.hosting_capacity is not None
    limit = result.hosting_capacity.limits[0]
    assert limit.criterion is HostingCriterion.N0
    assert (limit.binding_element, limit.binding_kind) == ("bus 3050", BindingKind.HIGH_VOLTAGE)
    assert limit.binding_value is not None
    assert limit.binding_value > 1.05
    assert limit.max_mw is not None
    return limit.max_mw


def test_the_n0_hosting_capacity_is_where_the_stated_limit_is_crossed(
    catalog_grid: Callable[[str], Grid], abilene_n0: float
) -> None:
    """At ABILENE 1 0 the binding bus 3050 'DEL RIO 0' (no generator) crosses 1.05 pu near 1,151 MW;
    with the old 1e-4 pu margin the limit read 1,157 MW. Checked on the solved voltages themselves:
    at the limit no monitored bus is above 1.05 pu, 1 MW further DEL RIO is."""
    assert 1140 < abilene_n0 < 1156
    spec = StudySpec.model_validate(
        {"grid": {"catalog": "activsg2000"}, "site": {"bus": 3088}, "stages": [{"mw": abilene_n0}, {"mw": abilene_n0 + 1.0}]}
    )
    result = run_study(spec, catalog_grid("activsg2000"))
    vm = result.dataset["vm_pu"]
    assert float(vm.sel(stage=1, bus=3050)) <= 1.05 < float(vm.sel(stage=2, bus=3050))
    assert float(vm.sel(stage=1).max()) <= 1.05 + HELD_TOLERANCE_PU
    assert [v.bus_id for v in result.stages[1].voltage_violations] == [3050]
    assert not result.stages[0].voltage_violations
