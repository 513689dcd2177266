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

import numpy as np

from grid_models.analysis_results import HostingCapacityResult, HostingCriterion, HostingCurvePoint, HostingLimit
from grid_models.facility import FacilityParameters, StageSpec, stage_load
from grid_models.results import Finding, Severity, StageResult, ViolationStatus
from grid_models.solver.lightsim import LightSimBackend
from grid_models.solver.types import SolverSettings
from grid_models.spec import ContingencyOptions, Criteria, HostingCapacityOptions
from grid_models.studies.contingency import Contingency, OutageTable, run_contingencies
from grid_models.studies.contingency_evaluation import evaluate_contingencies
from grid_models.studies.evaluation import evaluate_stage
from grid_models.studies.power_flow import DispatchContext, StageSolve, solve_stage

__all__ = ["N1Inputs", "hosting_findings", "run_hosting_capacity"]


@dataclass
class N1Inputs:
    """What an N-1 trial needs: the outages and their results without the facility."""

    contingencies: list[Contingency]
    base_table: OutageTable
    options: ContingencyOptions


@dataclass
class _Trial:
    p_mw: float
    stage: StageSolve
    summary: StageResult
    n1_failure: tuple[str, str, str, float, float] | None = None  # element, name, kind/outage, value, limit
    n1_checked: bool = False

    @property
    def n0_ok(self) -> bool:
        return self.stage.converged and self.summary.new_violations == 0


class _Search:
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
        self.trials: dict[float, _Trial] = {}

    def trial(self, p_mw: float) -> _Trial:
        p_mw = round(p_mw, 6)
        if p_mw not in self.trials:
            below = [t for t in self.trials.values() if t.p_mw < p_mw and t.stage.converged]
            previous = max(below, key=lambda t: t.p_mw).stage if below else self.base
            load = stage_load(StageSpec(mw=p_mw), self.params, index=1)
            stage = solve_stage(self.backend, index=1, load=load, previous=previous, context=self.context, settings=self.settings)
            summary = evaluate_stage(self.backend.prepared, stage, self.base, criteria=self.criteria, top_branches=0)
            self.trials[p_mw] = _Trial(p_mw, stage, summary)
        return self.trials[p_mw]


def _bisect(passes: Callable[[float], bool], low: float, high: float, resolution: float) -> tuple[float, float]:
    """Narrow [low (passes), high (fails)] down to ``resolution``."""
    while high - low > resolution:
        middle = (low + high) / 2
        if passes(middle):
            low = middle
        else:
            high = middle
    return low, high


def _n0_binding(trial: _Trial) -> tuple[str | None, str | None, str | None, float | None, float | None]:
    if not trial.stage.converged:
        return None, None, "no_solution", None, None
    counted = (ViolationStatus.NEW, ViolationStatus.WORSENED)
    thermal = [v for v in trial.summary.thermal_violations if v.status in counted]
    voltage = [v for v in trial.summary.voltage_violations if v.status in counted]
    if thermal:
        v = thermal[0]
        return v.branch, v.name, "thermal", v.loading_percent, v.limit_percent
    if voltage:
        b = voltage[0]
        kind = "low_voltage" if b.vm_pu < b.limit_pu else "high_voltage"
        return f"bus {b.bus_id}", b.bus_name, kind, b.vm_pu, b.limit_pu
    return None, None, None, None, None


def _n1_check(search: _Search, trial: _Trial, n1: N1Inputs) -> bool:
    if not trial.n1_checked:
        trial.n1_checked = True
        if trial.stage.converged:
            table = run_contingencies(
                search.backend,
                stage=trial.stage,
                contingencies=n1.contingencies,
                eligible=search.context.eligible,
                options=n1.options,
                settings=search.settings,
            )
            result = evaluate_contingencies(
                search.backend.prepared, table, base_table=n1.base_table, stage=trial.stage, criteria=search.criteria
            )
            worst = next((v for v in result.violations if v.status in ("new", "worsened")), None)
            failed = next((e for e in result.events if e.status.value == "no_solution"), None)
            if worst is not None:
                trial.n1_failure = (
                    worst.monitored,
                    worst.monitored_name,
                    f"{worst.kind}|{worst.contingency}",
                    worst.value,
                    worst.limit,
                )
            elif failed is not None:
                trial.n1_failure = ("", "", f"no_solution|{failed.contingency}", float("nan"), float("nan"))
        else:
            trial.n1_failure = ("", "", "no_solution|none", float("nan"), float("nan"))
    return trial.n1_failure is None


Binding = tuple[str | None, str | None, str | None, float | None, float | None]  # element, name, kind, value, limit
_NO_BINDING: Binding = (None, None, None, None, None)


def _limit(
    criterion: HostingCriterion,
    *,
    low: float,
    high: float,
    search_max: float,
    largest_stage_mw: float,
    binding: Binding,
    outage: str | None = None,
) -> HostingLimit:
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


def _curve(search: _Search) -> list[HostingCurvePoint]:
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


def _first_failure(search: _Search, passes: Callable[[_Trial], bool], top: float) -> float | None:
    """Walk up the coarse grid (top / 8 steps) until the criterion fails; trials already solved are reused."""
    for point in np.linspace(0.0, top, _COARSE_STEPS + 1)[1:]:
        if not passes(search.trial(float(point))):
            return float(point)
    return None


def _search_limit(
    search: _Search, passes: Callable[[_Trial], bool], *, top: float, resolution: float
) -> tuple[float, float, float | None]:
    """Bisect between the last coarse point that passes and the first that fails; (top, top + 1) when none fails."""
    bracket = _first_failure(search, passes, top)
    if bracket is None:
        return top, top + 1, None
    low, high = _bisect(lambda p: passes(search.trial(p)), max(bracket - top / _COARSE_STEPS, 0.0), bracket, resolution)
    return low, high, bracket


