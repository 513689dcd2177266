"""Hosting capacity at the POI: the largest demand before the first N-0 violation, the first N-1
violation and voltage collapse, each found by bisection to ``resolution_mw``.

Each trial is a full stage solve (dispatch rule, change in losses, reactive limits) started from
the nearest solved trial below it. A limit is the last demand that passes; the binding element
(and outage) is what fails just above it. Violations count only when attributable to the facility
(new or worsened, as in the stage tables). The nose point is the largest demand with an AC
solution. Bisection assumes a criterion, once failed, stays failed at higher demand; the curve
(every trial) lets a reader check that.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from grid_models.facility import FacilityParameters, StageSpec, stage_load
from grid_models.results.analyses import HostingCapacityResult, HostingCriterion, HostingCurvePoint, HostingLimit
from grid_models.results.kinds import BindingKind, FindingCategory, Severity
from grid_models.results.study import Finding, StageResult
from grid_models.results.text import mw_text, named, stage_title
from grid_models.solver.lightsim import LightSimBackend
from grid_models.solver.types import SolverSettings
from grid_models.spec.study import Criteria, HostingCapacityOptions
from grid_models.studies.evaluation import evaluate_stage
from grid_models.studies.power_flow import DispatchContext, StageSolve, solve_stage

__all__ = [
    "Binding",
    "HostingPlan",
    "HostingSearch",
    "Trial",
    "bisect",
    "curve_points",
    "hosting_findings",
    "hosting_limit",
    "plan_hosting",
]


@dataclass
class Trial:
    p_mw: float
    stage: StageSolve
    summary: StageResult

    @property
    def n0_ok(self) -> bool:
        return self.stage.converged and self.summary.new_violations == 0


class HostingSearch:
    """Trials cached by demand, each solved from the nearest solved trial below it."""

    def __init__(
        self,
        backend: LightSimBackend,
        base: StageSolve,
        *,
        context: DispatchContext,
        criteria: Criteria,
        params: FacilityParameters,
        settings: SolverSettings,
    ) -> None:
        self.backend, self.base, self.context = backend, base, context
        self.criteria, self.params, self.settings = criteria, params, settings
        self.trials: dict[float, Trial] = {}

    def trial(self, p_mw: float) -> Trial:
        p_mw = round(p_mw, 6)
        if p_mw not in self.trials:
            below = [t for t in self.trials.values() if t.p_mw < p_mw and t.stage.converged]
            previous = max(below, key=lambda t: t.p_mw).stage if below else self.base
            load = stage_load(StageSpec(mw=p_mw), self.params, index=1)
            with self.backend.chord_solves():  # a trial starts from the solved trial next to it
                stage = solve_stage(
                    self.backend, index=1, load=load, previous=previous, context=self.context, settings=self.settings
                )
            summary = evaluate_stage(self.backend.prepared, stage, self.base, criteria=self.criteria, top_branches=0)
            self.trials[p_mw] = Trial(p_mw, stage, summary)
        return self.trials[p_mw]


def bisect(passes: Callable[[float], bool], low: float, high: float, resolution: float) -> tuple[float, float]:
    """Narrow [low (passes), high (fails)] down to ``resolution``."""
    while high - low > resolution:
        middle = (low + high) / 2
        if passes(middle):
            low = middle
        else:
            high = middle
    return low, high


class Binding(NamedTuple):
    """What fails just above a hosting limit: the element, its name, the kind of limit, the value
    it reached and the limit; all None when nothing failed (the search reached its end)."""

    element: str | None = None
    name: str | None = None
    kind: BindingKind | None = None
    value: float | None = None
    limit: float | None = None


_NO_BINDING = Binding()
_NO_SOLUTION = Binding(kind=BindingKind.NO_SOLUTION)


def _n0_binding(trial: Trial) -> Binding:
    if not trial.stage.converged:
        return _NO_SOLUTION
    thermal = [v for v in trial.summary.thermal_violations if v.status.attributable]
    voltage = [v for v in trial.summary.voltage_violations if v.status.attributable]
    if thermal:
        v = thermal[0]
        return Binding(v.branch, v.name, BindingKind.THERMAL, v.loading_percent, v.limit_percent)
    if voltage:
        b = voltage[0]
        kind = BindingKind.LOW_VOLTAGE if b.vm_pu < b.limit_pu else BindingKind.HIGH_VOLTAGE
        return Binding(f"bus {b.bus_id}", b.bus_name, kind, b.vm_pu, b.limit_pu)
    return _NO_BINDING


def hosting_limit(
    criterion: HostingCriterion,
    *,
    low: float,
    high: float,
    search_max: float,
    largest_stage_mw: float,
    binding: Binding,
    outage: str | None = None,
) -> HostingLimit:
    """A limit from its bisection bracket: ``low`` passes, ``high`` fails (``high > search_max``: never failed)."""
    found = high <= search_max and not (low >= search_max)
    max_mw = None if low <= 0 and found else low
    element, name, kind, value, limit = binding
    margin = (max_mw - largest_stage_mw) if max_mw is not None and largest_stage_mw > 0 else None
    return HostingLimit(
        criterion=criterion,
        max_mw=max_mw,
        found_limit=found,
        binding_element=element or None,
        binding_element_name=name or None,
        binding_kind=kind,
        binding_outage=outage,
        binding_value=None if value is None or np.isnan(value) else value,
        limit_value=None if limit is None or np.isnan(limit) else limit,
        margin_mw=margin,
        margin_percent=None if margin is None else margin / largest_stage_mw * 100.0,
    )


def curve_points(search: HostingSearch) -> list[HostingCurvePoint]:
    """Every trial of the search, by demand."""
    points = []
    for trial in sorted(search.trials.values(), key=lambda t: t.p_mw):
        s = trial.summary
        points.append(
            HostingCurvePoint(
                p_mw=trial.p_mw,
                converged=s.converged,
                worst_loading_percent=s.max_loading_percent,
                worst_loading_branch=s.max_loading_branch,
                min_vm_pu=s.min_vm_pu,
                min_vm_bus=s.min_vm_bus,
                poi_vm_pu=s.poi_vm_pu,
                new_violations=s.new_violations,
            )
        )
    return points


_COARSE_STEPS = 8


def _first_failure(search: HostingSearch, passes: Callable[[Trial], bool], top: float) -> float | None:
    """Walk up the coarse grid (top / 8 steps) until the criterion fails; trials already solved are reused."""
    for point in np.linspace(0.0, top, _COARSE_STEPS + 1)[1:]:
        if not passes(search.trial(float(point))):
            return float(point)
    return None


def _search_limit(
    search: HostingSearch, passes: Callable[[Trial], bool], *, top: float, resolution: float
) -> tuple[float, float, float | None]:
    """Bisect between the last coarse point that passes and the first that fails; (top, top + 1) when none fails."""
    bracket = _first_failure(search, passes, top)
    if bracket is None:
        return top, top + 1, None
    low, high = bisect(lambda p: passes(search.trial(p)), max(bracket - top / _COARSE_STEPS, 0.0), bracket, resolution)
    return low, high, bracket


@dataclass
class HostingPlan:
    """The N-0 and voltage-collapse limits, and the search whose trials the N-1 parts reuse."""

    search: HostingSearch
    limits: list[HostingLimit]
    ceiling_mw: float  # the N-1 search runs up to here: the nose point, or the search limit
    search_max_mw: float
    resolution_mw: float
    largest_stage_mw: float
    duration_s: float


def plan_hosting(
    backend: LightSimBackend,
    *,
    base: StageSolve,
    context: DispatchContext,
    options: HostingCapacityOptions,
    criteria: Criteria,
    params: FacilityParameters,
    settings: SolverSettings,
    largest_stage_mw: float,
    with_n1: bool,
    progress: Callable[[float, str], None] | None = None,
) -> HostingPlan:
    """The N-0 limit and (when asked, or when an N-1 limit follows) the voltage-collapse limit."""
    clock = time.perf_counter()
    report = progress or (lambda _fraction, _step: None)
    search = HostingSearch(backend, base, context=context, criteria=criteria, params=params, settings=settings)
    top, resolution = options.max_mw, options.resolution_mw
    report(0.0, "hosting capacity: N-0 limit")
    low, high, bracket = _search_limit(search, lambda t: t.n0_ok, top=top, resolution=resolution)
    n0_binding = _n0_binding(search.trial(high)) if bracket is not None else _NO_BINDING
    limits = [
        hosting_limit(
            HostingCriterion.N0, low=low, high=high, binding=n0_binding, search_max=top, largest_stage_mw=largest_stage_mw
        )
    ]
    ceiling = top
    if options.collapse or with_n1:  # an N-1 search needs the nose as its ceiling even when it is not asked for
        report(0.5, "hosting capacity: voltage collapse")
        ceiling, high_c, bracket_c = _search_limit(search, lambda t: t.stage.converged, top=top, resolution=resolution)
        if options.collapse:
            collapse = _NO_SOLUTION if bracket_c is not None else _NO_BINDING
            limits.append(
                hosting_limit(
                    HostingCriterion.VOLTAGE_COLLAPSE,
                    low=ceiling,
                    high=high_c,
                    binding=collapse,
                    search_max=top,
                    largest_stage_mw=largest_stage_mw,
                )
            )
    return HostingPlan(search, limits, min(ceiling, top), top, resolution, largest_stage_mw, time.perf_counter() - clock)


def hosting_findings(result: HostingCapacityResult, *, largest_stage_mw: float, largest_label: str) -> list[Finding]:
    """A summary of the limits, and a violation for each limit the largest stage exceeds."""
    words = {HostingCriterion.N0: "N-0", HostingCriterion.N1: "N-1", HostingCriterion.VOLTAGE_COLLAPSE: "voltage collapse"}
    parts, found = [], []
    for limit in result.limits:
        name = words[limit.criterion]
        if not limit.found_limit:
            parts.append(
                f"{name} above {mw_text(limit.max_mw or 0.0)}"
                if limit.binding_kind is None
                else f"{name} {mw_text(limit.max_mw or 0.0)} (nose)"
            )
            continue
        binding = ""
        outage = f" after the outage of {limit.binding_outage}" if limit.binding_outage else ""
        if limit.binding_element:
            binding = f" ({limit.binding_kind} on {named(limit.binding_element, limit.binding_element_name)}{outage})"
        elif limit.binding_kind is BindingKind.NO_SOLUTION and outage:
            binding = f" (no AC solution{outage})"
        # max_mw None: the criterion fails at the first step of the search, below the resolution
        capacity = limit.max_mw if limit.max_mw is not None else 0.0
        amount = mw_text(capacity) if limit.max_mw is not None else f"under {result.resolution_mw:g} MW"
        parts.append(f"{name} {amount}{binding}")
        if largest_stage_mw > capacity:
            found.append(
                Finding(
                    severity=Severity.VIOLATION
                    if limit.criterion is not HostingCriterion.VOLTAGE_COLLAPSE
                    else Severity.CRITICAL,
                    category=FindingCategory.HOSTING_CAPACITY,
                    what=f"{stage_title(largest_label, largest_stage_mw)} exceeds the {name} hosting capacity of the POI, "
                    f"{amount}, by {mw_text(largest_stage_mw - capacity)}{binding}",
                    where=f"bus {result.poi_bus}",
                    element_type="bus",
                    element_id=result.poi_bus,
                    limit=capacity,
                    value=largest_stage_mw,
                    unit="MW",
                )
            )
    summary = Finding(
        severity=Severity.INFO,
        category=FindingCategory.HOSTING_CAPACITY,
        what=f"hosting capacity at bus {result.poi_bus}: " + "; ".join(parts) + f" (to {result.resolution_mw:g} MW)",
        where=f"bus {result.poi_bus}",
        element_type="bus",
        element_id=result.poi_bus,
    )
    return [summary, *found]
