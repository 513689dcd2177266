"""Typed results of the contingency, hosting-capacity and load-loss analyses."""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, Field

from grid_models.results.kinds import BindingKind, ViolationKind, ViolationStatus

__all__ = [
    "ContingencyAnalysisResult",
    "ContingencyEvent",
    "ContingencyStageResult",
    "ContingencyStatus",
    "ContingencyViolation",
    "HostingCapacityResult",
    "HostingCriterion",
    "HostingCurvePoint",
    "HostingLimit",
    "LoadLossResult",
    "LoadLossStageResult",
    "StudyAreaInfo",
]


class ContingencyStatus(StrEnum):
    """Outcome of one outage."""

    SECURE = "secure"
    VIOLATIONS = "violations"  # violations attributable to the facility
    PRE_EXISTING = "pre-existing"  # only violations that exist without the facility too
    NO_SOLUTION = "no_solution"  # no AC solution; at a stage: the same outage has one without the facility
    NO_SOLUTION_PRE_EXISTING = "no_solution_pre-existing"  # no AC solution, as without the facility


class ContingencyViolation(BaseModel):
    """A monitored element beyond a post-contingency limit after one outage."""

    contingency: str = Field(description="'line 12', 'trafo 3' or 'gen 40'")
    outage_name: str
    monitored: str = Field(description="'bus 1001', 'line 7' or 'trafo 2'")
    monitored_name: str
    kind: ViolationKind
    value: float
    limit: float
    unit: str
    pre_contingency_value: float | None = Field(None, description="same element, same stage, no outage")
    base_value: float | None = Field(None, description="same element, same outage, without the facility")
    status: ViolationStatus = Field(description="new, worsened or marginal (pre-existing ones are counted, not listed)")


class ContingencyEvent(BaseModel):
    """An outage that is not simply secure."""

    contingency: str
    outage_name: str
    status: ContingencyStatus
    violations: int = Field(description="violations attributable to the facility")
    pre_existing_violations: int
    islanded_buses: int
    islanded_load_mw: float
    islanded_generation_mw: float
    facility_disconnected: bool
    worst_loading_percent: float | None
    worst_loading_branch: str | None
    min_vm_pu: float | None
    min_vm_bus: int | None
    solved_exactly: bool


class ContingencyStageResult(BaseModel):
    """All outages of one stage (index 0: without the facility)."""

    stage_index: int
    label: str
    facility_p_mw: float
    contingencies: int
    secure: int
    with_violations: int
    pre_existing_only: int
    islanding: int
    no_solution: int = Field(description="outages without an AC solution (at a stage: ones that have one without the facility)")
    no_solution_pre_existing: int = Field(0, description="outages without an AC solution without the facility either")
    exact_solves: int
    violations: list[ContingencyViolation] = Field(default_factory=list)
    violations_truncated: int = Field(0, description="attributable violations not listed (the list keeps the worst)")
    events: list[ContingencyEvent] = Field(default_factory=list)
    duration_s: float


class StudyAreaInfo(BaseModel):
    """The elements outaged and how they were chosen."""

    mode: str
    branches: int
    generators: int
    buses: int
    flow_sensitivity_min: float | None
    voltage_sensitivity_min_pu_per_100mw: float | None
    probe_mw: float | None


class ContingencyAnalysisResult(BaseModel):
    """N-1 (NERC TPL-001 P1 style) for the base case and every stage."""

    study_area: StudyAreaInfo
    contingencies: int
    criteria: str
    response: str
    stages: list[ContingencyStageResult]


class HostingCriterion(StrEnum):
    """What limits the demand at the POI."""

    N0 = "n0"
    N1 = "n1"
    VOLTAGE_COLLAPSE = "voltage_collapse"


class HostingLimit(BaseModel):
    """Largest demand before a criterion fails, with what binds."""

    criterion: HostingCriterion
    max_mw: float | None = Field(description="None: fails already at the smallest step; search_max_mw: never failed")
    found_limit: bool = Field(description="False when the search reached max_mw without failing")
    binding_element: str | None = None
    binding_element_name: str | None = None
    binding_kind: BindingKind | None = None
    binding_outage: str | None = None
    binding_value: float | None = None
    limit_value: float | None = None
    margin_mw: float | None = Field(None, description="max_mw minus the largest stage's demand")
    margin_percent: float | None = None


class HostingCurvePoint(BaseModel):
    """One point of the N-0 hosting-capacity curve."""

    p_mw: float
    converged: bool
    worst_loading_percent: float | None
    worst_loading_branch: str | None
    min_vm_pu: float | None
    min_vm_bus: int | None
    poi_vm_pu: float | None
    new_violations: int


class HostingCapacityResult(BaseModel):
    """Hosting capacity at the POI."""

    poi_bus: int
    search_max_mw: float
    resolution_mw: float
    limits: list[HostingLimit]
    curve: list[HostingCurvePoint]
    duration_s: float


class LoadLossStageResult(BaseModel):
    """The facility of one stage trips at once."""

    stage_index: int
    label: str
    lost_mw: float
    converged: bool
    max_vm_pu: float | None
    max_vm_bus: int | None
    poi_vm_before_pu: float | None
    poi_vm_after_pu: float | None
    overvoltages: int
    overloads: int
    worst_loading_percent: float | None
    worst_loading_branch: str | None
    generation_reduction_by_fuel: dict[str, float]


class LoadLossResult(BaseModel):
    """Sudden loss of the whole facility (10 Jul 2024, Virginia: ~1,500 MW)."""

    criteria: str
    stages: list[LoadLossStageResult]
