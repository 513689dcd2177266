"""Many branch outages at once: lightsim2grid's multi-threaded C++ contingency analysis.

The batch solves every outage from the same pre-contingency state (set-points, generators pinned
at reactive limits, slack participation) without rebuilding the Jacobian structure per outage,
and solves outages that cut buses off on the slack bus's component. It does not move reactive
limits, so each row also reports whether a free regulator went beyond its capability or a
pinned one would be released: those rows must be solved again one by one (the caller does).
Rows are produced in chunks so that memory stays bounded on large grids.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from grid_models.solver.lightsim import BranchAdmittances, LightSimBackend, chord_config, newton_config
from grid_models.solver.qlimits import released
from grid_models.solver.types import (
    Q_AT_MAX,
    Q_AT_MIN,
    Q_FREE,
    ComplexArray,
    FloatArray,
    IntArray,
    OperatingPoint,
    SolverSettings,
)

__all__ = [
    "BatchChunk",
    "BatchRows",
    "Violations",
    "chord_first",
    "configure_batch",
    "largest_end_flow_mva",
    "run_branch_batch",
    "switched_states",
    "violation_rows",
]

logger = logging.getLogger(__name__)

BoolArray = npt.NDArray[np.bool_]


def largest_end_flow_mva(
    v: ComplexArray, admittances: BranchAdmittances, branch_from: IntArray, branch_to: IntArray, sn_mva: float
) -> FloatArray:
    """Apparent power of each branch at its more loaded end (MVA), for one or many voltage
    vectors (rows): ``max(|V_from| |I_from|, |V_to| |I_to|)`` with the two-port currents."""
    v_from, v_to = v[..., branch_from], v[..., branch_to]
    s_from = np.abs(v_from) * np.abs(admittances.y11 * v_from + admittances.y12 * v_to)
    s_to = np.abs(v_to) * np.abs(admittances.y21 * v_from + admittances.y22 * v_to)
    return np.asarray(np.fmax(s_from, s_to) * sn_mva, dtype=np.float64)


@dataclass
class BatchChunk:
    """Results of a chunk of branch outages (one row per outage)."""

    positions: IntArray
    converged: BoolArray
    v: ComplexArray  # rows x buses; NaN for buses cut off or rows that did not converge
    needs_exact: BoolArray  # reactive limits would move: solve the row again one by one
    suggested_q_state: IntArray  # rows x groups: the pre-contingency state with the batch's switches applied


Violations = list[list[tuple[Any, int, float, float]]]  # per row: (type, element, value, limit)


def violation_rows(physical: Any) -> Violations:
    """lightsim2grid's physical violations per row as plain tuples (its objects do not outlive the
    analysis's next change)."""
    return [[(x.violation_type, int(x.element_id), float(x.value), float(x.limit)) for x in row] for row in physical]


def switched_states(
    backend: LightSimBackend,
    states: IntArray,
    v: ComplexArray,
    violations: Violations,
    *,
    settings: SolverSettings,
    allow_release: bool,
) -> IntArray:
    """One reactive-limit switching step per row (rows x groups), the rule of
    :func:`grid_models.solver.qlimits.next_q_state` read off a batch's results: a free regulator
    lightsim2grid reports beyond its capability (LOW_Q / HIGH_Q on its bus) by more than the
    tolerance is pinned; a pinned one whose voltage moved to the side of its set-point where it
    needs less than its limit is released. Nothing switches when ``settings.enforce_q_limits`` is off."""
    import lightsim2grid.lightsim2grid_cpp as ls

    if not settings.enforce_q_limits:
        return states.copy()
    prep = backend.prepared
    movable = ~prep.group_is_slack & ~prep.group_fixed_q
    group_of_bus = np.full(prep.n_bus, -1, dtype=np.int64)
    group_of_bus[prep.group_bus[movable]] = np.flatnonzero(movable)
    side = {ls.LimitViolationType.LOW_Q: Q_AT_MIN, ls.LimitViolationType.HIGH_Q: Q_AT_MAX}
    new = states.copy()
    tolerance = settings.q_tolerance_mvar
    for row, found in enumerate(violations):
        for kind, element, value, limit in found:
            group = group_of_bus[element] if kind in side else -1
            if group >= 0 and states[row, group] == Q_FREE and abs(value - limit) > tolerance:
                new[row, group] = side[kind]
    if allow_release:
        new[movable & released(prep, state=states, vm_pu=np.abs(v), v_tolerance_pu=settings.v_tolerance_pu)] = Q_FREE
    return new


def _row_order(defaults: list[list[int]], chunk: IntArray) -> IntArray:
    """Row of the analysis holding each outage of ``chunk`` (the analysis may reorder them)."""
    row_of = {int(outage[0]): row for row, outage in enumerate(defaults)}
    return np.array([row_of[int(p)] for p in chunk], dtype=np.int64)


def configure_batch(batch: Any, grid: Any, threads: int, *, chord: bool) -> Any:
    """The settings every lightsim2grid batch here runs with (the outage batch and the sweeps):
    chord or full Newton, ``threads`` threads, the rest of the grid solved when an outage cuts
    buses off, and the physical checks the reactive-limit switching reads."""
    batch.set_algo_config(chord_config(grid) if chord else newton_config(grid))
    batch.nb_thread = threads
    batch.handle_disconnected_grid = True
    batch.compute_physical_violations = True
    return batch


