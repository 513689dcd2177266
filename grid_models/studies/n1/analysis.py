"""The N-1 analysis of a study: study area, outages of the base case and of every stage, findings."""

from __future__ import annotations

from dataclasses import dataclass

from grid_models.results.analyses import ContingencyAnalysisResult, ContingencyStageResult, ContingencyStatus, StudyAreaInfo
from grid_models.results.kinds import FindingCategory, Severity, ViolationKind, ViolationStatus
from grid_models.results.study import Finding
from grid_models.results.text import mw_text, named, stage_title
from grid_models.solver.network import PreparedNetwork
from grid_models.spec.study import ContingencyOptions, Criteria, StudyAreaMode
from grid_models.studies.n1.table import Contingency, OutageTable
from grid_models.studies.n1.violations import evaluate_contingencies
from grid_models.studies.power_flow import StageSolve
from grid_models.studies.study_area import StudyArea

__all__ = ["N1_CRITERIA", "RESPONSE", "ContingencyRun", "contingency_findings", "evaluate_contingency_tables", "first_n1_failure"]

RESPONSE = (
    "generation schedule kept; lost generation, cut-off load and the change in losses shared by the dispatchable units "
    "in proportion to their headroom; reactive limits enforced"
)
N1_CRITERIA = (
    "post-contingency voltage {low:.2f}-{high:.2f} pu (ATC criteria), loading <= {limit:.0f} % of emergency rating "
    "(NERC TPL-001 P1)"
)


@dataclass
class ContingencyRun:
    """What the N-1 analysis computed, for results, findings and the dataset."""

    area: StudyArea
    contingencies: list[Contingency]
    tables: dict[int, OutageTable]
    result: ContingencyAnalysisResult


def _area_info(area: StudyArea, options: ContingencyOptions) -> StudyAreaInfo:
    sensitivity = area.mode is StudyAreaMode.SENSITIVITY
    opts = options.study_area
    return StudyAreaInfo(
        mode=area.mode.value,
        branches=int(area.branches.sum()),
        generators=int(area.generators.sum()),
        buses=int(area.buses.sum()),
        flow_sensitivity_min=opts.flow_sensitivity_min if sensitivity else None,
        voltage_sensitivity_min_pu_per_100mw=opts.voltage_sensitivity_min_pu_per_100mw if sensitivity else None,
        probe_mw=opts.probe_mw if sensitivity else None,
    )


def evaluate_contingency_tables(
    prepared: PreparedNetwork,
    *,
    area: StudyArea,
    contingencies: list[Contingency],
    tables: dict[int, OutageTable],
    solves: list[StageSolve],
    options: ContingencyOptions,
    criteria: Criteria,
) -> ContingencyRun:
    """Attribute and summarise the outage tables of the base case (key 0) and of every stage."""
    results: list[ContingencyStageResult] = []
    for stage in solves:
        table = tables.get(stage.index)
        if table is None:
            continue
        base_table = tables.get(0) if stage.index else None
        results.append(evaluate_contingencies(prepared, table, base_table=base_table, stage=stage, criteria=criteria))
    result = ContingencyAnalysisResult(
        study_area=_area_info(area, options),
        contingencies=len(contingencies),
        criteria=N1_CRITERIA.format(
            low=criteria.post_contingency_vm_min_pu,
            high=criteria.post_contingency_vm_max_pu,
            limit=criteria.emergency_loading_max_percent,
        ),
        response=RESPONSE,
        stages=results,
    )
    return ContingencyRun(area=area, contingencies=contingencies, tables=tables, result=result)


_MAX_PER_STAGE = 10
_VERBS = {ViolationKind.THERMAL: "overloads", ViolationKind.LOW_VOLTAGE: "pulls down", ViolationKind.HIGH_VOLTAGE: "raises"}


def _name(stage: ContingencyStageResult) -> str:
    return stage_title(stage.label, stage.facility_p_mw)


def _also_before(stage: ContingencyStageResult) -> str:
    count = stage.no_solution_pre_existing
    return f" (and {_counted(count, 'more has', 'more have')} none without the facility either: pre-existing)" if count else ""


def _counted(count: int, one: str, many: str) -> str:
    """``1 outage causes`` / ``3 outages cause``."""
    return f"{count} {one if count == 1 else many}"


