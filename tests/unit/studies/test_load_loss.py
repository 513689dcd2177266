"""Load-loss event: the facility trips at once; post-trip state vs plain pandapower and energy balance."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest

from grid_models.facility import FacilityParameters, StageSpec, stage_load
from grid_models.grid import Grid
from grid_models.results import Severity
from grid_models.solver.lightsim import LightSimBackend
from grid_models.solver.network import prepare_network
from grid_models.solver.qlimits import solve_with_q_limits
from grid_models.solver.reference import PandapowerBackend
from grid_models.solver.types import SolverSettings
from grid_models.spec import Criteria, DispatchOptions, InitialVoltage
from grid_models.studies.load_loss import _trip_point, load_loss_findings, run_load_loss
from grid_models.studies.power_flow import dispatch_context, solve_base_case, solve_stage

SETTINGS = SolverSettings()


def test_trip_matches_pandapower_and_balances(catalog_grid: Callable[[str], Grid]) -> None:
    grid = catalog_grid("activsg200")
    prepared = prepare_network(grid.net)
    backend = LightSimBackend(prepared, SETTINGS)
    poi = prepared.bus_position(int(grid.net.bus.index[grid.net.bus.name == "SPRINGFIELD 5 1"][0]))
    base = solve_base_case(backend, poi=poi, initial=InitialVoltage.AUTO, settings=SETTINGS)
    context = dispatch_context(prepared, base, DispatchOptions())
    solves = [base]
    for number, mw in enumerate((150.0, 300.0), start=1):
        load = stage_load(StageSpec(mw=mw), FacilityParameters(power_factor=0.95), index=number)
        solves.append(solve_stage(backend, index=number, load=load, previous=solves[-1], context=context, settings=SETTINGS))
    result = run_load_loss(backend, solves, context=context, criteria=Criteria(), settings=SETTINGS)
    assert [s.lost_mw for s in result.stages] == [150.0, 300.0]
    for stage, trip in zip(solves[1:], result.stages, strict=True):
        point = _trip_point(stage, context, backend)
        reference = solve_with_q_limits(
            PandapowerBackend(prepared, SETTINGS), point, initial_state=stage.q_state, v_init=stage.solution.v, settings=SETTINGS
        ).solution
        assert trip.converged
        assert reference.converged
        assert trip.poi_vm_after_pu == pytest.approx(float(reference.vm_pu[poi]), abs=1e-6)
        assert trip.max_vm_pu == pytest.approx(float(np.nanmax(reference.vm_pu)), abs=1e-6)
        # the generation that stops is the facility's demand minus the change in losses
        reduction = -sum(trip.generation_reduction_by_fuel.values())
        losses_change = reference.losses_mw - stage.solution.losses_mw
        assert reduction == pytest.approx(trip.lost_mw - losses_change, abs=0.2)
    findings = load_loss_findings(result)
    assert len(findings) == 2
    assert all(f.severity is Severity.INFO for f in findings)


def test_large_events_are_put_in_context() -> None:
    from grid_models.results import LoadLossResult, LoadLossStageResult

    def stage(mw: float) -> LoadLossStageResult:
        return LoadLossStageResult(
            stage_index=1,
            label="x",
            lost_mw=mw,
            converged=True,
            max_vm_pu=1.05,
            max_vm_bus=1,
            poi_vm_before_pu=1.0,
            poi_vm_after_pu=1.02,
            overvoltages=0,
            overloads=0,
            worst_loading_percent=50.0,
            worst_loading_branch="line 1",
            generation_reduction_by_fuel={},
        )

    found = load_loss_findings(LoadLossResult(criteria="", stages=[stage(1600.0), stage(2700.0)]))
    assert "Virginia" in found[0].what
    assert found[0].severity is Severity.WARNING
    assert "ERCOT" in found[1].what
