"""Base-case solves against independent references.

- The solved voltages stored in each ACTIVSg file (computed by another program).
- Plain pandapower Newton-Raphson (``lightsim2grid=False``) on the same operating point.
- For activsg200, pandapower's own reactive-limit algorithm end to end.
- Energy balance and the reactive-limit complementarity conditions of the final state.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandapower as pp
import pytest

from grid_models.grid import Grid
from grid_models.pipeline import run_study
from grid_models.solver.lightsim import LightSimBackend
from grid_models.solver.network import PreparedNetwork, prepare_network
from grid_models.solver.qlimits import group_reactive_output, initial_q_state, solve_with_q_limits
from grid_models.solver.reference import PandapowerBackend
from grid_models.solver.types import Q_AT_MAX, Q_AT_MIN, Q_FREE, OperatingPoint, RawSolution, SolverSettings
from grid_models.spec import InitialVoltage, StudySpec
from grid_models.studies.power_flow import solve_base_case

SETTINGS = SolverSettings()

# Largest |Vm - stored Vm| we reach, per grid. MATPOWER itself reaches 1.4e-5 on activsg200; the
# issue's bound for the larger grids was 0.06 pu because MATPOWER's one-way reactive-limit
# algorithm lands 0.03-0.05 pu away. With PV<->PQ switching in both directions we land within:
STORED_VOLTAGE_BOUND_PU = {
    "activsg200": 1e-4,
    "activsg500": 1e-4,
    "activsg2000": 1e-4,
    "activsg10k": 1e-4,
    "activsg25k": 1e-3,
    "activsg70k": 2e-3,
}
LARGE = {"activsg10k", "activsg25k", "activsg70k"}  # the slow tier (make test), not make unit


def _base(grid: Grid) -> tuple[PreparedNetwork, RawSolution, np.ndarray]:
    prepared = prepare_network(grid.net)
    backend = LightSimBackend(prepared, SETTINGS)
    base = solve_base_case(backend, poi=0, initial=InitialVoltage.AUTO, settings=SETTINGS)
    assert base.converged
    assert base.q_settled
    return prepared, base.solution, base.q_state


def _energy_balance_mw(prepared: PreparedNetwork, solution: RawSolution) -> float:
    """Generation - load - shunt losses - branch losses (should be zero)."""
    net = prepared.net
    generation = np.delete(prepared.gen_p_mw, prepared.slack_gen).sum() + solution.slack_p_mw + net.sgen.p_mw.sum()
    load = net.load.p_mw[net.load.in_service.astype(bool)].sum()
    shunt = (net.shunt.p_mw.to_numpy() * solution.vm_pu[net.shunt.bus.to_numpy()] ** 2).sum()
    return float(generation - load - shunt - solution.losses_mw)


def _check_complementarity(prepared: PreparedNetwork, solution: RawSolution, q_state: np.ndarray) -> None:
    q = group_reactive_output(prepared, solution)
    movable = ~prepared.group_is_slack & ~prepared.group_fixed_q
    free = movable & (q_state == Q_FREE)
    tol = 10 * SETTINGS.q_tolerance_mvar
    assert np.all(q[free] <= prepared.group_qmax_mvar[free] + tol)
    assert np.all(q[free] >= prepared.group_qmin_mvar[free] - tol)
    vm = solution.vm_pu[prepared.group_bus]
    at_max, at_min = movable & (q_state == Q_AT_MAX), movable & (q_state == Q_AT_MIN)
    assert np.all(vm[at_max] <= prepared.group_vm_set_pu[at_max] + 10 * SETTINGS.v_tolerance_pu)
    assert np.all(vm[at_min] >= prepared.group_vm_set_pu[at_min] - 10 * SETTINGS.v_tolerance_pu)
    np.testing.assert_allclose(vm[free], prepared.group_vm_set_pu[free], atol=1e-6)


@pytest.mark.parametrize(
    "grid_id",
    [pytest.param(g, marks=pytest.mark.slow) if g in LARGE else g for g in STORED_VOLTAGE_BOUND_PU],
)
def test_base_case_reproduces_stored_voltages(grid_id: str, catalog_grid: Callable[[str], Grid]) -> None:
    prepared, solution, q_state = _base(catalog_grid(grid_id))
    assert np.max(np.abs(solution.vm_pu - prepared.vm_case_pu)) <= STORED_VOLTAGE_BOUND_PU[grid_id]
    assert abs(_energy_balance_mw(prepared, solution)) < 1e-3
    _check_complementarity(prepared, solution, q_state)


@pytest.mark.parametrize(
    "grid_id",
    [pytest.param(g, marks=pytest.mark.slow) if g in LARGE else g for g in STORED_VOLTAGE_BOUND_PU],
)
def test_fast_path_agrees_with_plain_pandapower(grid_id: str, catalog_grid: Callable[[str], Grid]) -> None:
    """Same operating point and generator limits: both solvers to 1e-6 pu."""
    prepared, fast, q_state = _base(catalog_grid(grid_id))
    reference = PandapowerBackend(prepared, SETTINGS).solve(OperatingPoint(gen_p_mw=prepared.gen_p_mw), q_state, fast.v)
    assert reference.converged
    assert np.max(np.abs(fast.vm_pu - reference.vm_pu)) <= 1e-6
    assert np.max(np.abs(fast.va_degree - reference.va_degree)) <= 1e-5
    np.testing.assert_allclose(fast.p_from_mw, reference.p_from_mw, atol=1e-4)
    assert fast.slack_p_mw == pytest.approx(reference.slack_p_mw, abs=1e-4)


@pytest.mark.slow  # the whole reactive-limit loop on activsg2000 with both solvers: a full-grid solver comparison
def test_reactive_limit_loop_reaches_the_same_state_with_either_solver(catalog_grid: Callable[[str], Grid]) -> None:
    prepared, fast, q_state = _base(catalog_grid("activsg2000"))
    start = prepared.vm_case_pu * np.exp(1j * np.deg2rad(prepared.va_case_degree - prepared.va_case_degree[prepared.slack_bus]))
    slow = solve_with_q_limits(
        PandapowerBackend(prepared, SETTINGS),
        OperatingPoint(gen_p_mw=prepared.gen_p_mw),
        initial_state=initial_q_state(prepared, SETTINGS),
        v_init=start,
        settings=SETTINGS,
    )
    np.testing.assert_array_equal(slow.q_state, q_state)
    assert np.max(np.abs(slow.solution.vm_pu - fast.vm_pu)) <= 1e-6


def test_activsg200_matches_pandapowers_own_reactive_limits(catalog_grid: Callable[[str], Grid]) -> None:
    """Where MATPOWER's one-way algorithm needs no release, pandapower's enforce_q_lims agrees with us."""
    grid = catalog_grid("activsg200")
    _prepared, fast, _ = _base(grid)
    net = pp.from_json_string(pp.to_json(grid.net))
    pp.runpp(net, lightsim2grid=False, enforce_q_lims=True, trafo_model="pi", tolerance_mva=1e-6, init="dc")
    assert np.max(np.abs(net.res_bus.vm_pu.to_numpy() - fast.vm_pu)) <= 1e-6


def test_matpower_algorithm_over_limits_activsg2000(catalog_grid: Callable[[str], Grid]) -> None:
    """Why we release: pandapower's enforce_q_lims pins regulators whose voltage is on the wrong side."""
    grid = catalog_grid("activsg2000")
    net = pp.from_json_string(pp.to_json(grid.net))
    pp.runpp(net, lightsim2grid=False, enforce_q_lims=True, trafo_model="pi", tolerance_mva=1e-6, init="dc")
    assert np.max(np.abs(net.res_bus.vm_pu.to_numpy() - net.bus.vm_case_pu.to_numpy())) > 0.02


