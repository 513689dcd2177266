"""Check solved stages against the planning criteria and compare them with the base case."""

from __future__ import annotations

import numpy as np

from grid_models.results.kinds import ViolationStatus
from grid_models.results.study import BranchChange, BranchViolation, BusViolation, FuelDispatch, StageResult
from grid_models.solver.network import BoolArray, PreparedNetwork
from grid_models.solver.types import FloatArray, RawSolution
from grid_models.spec.study import Criteria
from grid_models.studies.power_flow import StageSolve

__all__ = [
    "HELD_TOLERANCE_PU",
    "actual_generation_mw",
    "branch_flow_mva",
    "branch_loading_percent",
    "evaluate_stage",
    "loading_beyond",
    "monitored_buses",
    "voltage_beyond",
]

# Limits apply as stated: a voltage or a loading is beyond its limit when it is past it by any
# amount. One tolerance, confined to the buses that need it: a bus that a generator holds at its
# voltage set-point sits exactly on the set-point, and a set-point on a limit (many ACTIVSg units
# regulate at 1.05 pu) would otherwise read as beyond it by the last bits of floating-point
# arithmetic. A held bus is beyond a limit only when it is past it by more than HELD_TOLERANCE_PU.
HELD_TOLERANCE_PU = 1e-6
# a bus within this of its regulators' set-point is held there: a PV bus sits on it to float
# precision, and the N-1 tables store voltages as float32 (rounded by up to 6e-8 pu)
_HELD_PU = 2e-7
_MOVED_MW = 0.1  # the slack unit ends within the dispatch loop's tolerance (0.05 MW) of its schedule


def branch_flow_mva(solution: RawSolution) -> FloatArray:
    """Apparent power at the more loaded end of every branch, MVA."""
    s_from = np.hypot(solution.p_from_mw, solution.q_from_mvar)
    s_to = np.hypot(solution.p_to_mw, solution.q_to_mvar)
    return np.fmax(s_from, s_to)


def branch_loading_percent(prepared: PreparedNetwork, solution: RawSolution, *, emergency: bool = False) -> FloatArray:
    """Loading in % of the normal (or emergency) MVA rating; NaN for unrated or switched-out branches."""
    rating = prepared.rate_emergency_mva if emergency else prepared.rate_normal_mva
    with np.errstate(divide="ignore", invalid="ignore"):
        loading = branch_flow_mva(solution) / rating * 100.0
    return np.asarray(np.where(prepared.branch_in_service & (rating > 0), loading, np.nan), dtype=np.float64)


def voltage_beyond(vm_pu: FloatArray, setpoint_pu: FloatArray, limit_pu: float, sign: float) -> BoolArray:
    """Which voltages are past ``limit_pu`` (``sign`` +1: above it, -1: below it). ``setpoint_pu``
    is the regulators' set-point of each column's bus (NaN where none); ``vm_pu`` may be one
    solution (buses) or many (rows x buses). NaN voltages (dead buses) are never beyond.
    Resolution: float64 stage solutions exactly; float32 outage tables to 1e-7 pu."""
    with np.errstate(invalid="ignore"):
        held = np.abs(vm_pu - setpoint_pu) <= _HELD_PU
        return np.asarray(sign * (vm_pu - limit_pu) > np.where(held, HELD_TOLERANCE_PU, 0.0), dtype=np.bool_)


def loading_beyond(loading_percent: FloatArray, limit_percent: float) -> BoolArray:
    """Which loadings exceed ``limit_percent`` (NaN: unrated or out of service, never beyond)."""
    return np.asarray(np.nan_to_num(loading_percent, nan=-np.inf) > limit_percent, dtype=np.bool_)


def monitored_buses(prepared: PreparedNetwork, criteria: Criteria) -> BoolArray:
    """Buses whose voltage is checked: in service, at or above ``monitored_min_kv`` (100 kV, the
    Bulk Electric System, by default), not a generator terminal unless those are asked for, and not
    the star point of a three-winding transformer (a node of its model, not of the grid)."""
    in_service = prepared.net.bus.in_service.to_numpy(dtype=bool) & ~prepared.bus_is_star
    terminals = np.zeros(prepared.n_bus, dtype=np.bool_) if criteria.monitor_generator_terminals else prepared.generator_terminal
    return np.asarray(in_service & (prepared.bus_vn_kv >= criteria.monitored_min_kv) & ~terminals, dtype=np.bool_)


