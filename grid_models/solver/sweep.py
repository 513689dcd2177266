"""Branch outages, each with its own regulator state, in one batch: lightsim2grid's ScenarioSweep.

After the first batch (:mod:`grid_models.solver.batch`) most outages of a large grid need their
reactive limits moved: a few regulators pinned or released, a different set per outage. Solving
each one alone costs a new symbolic analysis and factorisation of the whole Jacobian; the sweep
solves them all on one analysis. Its grid holds every regulator free that any row frees; each row
then pins its own: the row switches the group's generators off (lightsim2grid keeps a voltage
unknown and a reactive equation in reserve for such buses, so the pattern does not change),
moves their active power to the group's companion static generator and sets the reactive limit
with the group's companion load (a load of ``sgen_q - limit`` makes the bus inject its limit).

The rows are the same power flows the one-by-one solves run, to the same tolerance: the sweep is
only a faster path (tested against one-by-one solves on activsg2000).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from grid_models.solver.batch import BatchRows, BoolArray, chord_first, configure_batch, switched_states, violation_rows
from grid_models.solver.lightsim import LightSimBackend, companion_p_mw, group_limits
from grid_models.solver.types import Q_FREE, ComplexArray, FloatArray, IntArray, OperatingPoint, SolverSettings

__all__ = ["SweepRows", "sweep_states"]


@dataclass
class SweepRows:
    """One row per outage: ``converged`` rows have ``v`` (NaN where cut off) and ``next_state``,
    the state the reactive-limit rules switch to from that solution (equal to the row's state
    when it is settled)."""

    converged: BoolArray
    v: ComplexArray
    next_state: IntArray


def _sweep_base(backend: LightSimBackend, states: IntArray, stage_state: IntArray) -> IntArray:
    """The sweep grid's state: the stage's, with every group some row frees set free."""
    prep = backend.prepared
    movable = ~prep.group_is_slack & ~prep.group_fixed_q
    freed = movable & (states == Q_FREE).any(axis=0)
    return np.asarray(np.where(freed, Q_FREE, stage_state), dtype=np.int64)


def _branch_masks(backend: LightSimBackend, positions: IntArray) -> tuple[BoolArray, BoolArray]:
    n_line = len(backend.prepared.net.line)
    lines = np.zeros((len(positions), n_line), dtype=bool)
    trafos = np.zeros((len(positions), backend.prepared.n_branch - n_line), dtype=bool)
    rows = np.arange(len(positions))
    is_line = positions < n_line
    lines[rows[is_line], positions[is_line]] = True
    trafos[rows[~is_line], positions[~is_line] - n_line] = True
    return lines, trafos


def _injections(
    backend: LightSimBackend, grid: Any, point: OperatingPoint, states: IntArray, base_state: IntArray
) -> tuple[BoolArray, FloatArray, FloatArray]:
    """Per row: the generators switched off, every static generator's P and every load's Q."""
    prep = backend.prepared
    pinned = states != Q_FREE
    gen_off = np.ascontiguousarray((pinned & (base_state == Q_FREE))[:, prep.gen_group])
    sgen_p = np.tile(np.asarray(grid.get_sgen_target_p(), dtype=np.float64), (len(states), 1))
    sgen_p[:, prep.group_sgen] = companion_p_mw(prep, point, states)
    load_q = np.tile(np.array([load.target_q_mvar for load in grid.get_loads()], dtype=np.float64), (len(states), 1))
    base_q = group_limits(prep, base_state)  # what the companion static generators already inject
    load_q[:, prep.group_load] = np.where(pinned, base_q - group_limits(prep, states), 0.0)
    return gen_off, np.ascontiguousarray(sgen_p), np.ascontiguousarray(load_q)


def _solve(
    grid: Any, backend: LightSimBackend, inputs: tuple[Any, ...], start: ComplexArray, *, threads: int, chord: bool
) -> BatchRows:
    """One sweep of the rows ``inputs`` describe (see :func:`_injections`)."""
    import lightsim2grid.lightsim2grid_cpp as ls

    sweep = configure_batch(ls.ScenarioSweepCPP(grid), grid, threads, chord=chord)
    lines, trafos, gen_off, sgen_p, load_q = inputs
    sweep.set_contingency_lines(lines)
    sweep.set_contingency_trafos(trafos)
    sweep.set_contingency_gens(gen_off)
    sweep.modify_sgen_p(sgen_p)
    sweep.modify_load_q(load_q)
    settings = backend.settings
    sweep.compute(start.copy(), settings.max_iterations, settings.tolerance_pu)
    physical = violation_rows(sweep.get_physical_violations())
    return BatchRows.read(sweep.converged_mask(), sweep.get_voltages(), physical, slack_bus=backend.prepared.slack_bus)


def sweep_states(
    backend: LightSimBackend,
    point: OperatingPoint,
    *,
    positions: IntArray,
    states: IntArray,
    stage_state: IntArray,
    v_init: ComplexArray,
    settings: SolverSettings,
    allow_release: bool,
    threads: int = 2,
) -> SweepRows:
    """Solve the outage of branch ``positions[i]`` with regulator state ``states[i]`` (rows x
    groups) from the stage ``point`` (whose own state is ``stage_state``). Rows chord does not
    converge are solved again with Newton-Raphson; rows neither converges are left unconverged
    for the caller's one-by-one path."""
    base_state = _sweep_base(backend, states, stage_state)
    backend.apply(point, base_state)
    grid = backend.grid.copy()
    inputs = (*_branch_masks(backend, positions), *_injections(backend, grid, point, states, base_state))
    start = np.nan_to_num(v_init, nan=1.0)

    def solve(chord: bool, rows: IntArray | None) -> BatchRows:
        part = inputs if rows is None else tuple(np.ascontiguousarray(x[rows]) for x in inputs)
        return _solve(grid, backend, part, start, threads=threads, chord=chord)

    solved = chord_first(solve, what="sweep")
    next_state = switched_states(backend, states, solved.v, solved.physical, settings=settings, allow_release=allow_release)
    return SweepRows(converged=solved.converged, v=solved.v, next_state=next_state)
