"""Staged N-0 AC power flow: the facility demand at the POI for each growth stage.

The no-facility base case is solved first (from the grid's stored solution when it has one, then a
DC start, then flat). Each stage then adds its demand at the POI; the dispatch rule
(:mod:`grid_models.studies.dispatch`) shares it, and the change in losses, among the eligible
generators, iterating until the slack unit is back on its schedule. Every stage starts from the
previous stage's voltages and reactive-limit state, so a stage usually needs one or two solves.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import numpy as np

from grid_models.errors import InternalError, StudySpecError
from grid_models.facility import StageLoad
from grid_models.solver.network import PreparedNetwork
from grid_models.solver.qlimits import QLimitedSolution, initial_q_state, solve_with_q_limits
from grid_models.solver.types import (
    ComplexArray,
    FloatArray,
    IntArray,
    OperatingPoint,
    PowerFlowBackend,
    RawSolution,
    SolverSettings,
)
from grid_models.spec.dispatch import DispatchOptions
from grid_models.spec.study import InitialVoltage
from grid_models.studies.dispatch import share_change

__all__ = ["DispatchContext", "StageSolve", "dispatch_context", "solve_base_case", "solve_stage"]


@dataclass
class StageSolve:
    """The outcome of one stage's solve (index 0: the base case without the facility)."""

    index: int
    load: StageLoad | None
    poi: int
    gen_p_mw: FloatArray
    solution: RawSolution
    q_state: IntArray
    q_passes: int
    q_settled: bool
    dispatch_iterations: int
    unserved_mw: float
    start: str
    shared_mw: float = 0.0  # generation change the dispatch shared: demand plus the change in losses
    loss_slope: float = -1.0  # d(slack residual)/d(shared) seen in this stage, the next stage's first guess

    @property
    def converged(self) -> bool:
        """Whether the stage's power flow converged."""
        return self.solution.converged


@dataclass(frozen=True)
class DispatchContext:
    """Who may move and from where: the base schedule with the slack unit at its solved output."""

    options: DispatchOptions
    base_p_mw: FloatArray
    eligible: np.ndarray
    slack_gen: int


def dispatch_context(prepared: PreparedNetwork, base: StageSolve, options: DispatchOptions) -> DispatchContext:
    """The dispatch starting point after the base case (the slack's solved output is its schedule)."""
    slack_gen = prepared.slack_gen
    base_p = base.gen_p_mw.copy()
    base_p[slack_gen] = base.solution.slack_p_mw
    fuels = {fuel.lower() for fuel in options.dispatchable_fuels}
    eligible = np.array([fuel.lower() in fuels for fuel in prepared.gen_fuel], dtype=bool)
    if options.same_area_only:
        eligible &= prepared.bus_area[prepared.gen_bus] == prepared.bus_area[base.poi]
    if not eligible.any():
        area = f" in the POI's area {int(prepared.bus_area[base.poi])}" if options.same_area_only else ""
        grid_fuels = sorted(set(prepared.gen_fuel))
        raise StudySpecError(
            f"no generator{area} can pick up the demand: dispatch.dispatchable_fuels {sorted(fuels)} matches none of them "
            f"(the grid's fuels: {', '.join(grid_fuels)}); list theirs, e.g. "
            f'"dispatch": {{"dispatchable_fuels": {json.dumps(grid_fuels)}}}'
            + (" or set dispatch.same_area_only false" if options.same_area_only else "")
        )
    return DispatchContext(options=options, base_p_mw=base_p, eligible=eligible, slack_gen=slack_gen)


def _starting_points(prepared: PreparedNetwork, initial: InitialVoltage) -> list[tuple[str, ComplexArray | None]]:
    flat = np.ones(prepared.n_bus, dtype=np.complex128)
    flat[prepared.group_bus] = prepared.group_vm_set_pu
    has_case = bool(np.isfinite(prepared.vm_case_pu).all() and np.isfinite(prepared.va_case_degree).all())
    case = prepared.vm_case_pu * np.exp(1j * np.deg2rad(prepared.va_case_degree - prepared.va_case_degree[prepared.slack_bus]))
    options: dict[InitialVoltage, list[tuple[str, ComplexArray | None]]] = {
        InitialVoltage.CASE: [("case", case)] if has_case else [],
        InitialVoltage.DC: [("dc", None)],
        InitialVoltage.FLAT: [("flat", flat)],
    }
    if initial is InitialVoltage.AUTO:
        return options[InitialVoltage.CASE] + options[InitialVoltage.DC] + options[InitialVoltage.FLAT]
    return options[initial] or options[InitialVoltage.DC]