def test_without_reactive_limits_every_generator_regulates_as_in_pandapower(catalog_grid: Callable[[str], Grid]) -> None:
    """``enforce_q_limits: false`` means no limits: activsg2000's 17 units with QMIN = QMAX = 0
    (solar at buses 1011, 3120, 6085-6090, ...) regulate their buses too, as in pandapower's
    ``runpp(enforce_q_lims=False)`` (they were fixed injections, up to 0.032 pu apart)."""
    grid = catalog_grid("activsg2000")
    spec = StudySpec.model_validate(
        {"grid": {"catalog": "activsg2000"}, "site": {"bus": 3088}, "stages": [{"mw": 1}], "solver": {"enforce_q_limits": False}}
    )
    ours = run_study(spec, grid).dataset["vm_pu"].sel(stage=0)
    net = pp.from_json_string(pp.to_json(grid.net))
    pp.runpp(net, lightsim2grid=False, enforce_q_lims=False, trafo_model="pi", tolerance_mva=1e-8, init="dc")
    reference = net.res_bus.vm_pu.reindex(ours["bus"].to_numpy()).to_numpy()
    assert np.max(np.abs(ours.to_numpy() - reference)) <= 1e-6
    zero_range = net.gen[(net.gen.max_q_mvar == 0) & (net.gen.min_q_mvar == 0) & net.gen.in_service]
    assert len(zero_range) == 17
    held = ours.sel(bus=zero_range.bus.to_numpy()).to_numpy()
    np.testing.assert_allclose(held, zero_range.vm_pu.to_numpy(), atol=1e-9)  # at their set-points
