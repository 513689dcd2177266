"""Phase 1 of a study: the plan.

:func:`plan_study` solves the base case and the stages, chooses the study area, lists the outages
and (unless deferred) searches the N-0 and voltage-collapse hosting capacity. The plan is
deterministic: a process that solves a part recomputes it from the spec and the grid instead of
receiving it, and :func:`plan_fingerprint` proves it got the same one.
"""

from __future__ import annotations

import dataclasses
import hashlib
import time
from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np

from grid_models.catalog.entries import CATALOG
from grid_models.catalog.profiles import LoadProfile, catalog_profile, system_shape
from grid_models.catalog.summary import resolve_bus
from grid_models.errors import StudySpecError
from grid_models.facility import StageLoad, stage_load
from grid_models.grid import Grid
from grid_models.pipeline import progress as budget
from grid_models.pipeline.progress import ProgressCallback
from grid_models.results.study import PoiInfo
from grid_models.results.text import stage_title
from grid_models.solver.lightsim import LightSimBackend
from grid_models.solver.network import PreparedNetwork, RatingChoice, prepare_network
from grid_models.solver.types import SolverSettings
from grid_models.spec.study import ContingencyOptions, StudySpec
from grid_models.studies.annual.block import AnnualContext
from grid_models.studies.annual.context import annual_context
from grid_models.studies.evaluation import monitored_buses
from grid_models.studies.hosting.search import HostingPlan, plan_hosting
from grid_models.studies.n1.outages import build_contingencies
from grid_models.studies.n1.table import Contingency
from grid_models.studies.power_flow import DispatchContext, StageSolve, dispatch_context, solve_base_case, solve_stage
from grid_models.studies.study_area import StudyArea, select_study_area

__all__ = [
    "StudyPlan",
    "contingency_options",
    "hosting_needed_by_outages",
    "hosting_plan",
    "plan_fingerprint",
    "plan_study",
    "solver_settings",
]


def solver_settings(spec: StudySpec) -> SolverSettings:
    """Numerical settings from the spec's solver options."""
    return SolverSettings(
        tolerance_pu=spec.solver.tolerance_pu,
        max_iterations=spec.solver.max_iterations,
        enforce_q_limits=spec.solver.enforce_q_limits,
    )


def contingency_options(spec: StudySpec) -> ContingencyOptions | None:
    """The outage options when the study needs outages (N-1 analysis, an N-1 hosting capacity, or
    an annual study's screened N-1)."""
    hosting, annual = spec.analyses.hosting_capacity, spec.analyses.annual
    if spec.analyses.contingency is not None:
        return spec.analyses.contingency
    needed = (hosting is not None and hosting.n1) or (annual is not None and annual.n1)
    return ContingencyOptions() if needed else None


@dataclass(frozen=True)
class StudyPlan:
    """Everything solved before the parts, and the outages to solve."""

    spec: StudySpec
    grid: Grid
    prepared: PreparedNetwork
    backend: LightSimBackend
    settings: SolverSettings
    poi: int
    poi_info: PoiInfo
    solves: list[StageSolve]
    context: DispatchContext | None
    area: StudyArea | None
    contingencies: list[Contingency]
    hosting: HostingPlan | None
    started_at: datetime
    duration_s: float
    annual: AnnualContext | None = None
    profile: LoadProfile | None = None
    profile_is_proxy: bool = False

    @property
    def outage_stages(self) -> list[int]:
        """Stages (0 = base case) whose outages are solved: N-1 on all solved ones, an N-1 hosting
        capacity only the base, none for an annual study's screening alone."""
        if not self.contingencies:
            return []
        solved = [s.index for s in self.solves if s.converged]
        if self.spec.analyses.contingency is not None:
            return solved
        return [i for i in solved if i == 0] if hosting_needed_by_outages(self.spec) else []

    @property
    def hosting_n1(self) -> bool:
        """Whether the base case's outage parts also search their share of the N-1 hosting capacity."""
        return self.hosting is not None and bool(self.contingencies) and hosting_needed_by_outages(self.spec)


