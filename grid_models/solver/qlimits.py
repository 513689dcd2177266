"""Generator reactive limits: which voltage regulators sit at a limit (PV <-> PQ switching).

A regulating bus (all in-service generators at one bus, their reactive ranges summed) holds its
voltage set-point while its reactive output stays within ``[qmin, qmax]``. The loop solves, pins
every regulator beyond a limit at that limit, and releases every pinned regulator whose bus
voltage has moved to the side of its set-point where it would need less than the limit (at qmax
with the voltage above the set-point, at qmin with the voltage below), until nothing changes.

Why both directions: pandapower's ``enforce_q_lims`` (MATPOWER's algorithm) pins every violator
at once and never releases one. On activsg2000 that leaves 49 regulators pinned although their
voltage is on the wrong side of the set-point; the release step removes exactly those, as
planning tools do. To guarantee termination, releasing stops after half of the allowed passes
(then the loop only pins, like MATPOWER), and a repeated state ends the loop as "not settled".
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from grid_models.solver.network import BoolArray, PreparedNetwork, group_reactive_limits
from grid_models.solver.types import (
    Q_AT_MAX,
    Q_AT_MIN,
    Q_FREE,
    ComplexArray,
    FloatArray,
    IntArray,
    OperatingPoint,
    PowerFlowBackend,
    RawSolution,
    SolverSettings,
)

__all__ = [
    "QLimitedSolution",
    "generator_q_mvar",
    "group_reactive_output",
    "initial_q_state",
    "next_q_state",
    "released",
    "solve_with_q_limits",
]


@dataclass
class QLimitedSolution:
    """A solve with its final regulator state.

    Attributes:
        solution: the last solve.
        q_state: per regulator group: 0 free (PV), +1 pinned at qmax, -1 pinned at qmin.
        passes: solves used.
        settled: the state stopped changing (False: passes ran out or the state cycled).
        point: the operating point of the last solve.
    """

    solution: RawSolution
    q_state: IntArray
    passes: int
    settled: bool
    point: OperatingPoint


def initial_q_state(prepared: PreparedNetwork, settings: SolverSettings) -> IntArray:
    """Every regulator free, except, when reactive limits are enforced, those with no reactive range
    (pinned from the start). Without limits every generator regulates its bus, a unit with
    QMIN = QMAX = 0 included, as MATPOWER and pandapower do with limits off."""
    state = np.full(len(prepared.group_bus), Q_FREE, dtype=np.int64)
    if settings.enforce_q_limits:
        state[prepared.group_fixed_q & ~prepared.group_is_slack] = Q_AT_MAX
    return state


def group_reactive_output(prepared: PreparedNetwork, solution: RawSolution) -> FloatArray:
    """Reactive output of each regulator group (sum over its generators)."""
    output = np.bincount(prepared.gen_group, weights=np.nan_to_num(solution.gen_q_mvar), minlength=len(prepared.group_bus))
    return np.asarray(output, dtype=np.float64)


def next_q_state(
    prepared: PreparedNetwork,
    *,
    state: IntArray,
    q_group_mvar: FloatArray,
    vm_pu: FloatArray,
    settings: SolverSettings,
    allow_release: bool,
    gen_out: tuple[int, ...] = (),
) -> IntArray:
    """One switching step: pin free regulators beyond a limit, release pinned ones (see module doc)."""
    qmin, qmax, fixed = group_reactive_limits(prepared, gen_out)
    new = state.copy()
    free = state == Q_FREE
    movable = ~prepared.group_is_slack & ~fixed & np.isfinite(vm_pu[prepared.group_bus])  # not on buses cut off
    tol = settings.q_tolerance_mvar
    with np.errstate(invalid="ignore"):
        new[free & movable & (q_group_mvar > qmax + tol)] = Q_AT_MAX
        new[free & movable & (q_group_mvar < qmin - tol)] = Q_AT_MIN
    if allow_release:
        new[movable & released(prepared, state=state, vm_pu=vm_pu, v_tolerance_pu=settings.v_tolerance_pu)] = Q_FREE
    return new


def released(prepared: PreparedNetwork, *, state: IntArray, vm_pu: FloatArray, v_tolerance_pu: float) -> BoolArray:
    """Pinned regulators whose bus voltage moved to the side of their set-point where they need
    less than their limit (at qmax above it, at qmin below it). ``state`` and ``vm_pu`` (buses)
    may hold one row per outage."""
    vm = vm_pu[..., prepared.group_bus]
    with np.errstate(invalid="ignore"):
        above = (state == Q_AT_MAX) & (vm > prepared.group_vm_set_pu + v_tolerance_pu)
        below = (state == Q_AT_MIN) & (vm < prepared.group_vm_set_pu - v_tolerance_pu)
    return np.asarray(above | below, dtype=np.bool_)


Adjust = Callable[[OperatingPoint, RawSolution], "OperatingPoint | None"]


def solve_with_q_limits(
    backend: PowerFlowBackend,
    point: OperatingPoint,
    *,
    initial_state: IntArray,
    v_init: ComplexArray | None,
    settings: SolverSettings,
    adjust: Adjust | None = None,
    visited: tuple[IntArray, ...] = (),
    passes_done: int = 0,
) -> QLimitedSolution:
    """Solve ``point`` and settle the regulators' limits, starting from ``initial_state``.

    ``adjust(point, solution)`` may return a corrected operating point after each solve (the stage
    solve uses it to re-share the change in losses) or ``None`` when the point is final; the
    regulator state and the point are updated in the same pass, so a stage usually needs two
    solves. Each pass starts from the previous pass's voltages. Returns the last solve even when
    it did not converge (``solution.converged`` False) so callers can report it.

    ``visited`` and ``passes_done`` continue a loop whose first passes ran elsewhere (the batch
    contingency solver), so that both paths follow exactly the same sequence of states.
    """
    state = initial_state.copy()
    seen: set[bytes] = {state.tobytes(), *(s.tobytes() for s in visited)}
    solution = backend.solve(point, state, v_init)
    passes = passes_done + 1
    while solution.converged and passes < settings.max_q_passes:
        new_state = state
        if settings.enforce_q_limits:
            new_state = next_q_state(
                backend.prepared,
                state=state,
                q_group_mvar=group_reactive_output(backend.prepared, solution),
                vm_pu=solution.vm_pu,
                settings=settings,
                allow_release=passes < settings.max_q_passes // 2,
                gen_out=point.gen_out,
            )
        new_point = adjust(point, solution) if adjust is not None else None
        state_changed = not np.array_equal(new_state, state)
        if not state_changed and new_point is None:
            return QLimitedSolution(solution, state, passes, settled=True, point=point)
        if state_changed and new_point is None and new_state.tobytes() in seen:
            return QLimitedSolution(solution, state, passes, settled=False, point=point)
        seen.add(new_state.tobytes())
        state, point = new_state, new_point or point
        solution = backend.solve(point, state, solution.v)
        passes += 1
    return QLimitedSolution(solution, state, passes, settled=False, point=point)


def generator_q_mvar(prepared: PreparedNetwork, solution: RawSolution, q_state: IntArray) -> FloatArray:
    """Reactive output per generator, shared within a bus as MATPOWER does.

    A pinned group's generators sit at their own limits; a free group's output is shared in
    proportion to the generators' reactive ranges.
    """
    group = prepared.gen_group
    q_group = group_reactive_output(prepared, solution)
    span = prepared.group_qmax_mvar - prepared.group_qmin_mvar
    with np.errstate(divide="ignore", invalid="ignore"):
        share = np.where(span[group] > 0, (q_group[group] - prepared.group_qmin_mvar[group]) / span[group], 0.0)
    free = prepared.gen_qmin_mvar + share * (prepared.gen_qmax_mvar - prepared.gen_qmin_mvar)
    pinned_max = q_state[group] == Q_AT_MAX
    pinned_min = q_state[group] == Q_AT_MIN
    return np.where(pinned_max, prepared.gen_qmax_mvar, np.where(pinned_min, prepared.gen_qmin_mvar, free))
