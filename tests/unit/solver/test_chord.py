"""The chord policy (one Jacobian factorisation per solve) against full Newton-Raphson.

Chord is only a faster path to the same AC solution: on every outage of activsg2000 the batch
with chord and its Newton fallback must converge exactly where a Newton-only batch converges, to
the same voltages, and a backend inside ``chord_solves()`` must return Newton's solution, also on
the outages where chord alone gives up.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import lightsim2grid.lightsim2grid_cpp as ls
import numpy as np
import pytest

from grid_models.grid import Grid
from grid_models.solver.batch import run_branch_batch
from grid_models.solver.lightsim import LightSimBackend, chord_config
from grid_models.solver.network import prepare_network
from grid_models.solver.types import OperatingPoint, SolverSettings
from grid_models.spec import InitialVoltage
from grid_models.studies.n1.outages import response_weights
from grid_models.studies.power_flow import StageSolve, solve_base_case

SETTINGS = SolverSettings()
# two converged solutions of the same equations to the 1e-8 pu mismatch tolerance
SAME_SOLUTION_PU = 1e-6


@pytest.fixture(scope="module")
def solved(catalog_grid: Callable[[str], Grid]) -> tuple[LightSimBackend, StageSolve, OperatingPoint]:
    prepared = prepare_network(catalog_grid("activsg2000").net)
    backend = LightSimBackend(prepared, SETTINGS)
    base = solve_base_case(backend, poi=0, initial=InitialVoltage.AUTO, settings=SETTINGS)
    eligible = np.isfinite(prepared.gen_pmax_mw)
    gen_p = base.solution.gen_p_mw
    point = OperatingPoint(gen_p_mw=gen_p, slack_weights=response_weights(prepared, gen_p, eligible))
    return backend, base, point


def _newton_batch(backend: LightSimBackend, point: OperatingPoint, base: StageSolve, positions: np.ndarray) -> tuple:
    backend.apply(point, base.q_state)
    analysis = ls.ContingencyAnalysisCPP(backend.grid.copy(), False)
    analysis.handle_disconnected_grid = True
    analysis.add_multiple_n1([int(p) for p in positions])
    analysis.compute(np.nan_to_num(base.solution.v, nan=1.0), SETTINGS.max_iterations, SETTINGS.tolerance_pu)
    row_of = {int(outage[0]): row for row, outage in enumerate(analysis.my_defaults())}
    order = [row_of[int(p)] for p in positions]
    v = np.array(analysis.get_voltages(), dtype=np.complex128)[order]
    return np.array(analysis.converged_mask(), dtype=bool)[order], v


def _chord_only_failures(backend: LightSimBackend, base: StageSolve, positions: np.ndarray) -> np.ndarray:
    analysis = ls.ContingencyAnalysisCPP(backend.grid.copy(), False)
    analysis.set_algo_config(chord_config(backend.grid))
    analysis.handle_disconnected_grid = True
    analysis.add_multiple_n1([int(p) for p in positions])
    analysis.compute(np.nan_to_num(base.solution.v, nan=1.0), SETTINGS.max_iterations, SETTINGS.tolerance_pu)
    converged = dict(zip((int(o[0]) for o in analysis.my_defaults()), analysis.converged_mask(), strict=True))
    return np.array([p for p in positions if not converged[int(p)]], dtype=np.int64)


@pytest.mark.slow  # every activsg2000 branch outage, by Newton and by chord (about 20 s)
def test_chord_batch_converges_where_newton_does_to_the_same_voltages(solved: tuple) -> None:
    backend, base, point = solved
    positions = np.flatnonzero(backend.prepared.branch_in_service)
    newton_converged, newton_v = _newton_batch(backend, point, base, positions)
    chunks = list(
        run_branch_batch(backend, point, q_state=base.q_state, v_init=base.solution.v, positions=positions, settings=SETTINGS)
    )
    converged = np.concatenate([c.converged for c in chunks])
    v = np.concatenate([c.v for c in chunks])
    np.testing.assert_array_equal(converged, newton_converged)
    newton_v = newton_v * np.exp(-1j * np.angle(newton_v[:, [backend.prepared.slack_bus]]))
    energised = np.isfinite(v[converged])
    assert np.abs(v[converged][energised] - newton_v[converged][energised]).max() < SAME_SOLUTION_PU
    # the fallback is exercised: chord alone gives up on some of these outages
    assert len(_chord_only_failures(backend, base, positions)) > 0


@pytest.mark.slow  # searches every branch outage of activsg2000 for chord's failures: a full-grid solver comparison
def test_chord_solves_return_newtons_solution_also_where_chord_gives_up(solved: tuple) -> None:
    backend, base, point = solved
    positions = np.flatnonzero(backend.prepared.branch_in_service)
    hard = [int(p) for p in _chord_only_failures(backend, base, positions)]
    easy = [int(p) for p in positions[:5]]
    for position in hard[:3] + easy:
        outage = dataclasses.replace(point, branch_out=(position,))
        newton = backend.solve(outage, base.q_state, base.solution.v)
        with backend.chord_solves():
            chord = backend.solve(outage, base.q_state, base.solution.v)
        assert chord.converged == newton.converged
        if newton.converged:
            finite = np.isfinite(newton.v)
            assert np.abs(chord.v[finite] - newton.v[finite]).max() < SAME_SOLUTION_PU
    # leaving the block restores Newton-Raphson
    assert backend.grid.get_ac_algo_config().int_params == LightSimBackend(backend.prepared).grid.get_ac_algo_config().int_params


def test_a_batch_lightsim2grid_cannot_start_leaves_its_outages_to_the_one_by_one_path(
    solved: tuple, caplog: pytest.LogCaptureFixture
) -> None:
    """Slack weights of ~1e-13 (what merit-order blocks used to leave) make lightsim2grid's own
    pre-contingency solve fail and raise; the outages come back unsolved, not as a crash."""
    backend, base, point = solved
    tiny = dataclasses.replace(point, slack_weights=np.where(point.slack_weights > 0, 5e-13, 0.0))
    positions = np.flatnonzero(backend.prepared.branch_in_service)[:40]
    with caplog.at_level("WARNING"):
        chunks = list(
            run_branch_batch(backend, tiny, q_state=base.q_state, v_init=base.solution.v, positions=positions, settings=SETTINGS)
        )
    assert not any(chunk.converged.any() for chunk in chunks)
    assert sum(len(chunk.positions) for chunk in chunks) == len(positions)
    assert "batch_failed" in caplog.text