@dataclass
class BatchRows:
    """One row per solve of a lightsim2grid batch."""

    converged: BoolArray
    v: ComplexArray  # rows x buses
    physical: Violations

    @classmethod
    def read(cls, converged: Any, v: Any, physical: Violations, *, slack_bus: int) -> BatchRows:
        """From a batch's results: slack bus at angle 0, NaN for buses cut off and for rows that
        did not converge."""
        converged = np.array(converged, dtype=bool)
        v = np.array(v, dtype=np.complex128, copy=True)
        v = v * np.exp(-1j * np.angle(v[:, [slack_bus]]))
        v[np.abs(v) == 0] = np.nan
        v[~converged] = np.nan
        return cls(converged, v, physical)

    def replace(self, rows: IntArray, again: BatchRows) -> None:
        """Take ``again``'s results for ``rows``."""
        self.converged[rows], self.v[rows] = again.converged, again.v
        for row, found in zip(rows, again.physical, strict=True):
            self.physical[row] = found


def chord_first(solve: Callable[[bool, IntArray | None], BatchRows], *, what: str) -> BatchRows:
    """``solve(chord, rows)`` with chord for every row (``rows`` None), then with full Newton for
    the rows chord left unconverged, so which rows converge is Newton's answer."""
    solved = solve(True, None)
    retry = np.flatnonzero(~solved.converged)
    logger.debug("%s_chord_unconverged rows=%d of=%d", what, len(retry), len(solved.converged))
    if len(retry):
        solved.replace(retry, solve(False, retry))
    return solved


def _solve(analysis: Any, positions: IntArray, start: ComplexArray, backend: LightSimBackend) -> BatchRows:
    """Solve the outages of ``positions`` (rows in that order). When lightsim2grid cannot solve
    its own pre-contingency case (it raises), every row comes back unconverged: the caller
    solves them one by one, where each outage gets its own answer."""
    settings = backend.settings
    outages = [int(p) for p in positions]
    analysis.add_multiple_n1(outages)
    try:
        analysis.compute(start.copy(), settings.max_iterations, settings.tolerance_pu)
        order = _row_order(analysis.my_defaults(), positions)
        physical = analysis.get_physical_violations()
        return BatchRows.read(
            np.array(analysis.converged_mask(), dtype=bool)[order],
            np.array(analysis.get_voltages())[order],
            violation_rows(physical[row] for row in order),
            slack_bus=backend.prepared.slack_bus,
        )
    except RuntimeError as exc:
        logger.warning("batch_failed rows=%d error=%s; solving them one by one", len(outages), exc)
        nothing = np.full((len(outages), backend.prepared.n_bus), np.nan, dtype=np.complex128)
        return BatchRows(np.zeros(len(outages), dtype=bool), nothing, [[] for _ in outages])
    finally:
        analysis.remove_multiple_n1(outages)


class _Analyses:
    """The chord batch, and a Newton one (built when first needed) for the rows chord leaves."""

    def __init__(self, backend: LightSimBackend, threads: int) -> None:
        self.backend, self.threads = backend, threads
        self._built: dict[bool, Any] = {}

    def _analysis(self, chord: bool) -> Any:
        import lightsim2grid.lightsim2grid_cpp as ls

        if chord not in self._built:
            grid = self.backend.grid
            self._built[chord] = configure_batch(ls.ContingencyAnalysisCPP(grid.copy(), False), grid, self.threads, chord=chord)
        return self._built[chord]

    def solve(self, positions: IntArray, start: ComplexArray) -> BatchRows:
        def solve(chord: bool, rows: IntArray | None) -> BatchRows:
            return _solve(self._analysis(chord), positions if rows is None else positions[rows], start, self.backend)

        return chord_first(solve, what="batch")


def run_branch_batch(
    backend: LightSimBackend,
    point: OperatingPoint,
    *,
    q_state: IntArray,
    v_init: ComplexArray,
    positions: IntArray,
    settings: SolverSettings,
    threads: int = 2,
    chunk_rows: int = 512,
) -> Iterator[BatchChunk]:
    """Solve the outage of each branch in ``positions`` from the state ``point``/``q_state``.

    Yields chunks in the order of ``positions``; a row is flagged for an exact solve when the
    reactive-limit rules (with the tolerances of ``settings``) would switch a regulator.
    """
    backend.apply(point, q_state)
    analyses = _Analyses(backend, threads)
    start = np.nan_to_num(v_init, nan=1.0)
    for first in range(0, len(positions), chunk_rows):
        chunk = positions[first : first + chunk_rows]
        solved = analyses.solve(chunk, start)
        states = switched_states(
            backend,
            np.tile(q_state, (len(chunk), 1)),
            solved.v,
            solved.physical,
            settings=settings,
            allow_release=settings.max_q_passes // 2 > 1,  # the first pass, as in solve_with_q_limits
        )
        trouble = (states != q_state).any(axis=1)
        yield BatchChunk(
            positions=chunk,
            converged=solved.converged,
            v=solved.v,
            needs_exact=trouble & solved.converged,
            suggested_q_state=states,
        )
