"""The study area: the elements whose flow or voltage responds to the facility's demand.

Measured, not guessed: the base case is solved a second time with ``probe_mw`` more demand at the
POI, shared by the study's dispatch rule, with every generator's reactive state held; a branch
whose active flow moves by at least ``flow_sensitivity_min`` MW per MW, or a bus whose voltage
moves by at least ``voltage_sensitivity_min_pu_per_100mw``, is in the study area, and so are
the generators connected to the buses of the area.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from grid_models.errors import SolverError
from grid_models.solver.network import BoolArray, PreparedNetwork
from grid_models.solver.types import FloatArray, OperatingPoint, PowerFlowBackend
from grid_models.spec.study import StudyAreaMode, StudyAreaOptions
from grid_models.studies.dispatch import share_change
from grid_models.studies.power_flow import DispatchContext, StageSolve

__all__ = ["StudyArea", "select_study_area"]


@dataclass(frozen=True)
class StudyArea:
    """Elements of the study area (masks by position) and the measured sensitivities."""

    mode: StudyAreaMode
    branches: BoolArray
    buses: BoolArray
    generators: BoolArray
    flow_sensitivity: FloatArray  # MW per MW of facility demand, per branch
    voltage_sensitivity_pu_per_100mw: FloatArray  # per bus

    @classmethod
    def whole_grid(cls, prepared: PreparedNetwork) -> StudyArea:
        """Every in-service element."""
        return cls(
            mode=StudyAreaMode.WHOLE_GRID,
            branches=prepared.branch_in_service.copy(),
            buses=np.ones(prepared.n_bus, dtype=bool),
            generators=np.ones(len(prepared.gen_ids), dtype=bool),
            flow_sensitivity=np.full(prepared.n_branch, np.nan),
            voltage_sensitivity_pu_per_100mw=np.full(prepared.n_bus, np.nan),
        )


def _probe(
    backend: PowerFlowBackend, base: StageSolve, context: DispatchContext, probe_mw: float
) -> tuple[FloatArray, FloatArray]:
    prep = backend.prepared
    share = share_change(
        rule=context.options.rule,
        delta_mw=probe_mw,
        p_mw=context.base_p_mw,
        pmin_mw=prep.gen_pmin_mw,
        pmax_mw=prep.gen_pmax_mw,
        eligible=context.eligible,
        cost=prep.gen_cost,
    )
    point = OperatingPoint(gen_p_mw=context.base_p_mw + share.delta_p_mw, facility_bus=base.poi, facility_p_mw=probe_mw)
    probed = backend.solve(point, base.q_state, base.solution.v)
    if not probed.converged:
        raise SolverError(
            f"the {probe_mw:g} MW study-area probe at the POI does not converge; lower analyses.contingency.study_area.probe_mw"
        )
    flow = np.abs(probed.p_from_mw - base.solution.p_from_mw) / probe_mw
    voltage = np.abs(probed.vm_pu - base.solution.vm_pu) / probe_mw * 100.0
    return flow, voltage


def select_study_area(
    backend: PowerFlowBackend, *, base: StageSolve, context: DispatchContext, options: StudyAreaOptions
) -> StudyArea:
    """The study area around ``base.poi`` (see module doc); the whole grid when asked."""
    prep = backend.prepared
    if options.mode is StudyAreaMode.WHOLE_GRID:
        return StudyArea.whole_grid(prep)
    flow, voltage = _probe(backend, base, context, options.probe_mw)
    branches = prep.branch_in_service & (flow >= options.flow_sensitivity_min)
    branches |= prep.branch_in_service & ((prep.branch_from == base.poi) | (prep.branch_to == base.poi))
    buses = voltage >= options.voltage_sensitivity_min_pu_per_100mw
    buses[prep.branch_from[branches]] = True
    buses[prep.branch_to[branches]] = True
    buses[base.poi] = True
    return StudyArea(
        mode=options.mode,
        branches=np.asarray(branches, dtype=np.bool_),
        buses=np.asarray(buses, dtype=np.bool_),
        generators=np.asarray(buses[prep.gen_bus], dtype=np.bool_),
        flow_sensitivity=flow,
        voltage_sensitivity_pu_per_100mw=voltage,
    )