def _stage_findings(stage: ContingencyStageResult) -> list[Finding]:
    found = [
        Finding(
            severity=Severity.INFO,
            category=FindingCategory.CONTINGENCY,
            stage_index=stage.stage_index,
            stage=stage.label,
            what=f"{_name(stage)}: N-1 over {stage.contingencies} outages: {_counted(stage.with_violations, 'causes', 'cause')} "
            f"violations attributable to the facility, {stage.pre_existing_only} only pre-existing ones, "
            f"{_counted(stage.islanding, 'cuts', 'cut')} buses off, {_counted(stage.no_solution, 'has', 'have')} no AC solution"
            f"{_also_before(stage)}",
        )
    ]
    for violation in stage.violations[:_MAX_PER_STAGE]:
        what = _VERBS[violation.kind]
        unit = violation.unit
        base = (
            f"; same outage without the facility {violation.base_value:.4g} {violation.unit}"
            if violation.base_value is not None
            else ""
        )
        marginal = violation.status is ViolationStatus.MARGINAL  # beyond a limit, but not moved by the facility
        found.append(
            Finding(
                severity=Severity.WARNING if marginal else Severity.VIOLATION,
                category=FindingCategory.CONTINGENCY,
                stage_index=stage.stage_index,
                stage=stage.label,
                what=f"{_name(stage)}: outage of {named(violation.contingency, violation.outage_name)} {what} "
                f"{named(violation.monitored, violation.monitored_name)} to {violation.value:.4g} {unit} "
                f"(limit {violation.limit:g} {unit}; "
                f"before the outage {violation.pre_contingency_value:.4g} {unit}{base}) [{violation.status}]",
                where=violation.monitored,
                limit=violation.limit,
                value=violation.value,
                unit=violation.unit,
                rule="NERC TPL-001 P1 (single outage), post-contingency criteria",
            )
        )
    for event in stage.events:
        if event.status is ContingencyStatus.NO_SOLUTION and stage.stage_index:
            found.append(
                Finding(
                    severity=Severity.CRITICAL,
                    category=FindingCategory.CONTINGENCY,
                    stage_index=stage.stage_index,
                    stage=stage.label,
                    what=f"{_name(stage)}: after the outage of {named(event.contingency, event.outage_name)} the grid has no AC "
                    "solution (likely voltage collapse)",
                    where=event.contingency,
                    rule="NERC TPL-001 P1",
                )
            )
        if event.facility_disconnected and stage.stage_index:
            found.append(
                Finding(
                    severity=Severity.WARNING,
                    category=FindingCategory.CONTINGENCY,
                    stage_index=stage.stage_index,
                    stage=stage.label,
                    what=f"{_name(stage)}: the single outage of {named(event.contingency, event.outage_name)} disconnects the "
                    "facility (see the load-loss analysis for what the grid sees)",
                    where=event.contingency,
                )
            )
    return found


def first_n1_failure(result: ContingencyAnalysisResult) -> ContingencyStageResult | None:
    """The first stage (after the base case) where an outage causes a violation attributable to
    the facility or loses a solution the base case had."""
    return next((s for s in result.stages if s.stage_index > 0 and (s.with_violations or s.no_solution)), None)


def contingency_findings(result: ContingencyAnalysisResult) -> list[Finding]:
    """Findings of the N-1 analysis: the first stage that fails N-1, then per-stage details."""
    stages = [s for s in result.stages if s.stage_index > 0]
    found: list[Finding] = []
    base = next((s for s in result.stages if s.stage_index == 0), None)
    if base is not None and (base.pre_existing_only or base.no_solution):
        found.append(
            Finding(
                severity=Severity.WARNING,
                category=FindingCategory.CONTINGENCY,
                stage_index=0,
                stage=base.label,
                what=f"without the facility, {base.pre_existing_only} of {base.contingencies} study-area outages already "
                f"violate the post-contingency criteria and {_counted(base.no_solution, 'has', 'have')} no solution; "
                "they are pre-existing",
            )
        )
    failing = first_n1_failure(result)
    if failing is not None:
        found.append(
            Finding(
                severity=Severity.CRITICAL if failing.no_solution else Severity.VIOLATION,
                category=FindingCategory.SUMMARY,
                stage_index=failing.stage_index,
                stage=failing.label,
                what=f"the grid first fails N-1 at {_name(failing)}: "
                f"{_counted(failing.with_violations, 'outage causes', 'outages cause')} violations attributable to the "
                f"facility, {_counted(failing.no_solution, 'leaves', 'leave')} no solution",
                rule="NERC TPL-001 P1",
            )
        )
    elif stages:
        found.append(
            Finding(
                severity=Severity.INFO,
                category=FindingCategory.SUMMARY,
                # only stages with an N-0 solution have an N-1 (the N-0 findings name the others)
                what=f"every solved stage up to {mw_text(max(s.facility_p_mw for s in stages))} is N-1 secure over the "
                f"{result.contingencies} study-area outages (beyond pre-existing problems)",
            )
        )
    for stage in stages:
        found.extend(_stage_findings(stage))
    return found
