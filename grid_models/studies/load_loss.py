"""Load-loss event: the whole facility trips at once (10 Jul 2024, Virginia: ~1,500 MW of data-center
load dropped after a 230 kV fault; NERC incident review, Jan 2025).

From each solved stage the facility's demand disappears; the dispatchable units reduce output in
proportion to their room above Pmin (governor response), reactive limits are enforced, and the
post-trip voltages and flows are checked against the post-contingency criteria (0.90-1.10 pu,
emergency ratings). An element counts when it is beyond the limit after the trip but not in the
base case without the facility. Frequency is not modelled: the event size is compared with ERCOT's
~2,600 MW maximum tolerable loss (60.4 Hz limit) as context.
"""

from __future__ import annotations

import numpy as np

from grid_models.errors import InternalError
from grid_models.results.analyses import LoadLossResult, LoadLossStageResult
from grid_models.results.kinds import FindingCategory, Severity
from grid_models.results.study import Finding
from grid_models.results.text import stage_title
from grid_models.solver.lightsim import LightSimBackend
from grid_models.solver.qlimits import solve_with_q_limits
from grid_models.solver.types import OperatingPoint, RawSolution, SolverSettings
from grid_models.spec.study import Criteria
from grid_models.studies.dispatch import room_weights
from grid_models.studies.evaluation import branch_loading_percent, loading_beyond, monitored_buses, voltage_beyond
from grid_models.studies.power_flow import DispatchContext, StageSolve

__all__ = ["ERCOT_MAX_LOSS_MW", "VIRGINIA_2024_MW", "load_loss_findings", "run_load_loss"]

VIRGINIA_2024_MW = 1500.0  # REFERENCE.md section 2: NERC incident review (Jan 2025)
ERCOT_MAX_LOSS_MW = 2600.0  # REFERENCE.md section 2: ERCOT maximum tolerable loss (60.4 Hz limit)


def _trip_point(stage: StageSolve, context: DispatchContext, backend: LightSimBackend) -> OperatingPoint:
    prep = backend.prepared
    gen_p = stage.solution.gen_p_mw.copy()
    # what the slack unit carried beyond its schedule (demand the dispatchable units could not
    # serve) is the first to go when the facility trips; the units share the rest
    if stage.unserved_mw > 0:
        gen_p[prep.slack_gen] = stage.gen_p_mw[prep.slack_gen]
    footroom = np.where(context.eligible, np.clip(gen_p - prep.gen_pmin_mw, 0.0, None), 0.0)
    return OperatingPoint(gen_p_mw=gen_p, slack_weights=room_weights(footroom, fallback=prep.slack_gen))


def _fuel_reduction(backend: LightSimBackend, before: np.ndarray, after: RawSolution) -> dict[str, float]:
    fuels = np.array(backend.prepared.gen_fuel)
    change = after.gen_p_mw - before
    return {str(f): float(change[fuels == f].sum()) for f in sorted(set(fuels.tolist())) if abs(change[fuels == f].sum()) > 0.1}


