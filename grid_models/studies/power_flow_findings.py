"""Plain-language findings from the staged power flow."""

from __future__ import annotations

from grid_models.results.kinds import FindingCategory, Severity, ViolationStatus
from grid_models.results.study import BranchViolation, BusViolation, Finding, PoiInfo, StageResult
from grid_models.results.text import mw_text, named, poi_bus, poi_text, stage_title
from grid_models.spec.study import Criteria

__all__ = [
    "MAX_VIOLATION_FINDINGS_PER_STAGE",
    "first_failing_stage",
    "power_flow_findings",
]

MAX_VIOLATION_FINDINGS_PER_STAGE = 15
_VOLTAGE_RULE = "N-0 voltage {low:.2f}-{high:.2f} pu (ATC facility rating criteria)"
_THERMAL_RULE = "N-0 thermal <= {limit:.0f} % of normal rating (NERC TPL-001, FAC-008)"


def _stage_name(stage: StageResult) -> str:
    return stage_title(stage.label, stage.facility_p_mw)


def _bus_finding(stage: StageResult, violation: BusViolation, criteria: Criteria) -> Finding:
    low = violation.vm_pu < violation.limit_pu
    cause = "new" if violation.status is ViolationStatus.NEW else "worse than without the facility"
    base = f" (base case {violation.base_vm_pu:.4f} pu)" if violation.base_vm_pu is not None else ""
    where = f"{named(f'bus {violation.bus_id}', violation.bus_name)} ({violation.vn_kv:g} kV)"
    return Finding(
        severity=Severity.VIOLATION,
        category=FindingCategory.VOLTAGE,
        stage_index=stage.index,
        stage=stage.label,
        what=f"{_stage_name(stage)}: {'under' if low else 'over'}voltage at {where}: {violation.vm_pu:.4f} pu "
        f"{'below' if low else 'above'} {violation.limit_pu:.2f} pu, {cause}{base}",
        where=where,
        element_type="bus",
        element_id=violation.bus_id,
        limit=violation.limit_pu,
        value=violation.vm_pu,
        unit="pu",
        rule=_VOLTAGE_RULE.format(low=criteria.vm_min_pu, high=criteria.vm_max_pu),
    )


def _branch_finding(stage: StageResult, violation: BranchViolation) -> Finding:
    cause = "new" if violation.status is ViolationStatus.NEW else "worse than without the facility"
    base = f" (base case {violation.base_loading_percent:.1f} %)" if violation.base_loading_percent is not None else ""
    where = f"{named(violation.branch, violation.name)} bus {violation.from_bus} -> {violation.to_bus} ({violation.vn_kv:g} kV)"
    return Finding(
        severity=Severity.VIOLATION,
        category=FindingCategory.THERMAL,
        stage_index=stage.index,
        stage=stage.label,
        what=f"{_stage_name(stage)}: {where} loaded {violation.loading_percent:.1f} % of its "
        f"{violation.rating_mva:.0f} MVA normal rating, {cause}{base}",
        where=where,
        element_type=violation.element_type,
        element_id=violation.element_id,
        limit=violation.limit_percent,
        value=violation.loading_percent,
        unit="%",
        rule=_THERMAL_RULE.format(limit=violation.limit_percent),
    )


def _violation_findings(stage: StageResult, criteria: Criteria) -> list[Finding]:
    counted = (ViolationStatus.NEW, ViolationStatus.WORSENED)
    new_v = [v for v in stage.voltage_violations if v.status in counted]
    new_t = [v for v in stage.thermal_violations if v.status in counted]
    found = [_branch_finding(stage, v) for v in new_t] + [_bus_finding(stage, v, criteria) for v in new_v]
    if len(found) > MAX_VIOLATION_FINDINGS_PER_STAGE:
        extra = len(found) - MAX_VIOLATION_FINDINGS_PER_STAGE
        found = found[:MAX_VIOLATION_FINDINGS_PER_STAGE]
        found.append(
            Finding(
                severity=Severity.VIOLATION,
                category=FindingCategory.SUMMARY,
                stage_index=stage.index,
                stage=stage.label,
                what=f"{_stage_name(stage)}: {extra} more violations, listed in the stage's tables",
            )
        )
    return found


def _stage_summary(stage: StageResult, poi: PoiInfo) -> Finding:
    fuels = ", ".join(f"{f.fuel} {f.delta_p_mw:+,.0f} MW" for f in stage.dispatch_by_fuel[:4]) or "no change"
    worst = f"{stage.max_loading_percent:.1f} % on {stage.max_loading_branch}" if stage.max_loading_percent is not None else "n/a"
    return Finding(
        severity=Severity.INFO,
        category=FindingCategory.SUMMARY,
        stage_index=stage.index,
        stage=stage.label,
        what=f"{_stage_name(stage)} at {poi_bus(poi)}: {stage.new_violations} new or worsened "
        f"N-0 violations; POI voltage {stage.poi_vm_pu:.3f} pu; highest loading {worst}; losses "
        f"{stage.delta_losses_mw:+.1f} MW; generation picking up the demand: {fuels}",
        where=poi_text(poi),
        element_type="bus",
        element_id=poi.bus_id,
        value=stage.facility_p_mw,
        unit="MW",
    )


