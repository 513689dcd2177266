"""Staged N-0 power flow checked against independent solves and by energy balance."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandapower as pp
import pytest

from grid_models.facility import FacilityParameters, StageSpec, stage_load
from grid_models.grid import Grid
from grid_models.pipeline import run_study
from grid_models.results import Severity
from grid_models.solver.lightsim import LightSimBackend
from grid_models.solver.network import prepare_network
from grid_models.solver.reference import PandapowerBackend
from grid_models.solver.types import PowerFlowBackend, SolverSettings
from grid_models.spec import DispatchOptions, DispatchRule, InitialVoltage, StudySpec
from grid_models.studies.power_flow import StageSolve, dispatch_context, solve_base_case, solve_stage

SETTINGS = SolverSettings()


def _spec(grid_id: str, bus_name: str, stages_mw: list[float], **extra: object) -> StudySpec:
    return StudySpec.model_validate(
        {"grid": {"catalog": grid_id}, "site": {"bus_name": bus_name}, "stages": [{"mw": mw} for mw in stages_mw], **extra}
    )


def test_activsg200_stages_match_an_independent_pandapower_run(catalog_grid: Callable[[str], Grid]) -> None:
    """Each stage's dispatch put into a fresh pandapower copy of the grid, solved by pandapower alone."""
    grid = catalog_grid("activsg200")
    spec = _spec("activsg200", "CLINTON 1 0", [50, 150], facility={"power_factor": 0.95})
    result = run_study(spec, grid)
    data = result.dataset
    poi = result.poi.bus_id
    for index, stage in enumerate(result.stages, start=1):
        net = pp.from_json_string(pp.to_json(grid.net))
        pp.create_load(net, poi, p_mw=stage.facility_p_mw, q_mvar=stage.facility_q_mvar)
        schedule = data.gen_p_mw.sel(stage=index).to_numpy()
        not_slack = ~net.gen.slack.to_numpy(dtype=bool)
        net.gen.loc[not_slack, "p_mw"] = schedule[not_slack]
        pp.runpp(net, lightsim2grid=False, enforce_q_lims=True, trafo_model="pi", tolerance_mva=1e-6, init="dc")
        assert np.max(np.abs(net.res_bus.vm_pu.to_numpy() - data.vm_pu.sel(stage=index).to_numpy())) <= 1e-6
        flows = np.concatenate([net.res_line.p_from_mw, net.res_trafo.p_hv_mw])
        np.testing.assert_allclose(flows, data.p_from_mw.sel(stage=index).to_numpy(), atol=1e-3)
        slack_p = float(net.res_gen.p_mw[~not_slack].iloc[0])
        assert slack_p == pytest.approx(schedule[~not_slack][0], abs=1e-3)


def _stages(backend: PowerFlowBackend, poi_id: int, loads_mw: list[float], rule: DispatchRule) -> list[StageSolve]:
    prepared = backend.prepared
    poi = prepared.bus_position(poi_id)
    base = solve_base_case(backend, poi=poi, initial=InitialVoltage.AUTO, settings=SETTINGS)
    context = dispatch_context(prepared, base, DispatchOptions(rule=rule))
    solves, previous = [base], base
    for number, mw in enumerate(loads_mw, start=1):
        load = stage_load(StageSpec(mw=mw), FacilityParameters(power_factor=0.98), index=number)
        previous = solve_stage(backend, index=number, load=load, previous=previous, context=context, settings=SETTINGS)
        solves.append(previous)
    return solves


@pytest.mark.slow  # every stage of activsg2000 with both solvers: a full-grid solver comparison
@pytest.mark.parametrize("rule", [DispatchRule.PARTICIPATION, DispatchRule.MERIT_ORDER])
def test_activsg2000_staging_is_solver_independent(catalog_grid: Callable[[str], Grid], rule: DispatchRule) -> None:
    prepared = prepare_network(catalog_grid("activsg2000").net)
    fast = _stages(LightSimBackend(prepared, SETTINGS), 3088, [200, 600, 1200], rule)
    slow = _stages(PandapowerBackend(prepared, SETTINGS), 3088, [200, 600, 1200], rule)
    for a, b in zip(fast, slow, strict=True):
        assert a.converged
        assert b.converged
        np.testing.assert_array_equal(a.q_state, b.q_state)
        assert np.max(np.abs(a.solution.vm_pu - b.solution.vm_pu)) <= 1e-6
        np.testing.assert_allclose(a.gen_p_mw, b.gen_p_mw, atol=1e-3)


def test_dispatch_balances_demand_and_losses(catalog_grid: Callable[[str], Grid]) -> None:
    grid = catalog_grid("activsg2000")
    result = run_study(_spec("activsg2000", "ABILENE 1 0", [200, 600, 1200]), grid)
    data = result.dataset
    base_p = data.gen_p_mw.sel(stage=0).to_numpy()
    pmax = data.gen_pmax_mw.to_numpy()
    fuels = data.gen_fuel.to_numpy()
    slack = int(np.flatnonzero(grid.net.gen.slack.to_numpy(dtype=bool))[0])
    for stage in result.stages:
        assert stage.converged
        # energy balance: the added generation is the facility plus the change in losses
        assert stage.delta_generation_mw == pytest.approx(stage.facility_p_mw + stage.delta_losses_mw, abs=0.05)
        p = data.gen_p_mw.sel(stage=stage.index).to_numpy()
        moved = np.abs(p - base_p) > 1e-6
        moved[slack] = False
        assert set(fuels[moved]) <= {"coal", "ng"}  # only dispatchable fuels follow load
        assert np.all(p[moved] <= pmax[moved] + 1e-6)
        assert abs(p[slack] - base_p[slack]) <= SETTINGS.loss_tolerance_mw  # the slack is back on schedule


def test_a_stage_beyond_the_grid_is_a_finding_not_an_error(catalog_grid: Callable[[str], Grid]) -> None:
    # 800 MW at a 115 kV bus of the 200-bus grid is beyond its voltage-collapse point
    result = run_study(_spec("activsg200", "GREEN VALLEY 0", [100, 800, 150]), catalog_grid("activsg200"))
    converged = [stage.converged for stage in result.stages]
    assert converged == [True, False, True]
    critical = [f for f in result.findings if f.severity is Severity.CRITICAL]
    assert any("no solution" in f.what and f.stage_index == 2 for f in critical)
    assert any("first fails at" in f.what and f.stage_index == 2 for f in critical)
    assert np.isnan(result.dataset.vm_pu.sel(stage=2).to_numpy()).all()
