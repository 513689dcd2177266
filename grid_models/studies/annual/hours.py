"""One hour of the year: its operating point, solved in AC with reactive limits, with and without
the facility.

:class:`HourSolver` keeps its own lightsim2grid model (the loads and shunts change every hour) and
starts each solve from the previous hour's solution and regulator state of the same kind (with or
without the facility); a solve that fails from there is tried again from the peak case's solution,
then from a DC start with every regulator free. An hour without a solution is data, never dropped.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from grid_models.errors import InternalError
from grid_models.facility import StageLoad
from grid_models.solver.lightsim import LightSimBackend
from grid_models.solver.network import PreparedNetwork
from grid_models.solver.qlimits import QLimitedSolution, initial_q_state, solve_with_q_limits
from grid_models.solver.types import ComplexArray, IntArray, OperatingPoint, SolverSettings
from grid_models.studies.annual.dispatch import HourDispatch, MeritOrder
from grid_models.studies.annual.loads import HourlyLoads
from grid_models.studies.power_flow import StageSolve

__all__ = ["HourSolve", "HourSolver"]

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True)
class HourSolve:
    """One solved operating point of an hour (``stage`` as the analyses take it)."""

    stage: StageSolve
    dispatch: HourDispatch
    facility_mw: float

    @property
    def converged(self) -> bool:
        """Whether the AC power flow has a solution."""
        return self.stage.converged


@dataclass
class _Warm:
    """Where the next solve of one kind starts."""

    state: IntArray
    v: ComplexArray
    tries: list[int] = field(default_factory=lambda: [0, 0, 0])


class HourSolver:
    """Solves hours of a profile on a prepared grid (see module doc)."""

    def __init__(
        self,
        prepared: PreparedNetwork,
        settings: SolverSettings,
        *,
        loads: HourlyLoads,
        merit: MeritOrder,
        peak: StageSolve,
        poi: int,
        power_factor: float,
    ) -> None:
        self.prepared, self.settings, self.loads, self.merit = prepared, settings, loads, merit
        self.backend = LightSimBackend(prepared, settings)
        self.peak, self.poi = peak, poi
        self.q_per_mw = float(np.tan(np.arccos(power_factor)))
        self.hour = -1
        self._load_mask = np.zeros(len(prepared.net.load), dtype=np.bool_)
        self._load_mask[: prepared.facility_load] = True
        self._all_p = prepared.net.load.p_mw.to_numpy(dtype=np.float64).copy()
        self._all_q = prepared.net.load.q_mvar.to_numpy(dtype=np.float64).copy()
        self._shunt_q = loads.shunt_q_mvar.copy()
        self._load_area = prepared.bus_area[prepared.net.load.bus.to_numpy()[: prepared.facility_load]]
        self.area_load_mw: dict[int, float] = {}
        self.warm: dict[bool, _Warm] = {}

    def set_hour(self, hour: int) -> float:
        """Put the hour's loads and shunts into the grid model; returns the system load, MW."""
        p, q = self.loads.at(hour)
        count = self.prepared.facility_load
        self._all_p[:count], self._all_q[:count] = p, q
        grid = self.backend.grid
        grid.update_loads_p(self._load_mask, self._all_p)  # lightsim2grid takes them at float32 precision
        grid.update_loads_q(self._load_mask, self._all_q)
        shunts = self.loads.shunts_at(hour)
        for position in np.flatnonzero(shunts != self._shunt_q):
            grid.change_q_shunt(int(position), float(shunts[position]))
        self._shunt_q = shunts.copy()
        self.hour = hour
        areas, inverse = np.unique(self._load_area, return_inverse=True)
        self.area_load_mw = dict(zip(areas.tolist(), np.bincount(inverse, weights=p).tolist(), strict=True))
        return float(p.sum())

    def operating_point(self, *, facility_mw: float, label: str = "") -> tuple[OperatingPoint, HourDispatch, StageLoad | None]:
        """The hour's operating point (:meth:`set_hour`) with ``facility_mw`` at the POI, dispatched
        by the merit order; with its dispatch and the facility's load (None at 0 MW)."""
        dispatch = self.merit.hour(self.area_load_mw, facility_mw)
        load = None
        if facility_mw > 0:
            load = StageLoad(label=label, p_mw=facility_mw, q_mvar=facility_mw * self.q_per_mw, gpus=None, gpu_model=None)
        point = OperatingPoint(
            gen_p_mw=dispatch.gen_p_mw,
            facility_bus=self.poi if load is not None else -1,
            facility_p_mw=load.p_mw if load is not None else 0.0,
            facility_q_mvar=load.q_mvar if load is not None else 0.0,
            slack_weights=self.merit.slack_weights(dispatch),
        )
        return point, dispatch, load

    def solve(self, *, facility_mw: float, label: str = "") -> HourSolve:
        """The hour's :meth:`operating_point` solved in AC (see module doc)."""
        point, dispatch, load = self.operating_point(facility_mw=facility_mw, label=label)
        result, start = self._solve(point, with_facility=load is not None)
        stage = StageSolve(
            index=self.hour,
            load=load,
            poi=self.poi,
            gen_p_mw=dispatch.gen_p_mw,
            solution=result.solution,
            q_state=result.q_state,
            q_passes=result.passes,
            q_settled=result.settled,
            dispatch_iterations=0,
            unserved_mw=dispatch.unserved_mw,
            start=start,
        )
        return HourSolve(stage, dispatch, facility_mw)

    def _starts(self, with_facility: bool) -> list[tuple[str, IntArray, ComplexArray | None]]:
        warm = self.warm.get(with_facility) or self.warm.get(not with_facility)
        starts: list[tuple[str, IntArray, ComplexArray | None]] = []
        if warm is not None:
            starts.append(("previous hour", warm.state, warm.v))
        starts.append(("peak case", self.peak.q_state, self.peak.solution.v))
        starts.append(("dc", initial_q_state(self.prepared, self.settings), None))
        return starts

    def _solve(self, point: OperatingPoint, *, with_facility: bool) -> tuple[QLimitedSolution, str]:
        result: QLimitedSolution | None = None
        name = ""
        for start, state, v in self._starts(with_facility):
            name = start
            result = solve_with_q_limits(self.backend, point, initial_state=state, v_init=v, settings=self.settings)
            if result.solution.converged:
                self.warm[with_facility] = _Warm(result.q_state.copy(), result.solution.v.copy())
                break
        if result is None:  # _starts always holds the DC start
            raise InternalError("an hour was solved from no starting point")
        return result, name