def solve_base_case(backend: PowerFlowBackend, *, poi: int, initial: InitialVoltage, settings: SolverSettings) -> StageSolve:
    """Solve the grid without the facility, trying the starting points in order."""
    prepared = backend.prepared
    point = OperatingPoint(gen_p_mw=prepared.gen_p_mw.copy())
    result: QLimitedSolution | None = None
    tried: list[str] = []
    for name, start in _starting_points(prepared, initial):
        tried.append(name)
        result = solve_with_q_limits(
            backend, point, initial_state=initial_q_state(prepared, settings), v_init=start, settings=settings
        )
        if result.solution.converged:
            break
    if result is None:  # _starting_points always yields the flat start
        raise InternalError("a stage was solved from no starting point")
    return StageSolve(
        index=0,
        load=None,
        poi=poi,
        gen_p_mw=point.gen_p_mw,
        solution=result.solution,
        q_state=result.q_state,
        q_passes=result.passes,
        q_settled=result.settled,
        dispatch_iterations=0,
        unserved_mw=0.0,
        start=tried[-1],
    )


def _loss_factor(previous: StageSolve) -> float:
    """First guess of (demand + change in losses) / demand, from the previous stage (1 for the first)."""
    if previous.load is None or previous.load.p_mw <= 0 or not previous.converged:
        return 1.0
    return float(np.clip(previous.shared_mw / previous.load.p_mw, 0.8, 1.25))


class _Redispatch:
    """The ``adjust`` hook of a stage solve: re-share the slack's residual until it is within tolerance.

    The residual r (the slack unit's output beyond its schedule) is the change in losses not yet
    shared. Ideally dr/d(shared) = -1 and sharing r more lands on r = 0, but re-sharing moves
    generation away from the slack and changes the losses again (slopes near -1.4 on activsg70k),
    so the step is a secant step ``-r / slope``, starting from the previous stage's slope. A
    slope outside [-4, -0.25] (a reactive-limit switch in between) falls back to the plain step.
    """

    def __init__(
        self,
        prepared: PreparedNetwork,
        context: DispatchContext,
        load: StageLoad,
        *,
        poi: int,
        shared_mw: float,
        slope: float,
        settings: SolverSettings,
    ) -> None:
        self.prepared, self.context, self.load, self.poi = prepared, context, load, poi
        self.shared_mw, self.slope, self.settings = shared_mw, slope, settings
        self.history: tuple[float, float] | None = None
        self.iterations = 0
        self.unserved_mw = 0.0

    def point(self) -> OperatingPoint:
        """The operating point for the current amount to share."""
        share = share_change(
            rule=self.context.options.rule,
            delta_mw=self.shared_mw,
            p_mw=self.context.base_p_mw,
            pmin_mw=self.prepared.gen_pmin_mw,
            pmax_mw=self.prepared.gen_pmax_mw,
            eligible=self.context.eligible,
            cost=self.prepared.gen_cost,
        )
        self.iterations += 1
        self.unserved_mw = share.unserved_mw
        gen_p = self.context.base_p_mw + share.delta_p_mw
        return OperatingPoint(
            gen_p_mw=gen_p, facility_bus=self.poi, facility_p_mw=self.load.p_mw, facility_q_mvar=self.load.q_mvar
        )

    def __call__(self, point: OperatingPoint, solution: RawSolution) -> OperatingPoint | None:
        residual = solution.slack_p_mw - point.gen_p_mw[self.context.slack_gen]
        tolerance = self.settings.loss_tolerance_mw
        if self.unserved_mw > 0 and residual > -tolerance:
            # every eligible unit is at its limit: what the slack unit carries beyond its schedule is
            # what they cannot serve (the amount shared was a guess from the previous stage's losses)
            self.unserved_mw = max(residual, 0.0)
            return None
        if abs(residual) <= tolerance:
            return None
        if self.history is not None and self.shared_mw != self.history[0]:
            slope = (residual - self.history[1]) / (self.shared_mw - self.history[0])
            if -4.0 < slope < -0.25:
                self.slope = slope
        self.history = (self.shared_mw, residual)
        self.shared_mw -= residual / self.slope
        return self.point()


def solve_stage(
    backend: PowerFlowBackend,
    *,
    index: int,
    load: StageLoad,
    previous: StageSolve,
    context: DispatchContext,
    settings: SolverSettings,
) -> StageSolve:
    """Solve one stage: place its demand at the POI and re-dispatch until the slack is on schedule."""
    redispatch = _Redispatch(
        backend.prepared,
        context,
        load,
        poi=previous.poi,
        shared_mw=load.p_mw * _loss_factor(previous),
        slope=previous.loss_slope,
        settings=settings,
    )
    v_start = previous.solution.v if previous.converged else None
    result = solve_with_q_limits(
        backend, redispatch.point(), initial_state=previous.q_state, v_init=v_start, settings=settings, adjust=redispatch
    )
    return StageSolve(
        index=index,
        load=load,
        poi=previous.poi,
        gen_p_mw=result.point.gen_p_mw,
        solution=result.solution,
        q_state=result.q_state,
        q_passes=result.passes,
        q_settled=result.settled,
        dispatch_iterations=redispatch.iterations,
        unserved_mw=redispatch.unserved_mw,
        start="previous stage" if v_start is not None else "dc",
        shared_mw=redispatch.shared_mw,
        loss_slope=redispatch.slope,
    )