def _stage_result(
    backend: LightSimBackend, stage: StageSolve, base: StageSolve, after: RawSolution, criteria: Criteria
) -> LoadLossStageResult:
    prep = backend.prepared
    load = stage.load
    if load is None:
        raise InternalError("the load-loss check was given the solve without the facility")
    result = LoadLossStageResult(
        stage_index=stage.index,
        label=load.label,
        lost_mw=load.p_mw,
        converged=after.converged,
        max_vm_pu=None,
        max_vm_bus=None,
        poi_vm_before_pu=float(stage.solution.vm_pu[stage.poi]),
        poi_vm_after_pu=None,
        overvoltages=0,
        overloads=0,
        worst_loading_percent=None,
        worst_loading_branch=None,
        generation_reduction_by_fuel={},
    )
    if not after.converged:
        return result
    watched = monitored_buses(prep, criteria)
    vm = np.where(watched, after.vm_pu, np.nan)
    high = int(np.nanargmax(vm))
    base_vm, base_loading = base.solution.vm_pu, branch_loading_percent(prep, base.solution, emergency=True)
    loading = branch_loading_percent(prep, after, emergency=True)
    vmax, lmax, setpoint = criteria.post_contingency_vm_max_pu, criteria.emergency_loading_max_percent, prep.bus_vm_set_pu
    high_after, high_before = voltage_beyond(after.vm_pu, setpoint, vmax, 1.0), voltage_beyond(base_vm, setpoint, vmax, 1.0)
    worst = int(np.nanargmax(np.nan_to_num(loading, nan=-1.0)))
    return result.model_copy(
        update={
            "max_vm_pu": float(vm[high]),
            "max_vm_bus": int(prep.bus_ids[high]),
            "poi_vm_after_pu": float(after.vm_pu[stage.poi]),
            "overvoltages": int(np.sum(watched & high_after & ~high_before)),
            "overloads": int(np.sum(loading_beyond(loading, lmax) & ~loading_beyond(base_loading, lmax))),
            "worst_loading_percent": float(loading[worst]) if np.isfinite(loading[worst]) else None,
            "worst_loading_branch": prep.branch_label(worst) if np.isfinite(loading[worst]) else None,
            "generation_reduction_by_fuel": _fuel_reduction(backend, stage.solution.gen_p_mw, after),
        }
    )


def run_load_loss(
    backend: LightSimBackend, solves: list[StageSolve], *, context: DispatchContext, criteria: Criteria, settings: SolverSettings
) -> LoadLossResult:
    """Trip the whole facility from every solved stage (see module doc)."""
    stages = []
    for stage in solves[1:]:
        if not stage.converged:
            continue
        point = _trip_point(stage, context, backend)
        tripped = solve_with_q_limits(backend, point, initial_state=stage.q_state, v_init=stage.solution.v, settings=settings)
        stages.append(_stage_result(backend, stage, solves[0], tripped.solution, criteria))
    return LoadLossResult(
        criteria=f"post-trip voltage <= {criteria.post_contingency_vm_max_pu:.2f} pu, loading <= "
        f"{criteria.emergency_loading_max_percent:.0f} % of emergency rating",
        stages=stages,
    )


def load_loss_findings(result: LoadLossResult) -> list[Finding]:
    """One finding per stage, with the size of the event in context."""
    found = []
    for stage in result.stages:
        name = stage_title(stage.label, stage.lost_mw)
        if not stage.converged:
            found.append(
                Finding(
                    severity=Severity.CRITICAL,
                    category=FindingCategory.LOAD_LOSS,
                    stage_index=stage.stage_index,
                    stage=stage.label,
                    what=f"{name}: after a sudden trip of the whole facility the grid has no AC solution",
                )
            )
            continue
        context = ""
        if stage.lost_mw >= ERCOT_MAX_LOSS_MW:
            context = f"; the loss exceeds ERCOT's ~{ERCOT_MAX_LOSS_MW:,.0f} MW maximum tolerable loss (frequency not modelled)"
        elif stage.lost_mw >= VIRGINIA_2024_MW:
            context = f"; the loss is at least the ~{VIRGINIA_2024_MW:,.0f} MW lost in Virginia on 10 Jul 2024"
        problems = stage.overvoltages + stage.overloads
        found.append(
            Finding(
                severity=Severity.VIOLATION if problems else (Severity.WARNING if context else Severity.INFO),
                category=FindingCategory.LOAD_LOSS,
                stage_index=stage.stage_index,
                stage=stage.label,
                what=f"{name}: if the whole facility trips at once, the highest voltage is {stage.max_vm_pu:.3f} pu at bus "
                f"{stage.max_vm_bus} (POI {stage.poi_vm_before_pu:.3f} -> {stage.poi_vm_after_pu:.3f} pu); {stage.overvoltages} "
                f"new overvoltages and {stage.overloads} new overloads{context}",
                value=stage.lost_mw,
                unit="MW",
                rule="post-contingency criteria (ATC); event size vs NERC incident review and ERCOT limits",
            )
        )
    return found