def actual_generation_mw(stage: StageSolve) -> FloatArray:
    """Active output per generator: the schedule, with the slack unit at its solved output."""
    if stage.solution.converged:
        return stage.solution.gen_p_mw.copy()
    return stage.gen_p_mw.copy()


def _status(is_base: bool, base_violated: bool, attributable: bool) -> ViolationStatus:
    """Classify a violation against the base case (see :class:`ViolationStatus`)."""
    if is_base:
        return ViolationStatus.PRE_EXISTING
    if base_violated:
        return ViolationStatus.WORSENED if attributable else ViolationStatus.PRE_EXISTING
    return ViolationStatus.NEW if attributable else ViolationStatus.MARGINAL


def _voltage_violations(
    prepared: PreparedNetwork, vm: FloatArray, base_vm: FloatArray, criteria: Criteria, *, is_base: bool
) -> list[BusViolation]:
    watched, setpoint = monitored_buses(prepared, criteria), prepared.bus_vm_set_pu
    out: list[BusViolation] = []
    for limit, sign in ((criteria.vm_min_pu, -1.0), (criteria.vm_max_pu, 1.0)):
        beyond = watched & voltage_beyond(vm, setpoint, limit, sign)
        base_beyond_all = voltage_beyond(base_vm, setpoint, limit, sign)
        for bus in np.flatnonzero(beyond):
            base_beyond = bool(base_beyond_all[bus])
            worse = bool(sign * (vm[bus] - base_vm[bus]) >= max(criteria.worsened_vm_pu, 1e-9))
            out.append(
                BusViolation(
                    bus_id=int(prepared.bus_ids[bus]),
                    bus_name=prepared.bus_names[bus],
                    vn_kv=float(prepared.bus_vn_kv[bus]),
                    vm_pu=float(vm[bus]),
                    limit_pu=limit,
                    base_vm_pu=None if is_base else float(base_vm[bus]),
                    status=_status(is_base, base_beyond, worse),
                )
            )
    return sorted(out, key=lambda v: -abs(v.vm_pu - v.limit_pu))


def _branch_identity(prepared: PreparedNetwork, position: int) -> dict[str, object]:
    return {
        "branch": prepared.branch_label(position),
        "element_type": prepared.branch_kind[position],
        "element_id": int(prepared.branch_element[position]),
        "name": prepared.branch_names[position],
        "from_bus": int(prepared.bus_ids[prepared.branch_from[position]]),
        "to_bus": int(prepared.bus_ids[prepared.branch_to[position]]),
    }


def _thermal_violations(
    prepared: PreparedNetwork,
    loading: FloatArray,
    base_loading: FloatArray,
    flow: FloatArray,
    criteria: Criteria,
    *,
    is_base: bool,
) -> list[BranchViolation]:
    limit = criteria.normal_loading_max_percent
    out = []
    base_beyond = loading_beyond(base_loading, limit)
    for position in np.flatnonzero(loading_beyond(loading, limit)):
        base_value = float(base_loading[position])
        out.append(
            BranchViolation(
                **_branch_identity(prepared, position),  # type: ignore[arg-type]
                vn_kv=float(prepared.bus_vn_kv[prepared.branch_from[position]]),
                loading_percent=float(loading[position]),
                limit_percent=limit,
                rating_mva=float(prepared.rate_normal_mva[position]),
                flow_mva=float(flow[position]),
                base_loading_percent=None if is_base else base_value,
                status=_status(
                    is_base,
                    bool(base_beyond[position]),
                    float(loading[position]) - base_value >= max(criteria.worsened_loading_percent, 1e-9),
                ),
            )
        )
    return sorted(out, key=lambda v: -v.loading_percent)


def _largest_increases(
    prepared: PreparedNetwork, loading: FloatArray, base_loading: FloatArray, flow: FloatArray, count: int
) -> list[BranchChange]:
    delta = np.nan_to_num(loading - base_loading, nan=-np.inf)
    order = np.argsort(-delta, kind="stable")[:count]
    return [
        BranchChange(
            **_branch_identity(prepared, int(p)),
            loading_percent=float(loading[p]),
            base_loading_percent=float(base_loading[p]),
            delta_loading_percent=float(delta[p]),
            flow_mva=float(flow[p]),
            rating_mva=float(prepared.rate_normal_mva[p]),
        )
        for p in order
        if np.isfinite(delta[p]) and delta[p] > 0
    ]


