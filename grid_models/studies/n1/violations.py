"""Post-contingency criteria and attribution: which N-1 violations the facility causes.

Limits (REFERENCE.md section 2): voltage 0.90-1.10 pu (ATC criteria), loading <= 100 % of the
emergency rating (RATE_B, else RATE_C, else RATE_A; NERC TPL-001). Each violation is compared
with the same outage solved without the facility, with the same attribution thresholds as N-0.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from grid_models.results.analyses import ContingencyEvent, ContingencyStageResult, ContingencyStatus, ContingencyViolation
from grid_models.results.kinds import ViolationKind, ViolationStatus
from grid_models.solver.network import BoolArray, PreparedNetwork
from grid_models.solver.types import FloatArray
from grid_models.spec.study import Criteria
from grid_models.studies.evaluation import branch_loading_percent, loading_beyond, monitored_buses, voltage_beyond
from grid_models.studies.n1.table import OutageTable
from grid_models.studies.power_flow import StageSolve

__all__ = ["MAX_LISTED_VIOLATIONS", "evaluate_contingencies"]

MAX_LISTED_VIOLATIONS = 500
_CODES = {ViolationStatus.NEW: 1, ViolationStatus.WORSENED: 2, ViolationStatus.MARGINAL: 3, ViolationStatus.PRE_EXISTING: 4}
_STATUS_OF = {code: status for status, code in _CODES.items()}


@dataclass
class _Check:
    """One kind of check over a rows x elements matrix."""

    kind: ViolationKind
    unit: str
    value: FloatArray  # rows x elements
    base: FloatArray | None
    limit: float
    sign: float  # +1: beyond means above the limit; -1: below
    threshold: float
    elements: np.ndarray  # element positions (columns)
    setpoint: FloatArray | None = None  # voltage checks: each column's regulator set-point (NaN: none)

    def beyond(self, values: FloatArray) -> np.ndarray:
        """Which cells of ``values`` (rows x elements) are past the limit, as stated."""
        if self.setpoint is None:
            return loading_beyond(self.sign * values, self.sign * self.limit)
        return voltage_beyond(values, self.setpoint, self.limit, self.sign)


def _status_codes(check: _Check) -> np.ndarray:
    """Status code per cell (0: no violation)."""
    with np.errstate(invalid="ignore"):
        beyond = check.beyond(check.value)
        if check.base is None:
            return np.where(beyond, _CODES[ViolationStatus.PRE_EXISTING], 0)
        base_beyond = check.beyond(check.base)
        moved = check.sign * (check.value - check.base)
        attributable = (moved >= max(check.threshold, 1e-9)) | np.isnan(check.base)
    codes = np.select(
        [attributable & ~base_beyond, attributable & base_beyond, ~attributable & ~base_beyond],
        [_CODES[ViolationStatus.NEW], _CODES[ViolationStatus.WORSENED], _CODES[ViolationStatus.MARGINAL]],
        default=_CODES[ViolationStatus.PRE_EXISTING],
    )
    return np.where(beyond, codes, 0)


def _base_rows(table: OutageTable, base: OutageTable) -> list[int]:
    """Row of ``base`` holding each outage of ``table``."""
    row_of = {c.label: row for row, c in enumerate(base.contingencies)}
    return [row_of[c.label] for c in table.contingencies]


def _aligned_base(table: OutageTable, base: OutageTable | None) -> tuple[FloatArray | None, FloatArray | None]:
    if base is None:
        return None, None
    rows = _base_rows(table, base)
    return base.vm_pu[rows].astype(np.float64), base.loading_percent[rows].astype(np.float64)


def _base_converged(table: OutageTable, base: OutageTable | None) -> BoolArray:
    """Per outage: solved without the facility (all True for the base case itself)."""
    if base is None:
        return np.ones(len(table.contingencies), dtype=np.bool_)
    return np.asarray(base.converged[_base_rows(table, base)], dtype=np.bool_)


def _checks(prepared: PreparedNetwork, table: OutageTable, base: OutageTable | None, criteria: Criteria) -> list[_Check]:
    buses = np.flatnonzero(monitored_buses(prepared, criteria))
    branches = np.flatnonzero(prepared.branch_in_service & (prepared.rate_emergency_mva > 0))
    base_vm, base_loading = _aligned_base(table, base)
    vm = table.vm_pu[:, buses].astype(np.float64)
    loading = table.loading_percent[:, branches].astype(np.float64)
    bvm = base_vm[:, buses] if base_vm is not None else None
    bload = base_loading[:, branches] if base_loading is not None else None
    setpoint = prepared.bus_vm_set_pu[buses]
    low, high = criteria.post_contingency_vm_min_pu, criteria.post_contingency_vm_max_pu
    return [
        _Check(ViolationKind.LOW_VOLTAGE, "pu", vm, bvm, low, -1.0, criteria.worsened_vm_pu, buses, setpoint),
        _Check(ViolationKind.HIGH_VOLTAGE, "pu", vm, bvm, high, 1.0, criteria.worsened_vm_pu, buses, setpoint),
        _Check(
            ViolationKind.THERMAL,
            "%",
            loading,
            bload,
            criteria.emergency_loading_max_percent,
            1.0,
            criteria.worsened_loading_percent,
            branches,
        ),
    ]


def _element(prepared: PreparedNetwork, check: _Check, column: int) -> tuple[str, str]:
    position = int(check.elements[column])
    if check.kind is ViolationKind.THERMAL:
        return prepared.branch_label(position), prepared.branch_names[position]
    return f"bus {int(prepared.bus_ids[position])}", prepared.bus_names[position]


def _violation_records(
    prepared: PreparedNetwork, table: OutageTable, checks: list[_Check], codes: list[np.ndarray], pre: list[FloatArray]
) -> tuple[list[ContingencyViolation], int]:
    cells: list[tuple[bool, float, int, int, int]] = []
    for index, (check, code) in enumerate(zip(checks, codes, strict=True)):
        rows, cols = np.nonzero((code > 0) & (code < _CODES[ViolationStatus.PRE_EXISTING]))
        excess = check.sign * (check.value[rows, cols] - check.limit) / (1.0 if check.unit == "%" else 0.01)
        marginal = (code[rows, cols] == _CODES[ViolationStatus.MARGINAL]).tolist()
        cells.extend(zip(marginal, excess.tolist(), [index] * len(rows), rows.tolist(), cols.tolist(), strict=True))
    cells.sort(key=lambda cell: (cell[0], -cell[1]))  # attributable first, then by excess: marginal ones never crowd them out
    records = []
    for _, _, index, row, col in cells[:MAX_LISTED_VIOLATIONS]:
        check, contingency = checks[index], table.contingencies[row]
        monitored, monitored_name = _element(prepared, check, col)
        base = None if check.base is None or np.isnan(check.base[row, col]) else float(check.base[row, col])
        records.append(
            ContingencyViolation(
                contingency=contingency.label,
                outage_name=contingency.name,
                monitored=monitored,
                monitored_name=monitored_name,
                kind=check.kind,
                value=float(check.value[row, col]),
                limit=check.limit,
                unit=check.unit,
                pre_contingency_value=float(pre[index][col]),
                base_value=base,
                status=_STATUS_OF[int(codes[index][row, col])],
            )
        )
    return records, max(len(cells) - MAX_LISTED_VIOLATIONS, 0)


def _counts(codes: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    attributable = sum(((c == _CODES[ViolationStatus.NEW]) | (c == _CODES[ViolationStatus.WORSENED])).sum(axis=1) for c in codes)
    pre_existing = sum((c == _CODES[ViolationStatus.PRE_EXISTING]).sum(axis=1) for c in codes)
    return np.asarray(attributable), np.asarray(pre_existing)


def _row_status(converged: bool, base_converged: bool, attributable: int, pre_existing: int) -> ContingencyStatus:
    if not converged:
        return ContingencyStatus.NO_SOLUTION if base_converged else ContingencyStatus.NO_SOLUTION_PRE_EXISTING
    if attributable:
        return ContingencyStatus.VIOLATIONS
    return ContingencyStatus.PRE_EXISTING if pre_existing else ContingencyStatus.SECURE


def _events(
    prepared: PreparedNetwork,
    table: OutageTable,
    checks: list[_Check],
    counts: tuple[np.ndarray, np.ndarray],
    *,
    base_converged: BoolArray,
    poi: int,
) -> list[ContingencyEvent]:
    attributable, pre_existing = counts
    thermal, voltage = checks[2], checks[0]
    events = []
    for row, contingency in enumerate(table.contingencies):
        converged, solvable_before = bool(table.converged[row]), bool(base_converged[row])
        status = _row_status(converged, solvable_before, int(attributable[row]), int(pre_existing[row]))
        if status is ContingencyStatus.SECURE and table.islanded_buses[row] == 0:
            continue
        loads, vms = thermal.value[row], voltage.value[row]
        worst = int(np.nanargmax(loads)) if np.isfinite(loads).any() else None
        lowest = int(np.nanargmin(vms)) if np.isfinite(vms).any() else None
        events.append(
            ContingencyEvent(
                contingency=contingency.label,
                outage_name=contingency.name,
                status=status,
                violations=int(attributable[row]),
                pre_existing_violations=int(pre_existing[row]),
                islanded_buses=int(table.islanded_buses[row]),
                islanded_load_mw=float(table.islanded_load_mw[row]),
                islanded_generation_mw=float(table.islanded_generation_mw[row]),
                facility_disconnected=bool(table.converged[row] and np.isnan(table.vm_pu[row, poi])),
                worst_loading_percent=float(loads[worst]) if worst is not None else None,
                worst_loading_branch=prepared.branch_label(int(thermal.elements[worst])) if worst is not None else None,
                min_vm_pu=float(vms[lowest]) if lowest is not None else None,
                min_vm_bus=int(prepared.bus_ids[voltage.elements[lowest]]) if lowest is not None else None,
                solved_exactly=bool(table.exact[row]),
            )
        )
    return events


def evaluate_contingencies(
    prepared: PreparedNetwork,
    table: OutageTable,
    *,
    base_table: OutageTable | None,
    stage: StageSolve,
    criteria: Criteria,
) -> ContingencyStageResult:
    """Summarise one stage's outages; ``base_table`` (the same outages without the facility) attributes them."""
    checks = _checks(prepared, table, base_table, criteria)
    codes = [_status_codes(check) for check in checks]
    pre_vm = stage.solution.vm_pu
    pre_loading = branch_loading_percent(prepared, stage.solution, emergency=True)
    pre = [pre_vm[checks[0].elements], pre_vm[checks[1].elements], pre_loading[checks[2].elements]]
    records, truncated = _violation_records(prepared, table, checks, codes, pre)
    counts = _counts(codes)
    events = _events(prepared, table, checks, counts, base_converged=_base_converged(table, base_table), poi=stage.poi)
    statuses = [e.status for e in events]
    return ContingencyStageResult(
        stage_index=stage.index,
        label=stage.load.label if stage.load else "Base case (no facility)",
        facility_p_mw=stage.load.p_mw if stage.load else 0.0,
        contingencies=len(table.contingencies),
        secure=len(table.contingencies) - sum(s is not ContingencyStatus.SECURE for s in statuses),
        with_violations=statuses.count(ContingencyStatus.VIOLATIONS),
        pre_existing_only=statuses.count(ContingencyStatus.PRE_EXISTING),
        islanding=int((table.islanded_buses > 0).sum()),
        no_solution=statuses.count(ContingencyStatus.NO_SOLUTION),
        no_solution_pre_existing=statuses.count(ContingencyStatus.NO_SOLUTION_PRE_EXISTING),
        exact_solves=int(table.exact.sum()),
        violations=records,
        violations_truncated=truncated,
        events=events,
        duration_s=table.duration_s,
    )


def attributable_mask(table: OutageTable, base_table: OutageTable, prepared: PreparedNetwork, criteria: Criteria) -> BoolArray:
    """Per contingency: has at least one violation attributable to the facility, or no solution
    where the same outage has one without the facility."""
    codes = [_status_codes(check) for check in _checks(prepared, table, base_table, criteria)]
    attributable, _ = _counts(codes)
    lost = ~table.converged & _base_converged(table, base_table)
    return np.asarray((attributable > 0) | lost, dtype=np.bool_)
