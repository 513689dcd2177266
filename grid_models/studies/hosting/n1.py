"""The N-1 hosting capacity, in parts that merge.

The N-1 limit is the smallest demand at which any outage fails, so it is the minimum over any
split of the outage list of each part's own limit. Each part bisects between 0 and the plan's
ceiling (the nose point) with the same midpoints; the part holding the binding outage follows
exactly the path a search over all outages would, so the merged limit equals the undivided one
(a tie between parts within one resolution step is broken by outage order). A worker fleet runs
the parts in parallel; ``run_hosting_capacity`` runs one part with every outage.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from pydantic import BaseModel

from grid_models.errors import InternalError
from grid_models.facility import FacilityParameters
from grid_models.results.analyses import (
    ContingencyStatus,
    HostingCapacityResult,
    HostingCriterion,
    HostingCurvePoint,
    HostingLimit,
)
from grid_models.results.kinds import BindingKind
from grid_models.solver.lightsim import LightSimBackend
from grid_models.solver.types import IntArray, SolverSettings
from grid_models.spec.study import ContingencyOptions, Criteria, HostingCapacityOptions
from grid_models.studies.hosting.search import (
    Binding,
    HostingPlan,
    HostingSearch,
    Trial,
    bisect,
    curve_points,
    hosting_limit,
    plan_hosting,
)
from grid_models.studies.n1.outages import run_contingencies
from grid_models.studies.n1.table import Contingency, OutageTable, Stop
from grid_models.studies.n1.violations import attributable_mask, evaluate_contingencies
from grid_models.studies.power_flow import DispatchContext, StageSolve

__all__ = ["N1Failure", "N1Inputs", "N1Part", "hosting_n1_part", "hosting_result", "merge_n1_parts", "run_hosting_capacity"]


@dataclass
class N1Inputs:
    """What an N-1 trial needs: the outages and their results without the facility."""

    contingencies: list[Contingency]
    base_table: OutageTable
    options: ContingencyOptions


class N1Failure(BaseModel):
    """What fails first above a part's limit."""

    element: str
    name: str
    kind: BindingKind
    outage: str
    value: float | None
    limit: float | None


class N1Part(BaseModel):
    """The N-1 limit over one part of the outage list."""

    secure: bool  # no outage of the part fails up to the ceiling
    low_mw: float
    high_mw: float
    failure: N1Failure | None
    curve: list[HostingCurvePoint]
    duration_s: float


def _outages_at(
    search: HostingSearch, stage: StageSolve, n1: N1Inputs, *, check: Callable[[], None] | None, stop: Stop | None = None
) -> OutageTable:
    """The outages of ``n1`` solved at a trial's stage."""
    return run_contingencies(
        search.backend,
        stage=stage,
        contingencies=n1.contingencies,
        eligible=search.context.eligible,
        options=n1.options,
        settings=search.settings,
        check=check,
        stop=stop,
    )


def _n1_failure(search: HostingSearch, stage: StageSolve, n1: N1Inputs, check: Callable[[], None] | None) -> N1Failure | None:
    if not stage.converged:
        return N1Failure(element="", name="", kind=BindingKind.NO_SOLUTION, outage="none", value=None, limit=None)
    table = _outages_at(search, stage, n1, check=check)
    result = evaluate_contingencies(
        search.backend.prepared, table, base_table=n1.base_table, stage=stage, criteria=search.criteria
    )
    worst = next((v for v in result.violations if v.status.attributable), None)
    if worst is not None:
        return N1Failure(
            element=worst.monitored,
            name=worst.monitored_name,
            kind=BindingKind.of(worst.kind),
            outage=worst.contingency,
            value=worst.value,
            limit=worst.limit,
        )
    failed = next((e for e in result.events if e.status is ContingencyStatus.NO_SOLUTION), None)  # not pre-existing ones
    if failed is not None:
        return N1Failure(element="", name="", kind=BindingKind.NO_SOLUTION, outage=failed.contingency, value=None, limit=None)
    return None


def _n1_fails(search: HostingSearch, stage: StageSolve, n1: N1Inputs, check: Callable[[], None] | None) -> bool:
    """Whether any outage fails at ``stage``: the same answer as :func:`_n1_failure`, but the
    outages stop at the first violation attributable to the facility (or lost solution)."""
    if not stage.converged:
        return True
    prepared, failed = search.backend.prepared, False

    def stop(table: OutageTable, rows: IntArray) -> bool:
        nonlocal failed
        failed = bool(attributable_mask(table.take(rows), n1.base_table, prepared, search.criteria).any())
        return failed

    _outages_at(search, stage, n1, check=check, stop=stop)
    return failed