def _not_converged(stage: StageResult, poi: PoiInfo) -> Finding:
    return Finding(
        severity=Severity.CRITICAL,
        category=FindingCategory.CONVERGENCE,
        stage_index=stage.index,
        stage=stage.label,
        what=f"{_stage_name(stage)}: the AC power flow has no solution with this demand at the POI; the grid "
        "cannot serve it without reinforcement (likely beyond the voltage-collapse point)",
        where=poi_text(poi),
        element_type="bus",
        element_id=poi.bus_id,
        value=stage.facility_p_mw,
        unit="MW",
        rule="AC power flow solvability (Newton-Raphson, reactive limits enforced)",
    )


def _marginal(stage: StageResult, criteria: Criteria) -> list[Finding]:
    if not stage.marginal_violations:
        return []
    return [
        Finding(
            severity=Severity.WARNING,
            category=FindingCategory.SUMMARY,
            stage_index=stage.index,
            stage=stage.label,
            what=f"{_stage_name(stage)}: {stage.marginal_violations} elements are now just beyond a limit although the "
            f"facility moved them by less than {criteria.worsened_vm_pu:g} pu / {criteria.worsened_loading_percent:g} "
            "percentage points (status 'marginal' in the stage tables)",
        )
    ]


def _numerics(stage: StageResult) -> list[Finding]:
    found = []
    if stage.unserved_mw > 0.01:
        found.append(
            Finding(
                severity=Severity.WARNING,
                category=FindingCategory.DISPATCH,
                stage_index=stage.index,
                stage=stage.label,
                what=f"{_stage_name(stage)}: dispatchable generators have no headroom left for "
                f"{stage.unserved_mw:,.1f} MW; the slack unit carries it beyond its schedule",
                value=stage.unserved_mw,
                unit="MW",
            )
        )
    if stage.converged and not stage.q_limits_settled:
        found.append(
            Finding(
                severity=Severity.WARNING,
                category=FindingCategory.REACTIVE,
                stage_index=stage.index,
                stage=stage.label,
                what=f"{_stage_name(stage)}: the set of generators at a reactive limit did not settle; voltages near "
                "those generators are uncertain",
            )
        )
    return found


def _base_findings(base: StageResult) -> list[Finding]:
    if not base.converged:
        return [
            Finding(
                severity=Severity.CRITICAL,
                category=FindingCategory.CONVERGENCE,
                stage_index=0,
                stage=base.label,
                what="the grid without the facility has no AC power-flow solution; check the grid data "
                "(try solver.initial_voltage 'dc' or 'flat', solver.enforce_q_limits false, or a higher solver.max_iterations)",
            )
        ]
    if not base.voltage_violations and not base.thermal_violations:
        return []
    return [
        Finding(
            severity=Severity.WARNING,
            category=FindingCategory.SUMMARY,
            stage_index=0,
            stage=base.label,
            what=f"before the facility connects the grid already has {len(base.voltage_violations)} bus voltage "
            f"and {len(base.thermal_violations)} thermal violations; they are reported as pre-existing, "
            "and stage findings list only what the facility causes or worsens",
        )
    ]


def first_failing_stage(stages: list[StageResult]) -> StageResult | None:
    """The first stage without a solution or with new or worsened N-0 violations."""
    return next((s for s in stages if not s.converged or s.new_violations), None)


def _first_break(stages: list[StageResult], poi: PoiInfo) -> Finding:
    broken = first_failing_stage(stages)
    if broken is None:
        largest = max(stage.facility_p_mw for stage in stages)  # stages need not grow
        return Finding(
            severity=Severity.INFO,
            category=FindingCategory.SUMMARY,
            what=f"all {len(stages)} stages up to {mw_text(largest)} at {poi_bus(poi)} "
            "meet the N-0 criteria (contingencies are not part of this check)",
            element_type="bus",
            element_id=poi.bus_id,
        )
    reason = (
        "has no power-flow solution" if not broken.converged else f"causes {broken.new_violations} new or worsened N-0 violations"
    )
    return Finding(
        severity=Severity.CRITICAL if not broken.converged else Severity.VIOLATION,
        category=FindingCategory.SUMMARY,
        stage_index=broken.index,
        stage=broken.label,
        what=f"the grid first fails at {_stage_name(broken)}: it {reason}",
        element_type="bus",
        element_id=poi.bus_id,
        value=broken.facility_p_mw,
        unit="MW",
    )


def power_flow_findings(base: StageResult, stages: list[StageResult], *, poi: PoiInfo, criteria: Criteria) -> list[Finding]:
    """Findings of the staged power flow: the first failing stage, per-stage summaries and violations."""
    findings = _base_findings(base)
    if not base.converged:
        return findings
    if stages:
        findings.insert(0, _first_break(stages, poi))
    for stage in stages:
        if not stage.converged:
            findings.append(_not_converged(stage, poi))
            continue
        findings.append(_stage_summary(stage, poi))
        findings.extend(_violation_findings(stage, criteria))
        findings.extend(_marginal(stage, criteria))
        findings.extend(_numerics(stage))
    return findings