def _poi(grid: Grid, prepared: PreparedNetwork, spec: StudySpec) -> tuple[int, PoiInfo]:
    bus_id = resolve_bus(grid, bus=spec.site.bus, bus_name=spec.site.bus_name)
    if not bool(grid.net.bus.in_service.at[bus_id]):
        raise StudySpecError(f"bus {bus_id} is out of service in grid {grid.grid_id!r}; choose an energised bus")
    position = prepared.bus_position(bus_id)
    info = PoiInfo(
        bus_id=bus_id,
        bus_name=prepared.bus_names[position],
        vn_kv=float(prepared.bus_vn_kv[position]),
        area=int(prepared.bus_area[position]),
    )
    return position, info


def _check_monitored(prepared: PreparedNetwork, spec: StudySpec) -> None:
    """At least one energised bus must be watched, or every voltage check would pass vacuously."""
    if not monitored_buses(prepared, spec.criteria).any():
        highest = float(prepared.bus_vn_kv[prepared.net.bus.in_service.to_numpy(dtype=bool)].max())
        raise StudySpecError(
            f"criteria.monitored_min_kv = {spec.criteria.monitored_min_kv:g} kV leaves no bus monitored: the grid's highest "
            f"in-service nominal voltage is {highest:g} kV; lower it (0 monitors every bus)"
        )


def _solve_stages(
    backend: LightSimBackend,
    spec: StudySpec,
    *,
    poi: int,
    loads: list[StageLoad],
    settings: SolverSettings,
    progress: ProgressCallback,
) -> tuple[list[StageSolve], DispatchContext | None]:
    progress(budget.STAGES[0], "solving the base case without the facility")
    base = solve_base_case(backend, poi=poi, initial=spec.solver.initial_voltage, settings=settings)
    if not base.converged:
        return [base], None
    context = dispatch_context(backend.prepared, base, spec.dispatch)
    solves, previous = [base], base
    for number, load in enumerate(loads, start=1):
        progress(budget.stage_fraction(number, len(loads)), f"stage {number}/{len(loads)}: {stage_title(load.label, load.p_mw)}")
        stage = solve_stage(backend, index=number, load=load, previous=previous, context=context, settings=settings)
        solves.append(stage)
        previous = stage if stage.converged else previous
    return solves, context


def _search_hosting(plan: StudyPlan, progress: ProgressCallback) -> HostingPlan | None:
    hosting, spec = plan.spec.analyses.hosting_capacity, plan.spec
    if hosting is None or plan.context is None:
        return None
    loads = [s.load.p_mw for s in plan.solves[1:] if s.load is not None]
    low, high = budget.HOSTING_SEARCH
    return plan_hosting(
        plan.backend,
        base=plan.solves[0],
        context=plan.context,
        options=hosting,
        criteria=spec.criteria,
        params=spec.facility,
        settings=plan.settings,
        largest_stage_mw=max(loads, default=0.0),
        with_n1=hosting.n1 and bool(plan.contingencies),
        progress=lambda fraction, step: progress(low + (high - low) * fraction, step),
    )


def hosting_needed_by_outages(spec: StudySpec) -> bool:
    """Whether the outage parts need the hosting plan (they search the N-1 hosting capacity)."""
    hosting = spec.analyses.hosting_capacity
    return hosting is not None and hosting.n1 and contingency_options(spec) is not None


def hosting_plan(plan: StudyPlan, *, progress: ProgressCallback) -> HostingPlan | None:
    """The N-0 and voltage-collapse hosting capacity: the plan's, or searched now when
    ``plan_study`` deferred it (the completion calls this); None when the spec does not ask for it."""
    return plan.hosting if plan.hosting is not None else _search_hosting(plan, progress)