def run_hosting_capacity(
    backend: LightSimBackend,
    *,
    base: StageSolve,
    context: DispatchContext,
    options: HostingCapacityOptions,
    criteria: Criteria,
    params: FacilityParameters,
    settings: SolverSettings,
    largest_stage_mw: float,
    n1: N1Inputs | None = None,
    progress: Callable[[float, str], None] | None = None,
) -> HostingCapacityResult:
    """Hosting capacity at ``base.poi`` (see module doc); N-1 only when ``n1`` is given."""
    clock = time.perf_counter()
    report = progress or (lambda fraction, step: None)
    search = _Search(backend, base, context=context, criteria=criteria, params=params, settings=settings)
    top, resolution = options.max_mw, options.resolution_mw
    report(0.1, "hosting capacity: N-0 limit")
    low, high, bracket = _search_limit(search, lambda t: t.n0_ok, top=top, resolution=resolution)
    n0_binding = _n0_binding(search.trial(high)) if bracket is not None else _NO_BINDING
    limits = [
        _limit(HostingCriterion.N0, low=low, high=high, binding=n0_binding, search_max=top, largest_stage_mw=largest_stage_mw)
    ]
    low_c = top
    if options.collapse or n1 is not None:
        report(0.3, "hosting capacity: voltage collapse")
        low_c, high_c, _ = _search_limit(search, lambda t: t.stage.converged, top=top, resolution=resolution)
        collapse: Binding = (None, None, "no_solution", None, None)
        limits.append(
            _limit(
                HostingCriterion.VOLTAGE_COLLAPSE,
                low=low_c,
                high=high_c,
                binding=collapse,
                search_max=top,
                largest_stage_mw=largest_stage_mw,
            )
        )
    if n1 is not None:
        report(0.5, "hosting capacity: N-1 limit")
        limits.append(
            _n1_limit(search, n1, ceiling=min(low_c, top), resolution=resolution, top=top, largest_stage_mw=largest_stage_mw)
        )
    return HostingCapacityResult(
        poi_bus=int(backend.prepared.bus_ids[base.poi]),
        search_max_mw=top,
        resolution_mw=resolution,
        limits=limits,
        curve=_curve(search),
        duration_s=time.perf_counter() - clock,
    )


def _n1_limit(
    search: _Search, n1: N1Inputs, *, ceiling: float, resolution: float, top: float, largest_stage_mw: float
) -> HostingLimit:
    if _n1_check(search, search.trial(ceiling), n1):  # N-1 secure up to the nose (or the search limit)
        binding: Binding = (None, None, "voltage_collapse" if ceiling < top else None, None, None)
        secure = _limit(
            HostingCriterion.N1, low=ceiling, high=top + 1, binding=binding, search_max=top, largest_stage_mw=largest_stage_mw
        )
        return secure.model_copy(update={"found_limit": ceiling < top})
    low, high = _bisect(lambda p: _n1_check(search, search.trial(p), n1), 0.0, ceiling, resolution)
    failure = search.trial(high).n1_failure
    assert failure is not None
    element, name, kind_outage, value, limit_value = failure
    kind, outage = kind_outage.split("|")
    binding = (element, name, kind, value, limit_value)
    return _limit(
        HostingCriterion.N1, low=low, high=high, binding=binding, outage=outage, search_max=top, largest_stage_mw=largest_stage_mw
    )


def hosting_findings(result: HostingCapacityResult, *, largest_stage_mw: float, largest_label: str) -> list[Finding]:
    """A summary of the limits, and a violation for each limit the largest stage exceeds."""
    words = {HostingCriterion.N0: "N-0", HostingCriterion.N1: "N-1", HostingCriterion.VOLTAGE_COLLAPSE: "voltage collapse"}
    parts, found = [], []
    for limit in result.limits:
        name = words[limit.criterion]
        if not limit.found_limit:
            parts.append(
                f"{name} above {limit.max_mw:,.0f} MW" if limit.binding_kind is None else f"{name} {limit.max_mw:,.0f} MW (nose)"
            )
            continue
        binding = ""
        if limit.binding_element:
            outage = f" after the outage of {limit.binding_outage}" if limit.binding_outage else ""
            binding = f" ({limit.binding_kind} on {limit.binding_element} '{limit.binding_element_name}'{outage})"
        parts.append(f"{name} {limit.max_mw or 0:,.0f} MW{binding}")
        if limit.max_mw is not None and largest_stage_mw > limit.max_mw:
            found.append(
                Finding(
                    severity=Severity.VIOLATION
                    if limit.criterion is not HostingCriterion.VOLTAGE_COLLAPSE
                    else Severity.CRITICAL,
                    category="hosting_capacity",
                    what=f"{largest_label} ({largest_stage_mw:,.0f} MW) exceeds the {name} hosting capacity of the POI, "
                    f"{limit.max_mw:,.0f} MW, by {largest_stage_mw - limit.max_mw:,.0f} MW{binding}",
                    where=f"bus {result.poi_bus}",
                    element_type="bus",
                    element_id=result.poi_bus,
                    limit=limit.max_mw,
                    value=largest_stage_mw,
                    unit="MW",
                )
            )
    summary = Finding(
        severity=Severity.INFO,
        category="hosting_capacity",
        what=f"hosting capacity at bus {result.poi_bus}: " + "; ".join(parts) + f" (to {result.resolution_mw:g} MW)",
        where=f"bus {result.poi_bus}",
        element_type="bus",
        element_id=result.poi_bus,
    )
    return [summary, *found]