def hosting_n1_part(
    plan: HostingPlan, n1: N1Inputs, *, check: Callable[[], None] | None = None, early_exit: bool = True
) -> N1Part:
    """The N-1 limit over the outages of ``n1`` (see module doc); ``check()`` is called between
    solves and may raise to stop the search.

    With ``early_exit`` a trial's outages stop at the first failure (the bisection only needs
    pass or fail) and only the final bracket's trial is evaluated in full for its binding
    element; the result is the same as without it.
    """
    clock = time.perf_counter()
    search, ceiling = plan.search, plan.ceiling_mw
    failing: dict[float, bool] = {}
    evaluated: dict[float, N1Failure | None] = {}  # trials evaluated in full

    def evaluate(trial: Trial) -> N1Failure | None:
        if trial.p_mw not in evaluated:
            evaluated[trial.p_mw] = _n1_failure(search, trial.stage, n1, check)
        return evaluated[trial.p_mw]

    def fails(p_mw: float) -> bool:
        trial = search.trial(p_mw)
        if trial.p_mw not in failing:
            if check is not None:
                check()
            quick = early_exit and _n1_fails(search, trial.stage, n1, check)
            failing[trial.p_mw] = quick if early_exit else evaluate(trial) is not None
        return failing[trial.p_mw]

    if not fails(ceiling):
        low, high, first = ceiling, plan.search_max_mw + 1, None
    else:
        low, high = bisect(lambda p: not fails(p), 0.0, ceiling, plan.resolution_mw)
        first = evaluate(search.trial(high))
        if first is None:  # both checks apply the same attribution
            raise InternalError(f"the N-1 check at {high:.3f} MW failed but its full evaluation found nothing")
    return N1Part(
        secure=first is None,
        low_mw=low,
        high_mw=high,
        failure=first,
        curve=curve_points(search),
        duration_s=time.perf_counter() - clock,
    )


def merge_n1_parts(parts: list[N1Part], *, plan: HostingPlan) -> HostingLimit:
    """The N-1 limit of the whole outage list from its parts (in outage order)."""
    top, ceiling = plan.search_max_mw, plan.ceiling_mw
    failing = [part for part in parts if not part.secure]
    if not failing:
        binding = Binding(kind=BindingKind.VOLTAGE_COLLAPSE if ceiling < top else None)
        secure = hosting_limit(
            HostingCriterion.N1,
            low=ceiling,
            high=top + 1,
            binding=binding,
            search_max=top,
            largest_stage_mw=plan.largest_stage_mw,
        )
        return secure.model_copy(update={"found_limit": ceiling < top})
    first = min(failing, key=lambda part: part.low_mw)  # min() keeps the first of equal ones
    f = first.failure
    if f is None:  # a part that is not secure has a failure by construction
        raise InternalError("an N-1 hosting part failed without a binding element")
    return hosting_limit(
        HostingCriterion.N1,
        low=first.low_mw,
        high=first.high_mw,
        binding=Binding(f.element, f.name, f.kind, f.value, f.limit),
        outage=f.outage,
        search_max=top,
        largest_stage_mw=plan.largest_stage_mw,
    )


def hosting_result(plan: HostingPlan, n1_parts: list[N1Part] | None = None) -> HostingCapacityResult:
    """The hosting capacity: the plan's limits, plus the N-1 limit merged from ``n1_parts`` when given."""
    search = plan.search
    limits = list(plan.limits)
    if n1_parts:
        limits.append(merge_n1_parts(n1_parts, plan=plan))
    curve = {point.p_mw: point for part in n1_parts or [] for point in part.curve}
    curve.update({point.p_mw: point for point in curve_points(search)})
    return HostingCapacityResult(
        poi_bus=int(search.backend.prepared.bus_ids[search.base.poi]),
        search_max_mw=plan.search_max_mw,
        resolution_mw=plan.resolution_mw,
        limits=limits,
        curve=[curve[p] for p in sorted(curve)],
        duration_s=plan.duration_s + sum(part.duration_s for part in n1_parts or []),
    )


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
    """Hosting capacity at ``base.poi`` in one process (see :mod:`grid_models.studies.hosting.search`);
    N-1 only when ``n1`` is given."""
    plan = plan_hosting(
        backend,
        base=base,
        context=context,
        options=options,
        criteria=criteria,
        params=params,
        settings=settings,
        largest_stage_mw=largest_stage_mw,
        with_n1=n1 is not None,
        progress=progress,
    )
    return hosting_result(plan, [hosting_n1_part(plan, n1)] if n1 is not None else None)