def plan_study(
    spec: StudySpec, grid: Grid, *, progress: ProgressCallback, hosting: bool = True, profile: LoadProfile | None = None
) -> StudyPlan:
    """Phase 1: solve the base case and the stages, choose the study area, list the outages, find
    the N-0 and voltage-collapse hosting capacity, and prepare an annual study's hours.

    ``hosting=False`` defers that search to the completion (:func:`hosting_plan`) unless the
    outage parts need it: a worker fleet uses it so that the processes that only solve outages
    do not each spend the search first. ``profile``: the uploaded hourly profile an annual study
    names (catalog scenarios and proxies are read here).
    """
    started_at, clock = datetime.now(UTC), time.perf_counter()
    progress(0.0, "preparing the grid model")
    criteria = spec.criteria
    prepared = prepare_network(grid.net, ratings=RatingChoice(criteria.normal_rating_set, criteria.emergency_rating_set))
    poi, poi_info = _poi(grid, prepared, spec)
    _check_monitored(prepared, spec)
    loads = [stage_load(stage, spec.facility, index=i) for i, stage in enumerate(spec.stages, start=1)]
    settings = solver_settings(spec)
    backend = LightSimBackend(prepared, settings)
    if backend.islands.islanded(())[poi]:
        raise StudySpecError(
            f"bus {poi_info.bus_id} is not connected to the main network (no in-service line or transformer path "
            "leads there); choose a connected bus"
        )
    solves, context = _solve_stages(backend, spec, poi=poi, loads=loads, settings=settings, progress=progress)
    area, contingencies = None, []
    options = contingency_options(spec)
    if options is not None and context is not None:
        progress(budget.AREA, "choosing the study area")
        area = select_study_area(backend, base=solves[0], context=context, options=options.study_area)
        contingencies = build_contingencies(prepared, area, options)
    plan = StudyPlan(
        spec=spec,
        grid=grid,
        prepared=prepared,
        backend=backend,
        settings=settings,
        poi=poi,
        poi_info=poi_info,
        solves=solves,
        context=context,
        area=area,
        contingencies=contingencies,
        hosting=None,
        started_at=started_at,
        duration_s=0.0,
    )
    searched = _search_hosting(plan, progress) if hosting or hosting_needed_by_outages(spec) else None
    plan = _with_annual(dataclasses.replace(plan, hosting=searched), profile)
    return dataclasses.replace(plan, duration_s=time.perf_counter() - clock)


def _profile(spec: StudySpec, grid: Grid, given: LoadProfile | None) -> tuple[LoadProfile, bool]:
    """The hourly profile an annual study names, and whether it is another grid's (a proxy)."""
    source = spec.analyses.annual.profile if spec.analyses.annual else None
    if source is None or source.upload_id is not None:
        if given is None:
            raise StudySpecError("the annual study names an uploaded profile that was not given; upload it (POST /v1/profiles)")
        return given, False
    if source.proxy is not None:
        shape = system_shape(source.proxy)
        if shape is None:
            raise StudySpecError(
                f"catalog grid {source.proxy!r} ships no hourly profile to borrow; use activsg2000 or activsg200"
            )
        return shape, True
    own = catalog_profile(grid.grid_id) if grid.source.startswith("matpower:") and grid.grid_id in CATALOG else None
    if own is None:
        raise StudySpecError(
            f"grid {grid.grid_id!r} ships no hourly load profile: upload one (POST /v1/profiles, a CSV with an 'area N', "
            "'zone N' or 'system' column per hour) and name it as annual.profile.upload_id, or borrow another grid's "
            "shape explicitly with annual.profile.proxy (the result then warns that it is a proxy)"
        )
    return own, False


def _with_annual(plan: StudyPlan, given: LoadProfile | None) -> StudyPlan:
    """The plan with an annual study's hours prepared (unchanged without one, or without a base case)."""
    options = plan.spec.analyses.annual
    if options is None or plan.context is None:
        return plan
    profile, proxy = _profile(plan.spec, plan.grid, given)
    context = annual_context(
        spec=plan.spec,
        options=options,
        profile=profile,
        backend=plan.backend,
        settings=plan.settings,
        base=plan.solves[0],
        dispatch=plan.context,
        poi=plan.poi,
        stages=[s.load for s in plan.solves[1:] if s.load is not None],
        contingencies=plan.contingencies,
    )
    return dataclasses.replace(plan, annual=context, profile=profile, profile_is_proxy=proxy)


def plan_fingerprint(plan: StudyPlan) -> str:
    """A digest of what the parts depend on: a process that recomputes the plan must get the same
    one, or its parts would not fit the others (different library versions in a fleet)."""
    digest = hashlib.sha256()
    digest.update(f"{plan.grid.checksum}|{plan.spec.input_hash()}|{plan.poi}".encode())
    for solve in plan.solves:
        digest.update(f"|{solve.index}:{solve.converged}".encode())
    digest.update("|".join(f"{c.label}@{c.position}" for c in plan.contingencies).encode())
    if plan.profile is not None:  # an uploaded profile's content is not in the spec, only its id
        digest.update(hashlib.sha256(np.ascontiguousarray(plan.profile.values).tobytes()).digest())
    if plan.hosting is not None and plan.hosting_n1:  # only the N-1 hosting parts depend on it
        digest.update(f"|ceiling {plan.hosting.ceiling_mw!r}".encode())
    return digest.hexdigest()