def _dispatch_by_fuel(prepared: PreparedNetwork, delta_p: FloatArray) -> list[FuelDispatch]:
    fuels = np.array(prepared.gen_fuel)
    moved = np.abs(delta_p) > _MOVED_MW
    out = []
    for fuel in sorted(set(fuels[moved].tolist())):
        mask = (fuels == fuel) & moved
        out.append(FuelDispatch(fuel=str(fuel), delta_p_mw=float(delta_p[mask].sum()), units_moved=int(mask.sum())))
    return sorted(out, key=lambda f: -abs(f.delta_p_mw))


def _extremes(values: FloatArray, ids: np.ndarray, mask: np.ndarray) -> tuple[float | None, int | None, float | None, int | None]:
    candidates = np.where(mask & np.isfinite(values), values, np.nan)
    if np.all(np.isnan(candidates)):
        return None, None, None, None
    low, high = int(np.nanargmin(candidates)), int(np.nanargmax(candidates))
    return float(values[low]), int(ids[low]), float(values[high]), int(ids[high])


def evaluate_stage(
    prepared: PreparedNetwork,
    stage: StageSolve,
    base: StageSolve,
    *,
    criteria: Criteria,
    top_branches: int,
) -> StageResult:
    """Summarise a solved stage: extremes, violations vs criteria, change vs base, dispatch by fuel."""
    is_base = stage.index == 0
    load = stage.load
    result = StageResult(
        index=stage.index,
        label=load.label if load else "Base case (no facility)",
        facility_p_mw=load.p_mw if load else 0.0,
        facility_q_mvar=load.q_mvar if load else 0.0,
        gpus=load.gpus if load else None,
        gpu_model=load.gpu_model if load else None,
        converged=stage.converged,
        initial_voltage=stage.start,
        newton_solves=stage.q_passes,
        dispatch_iterations=stage.dispatch_iterations,
        q_limits_settled=stage.q_settled,
        generators_at_q_limit=int(np.count_nonzero(stage.q_state[~prepared.group_fixed_q])),
        losses_mw=None,
        delta_losses_mw=None,
        delta_generation_mw=None,
        unserved_mw=stage.unserved_mw,
        poi_vm_pu=None,
        min_vm_pu=None,
        min_vm_bus=None,
        max_vm_pu=None,
        max_vm_bus=None,
        max_loading_percent=None,
        max_loading_branch=None,
    )
    if not stage.converged:
        return result
    return _fill_solved(prepared, result, stage, base, criteria=criteria, top_branches=top_branches, is_base=is_base)


def _fill_solved(
    prepared: PreparedNetwork,
    result: StageResult,
    stage: StageSolve,
    base: StageSolve,
    *,
    criteria: Criteria,
    top_branches: int,
    is_base: bool,
) -> StageResult:
    sol, base_sol = stage.solution, base.solution
    vm, base_vm = sol.vm_pu, base_sol.vm_pu
    loading = branch_loading_percent(prepared, sol)
    base_loading = branch_loading_percent(prepared, base_sol)
    flow = branch_flow_mva(sol)
    delta_p = actual_generation_mw(stage) - actual_generation_mw(base)
    low, low_bus, high, high_bus = _extremes(vm, prepared.bus_ids, monitored_buses(prepared, criteria))
    worst = int(np.nanargmax(np.nan_to_num(loading, nan=-1.0)))
    return result.model_copy(
        update={
            "losses_mw": sol.losses_mw,
            "delta_losses_mw": None if is_base else sol.losses_mw - base_sol.losses_mw,
            "delta_generation_mw": None if is_base else float(delta_p.sum()),
            "dispatch_by_fuel": [] if is_base else _dispatch_by_fuel(prepared, delta_p),
            "poi_vm_pu": float(vm[stage.poi]),
            "poi_delta_va_degree": None if is_base else float(sol.va_degree[stage.poi] - base_sol.va_degree[stage.poi]),
            "min_vm_pu": low,
            "min_vm_bus": low_bus,
            "max_vm_pu": high,
            "max_vm_bus": high_bus,
            "max_loading_percent": float(loading[worst]) if np.isfinite(loading[worst]) else None,
            "max_loading_branch": prepared.branch_label(worst) if np.isfinite(loading[worst]) else None,
            "voltage_violations": _voltage_violations(prepared, vm, base_vm, criteria, is_base=is_base),
            "thermal_violations": _thermal_violations(prepared, loading, base_loading, flow, criteria, is_base=is_base),
            "largest_loading_increases": []
            if is_base
            else _largest_increases(prepared, loading, base_loading, flow, top_branches),
        }
    )
