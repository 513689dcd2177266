"""A study in phases, so that its outages can be solved anywhere.

1. :func:`plan_study`: the base case, the stages, the study area and the outage list;
2. :func:`contingency_work` / :func:`run_work_item`: the outages, in slices that any process
   holding the same grid can solve (a worker fleet fans them out); a slice of the base case's
   outages also yields its part of the N-1 hosting capacity;
3. :func:`grid_models.completion.complete_study`: attribution, hosting capacity, load loss, findings
   and the result.

``run_study`` runs the three in one process. Phase 1 is deterministic, so a worker that solves a
slice recomputes the plan from the spec and the grid instead of receiving it.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import numpy as np

from grid_models.catalog.summary import resolve_bus
from grid_models.errors import StudySpecError
from grid_models.facility import StageLoad, stage_load
from grid_models.grid import Grid
from grid_models.results import PoiInfo
from grid_models.solver.lightsim import LightSimBackend
from grid_models.solver.network import PreparedNetwork, prepare_network
from grid_models.solver.types import SolverSettings
from grid_models.spec import ContingencyOptions, StudySpec
from grid_models.studies.contingency import Contingency, OutageTable, build_contingencies, run_contingencies
from grid_models.studies.evaluation import monitored_buses
from grid_models.studies.findings import stage_title
from grid_models.studies.hosting_capacity import HostingPlan, plan_hosting
from grid_models.studies.hosting_n1 import N1Inputs, N1Part, hosting_n1_part
from grid_models.studies.power_flow import DispatchContext, StageSolve, dispatch_context, solve_base_case, solve_stage
from grid_models.studies.study_area import StudyArea, select_study_area

__all__ = [
    "Outages",
    "SliceResult",
    "StudyPlan",
    "WorkItem",
    "contingency_options",
    "contingency_work",
    "ensure_hosting_plan",
    "hosting_needed_by_outages",
    "merge_slices",
    "plan_fingerprint",
    "plan_study",
    "run_work_item",
    "solver_settings",
]

Progress = Callable[[float, str], None]


def solver_settings(spec: StudySpec) -> SolverSettings:
    """Numerical settings from the spec's solver options."""
    return SolverSettings(
        tolerance_pu=spec.solver.tolerance_pu,
        max_iterations=spec.solver.max_iterations,
        enforce_q_limits=spec.solver.enforce_q_limits,
    )


def contingency_options(spec: StudySpec) -> ContingencyOptions | None:
    """The outage options when the study needs outages (N-1 analysis or an N-1 hosting capacity)."""
    hosting = spec.analyses.hosting_capacity
    if spec.analyses.contingency is not None:
        return spec.analyses.contingency
    return ContingencyOptions() if hosting is not None and hosting.n1 else None


@dataclass
class StudyPlan:
    """Everything solved before the outages, and the outages to solve."""

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
    elapsed_s: float = 0.0  # time spent on this study in earlier phases and processes
    execution: dict[str, Any] = field(default_factory=lambda: {"mode": "one process"})

    @property
    def outage_stages(self) -> list[int]:
        """Stages (0 = base case) whose outages are solved: N-1 on all solved ones, an N-1 hosting capacity only the base."""
        if not self.contingencies:
            return []
        solved = [s.index for s in self.solves if s.converged]
        return solved if self.spec.analyses.contingency is not None else [i for i in solved if i == 0]

    @property
    def hosting_n1(self) -> bool:
        """Whether the base case's outage slices also search their part of the N-1 hosting capacity."""
        return self.hosting is not None and bool(self.contingencies) and hosting_needed_by_outages(self.spec)


@dataclass(frozen=True)
class WorkItem:
    """A slice of the outage list of one stage (with its part of the N-1 hosting capacity when ``hosting``)."""

    stage_index: int
    start: int
    stop: int
    hosting: bool = False


@dataclass
class Outages:
    """Phase 2's output: the outage table of each stage and the N-1 hosting-capacity parts."""

    tables: dict[int, OutageTable] = field(default_factory=dict)
    n1_parts: list[N1Part] = field(default_factory=list)


@dataclass
class SliceResult:
    """What solving a work item yields."""

    table: OutageTable
    n1_part: N1Part | None = None


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
    backend: LightSimBackend, spec: StudySpec, *, poi: int, loads: list[StageLoad], settings: SolverSettings, progress: Progress
) -> tuple[list[StageSolve], DispatchContext | None]:
    progress(0.05, "solving the base case without the facility")
    base = solve_base_case(backend, poi=poi, initial=spec.solver.initial_voltage, settings=settings)
    if not base.converged:
        return [base], None
    context = dispatch_context(backend.prepared, base, spec.dispatch)
    solves, previous = [base], base
    for number, load in enumerate(loads, start=1):
        progress(0.05 + 0.25 * (number - 1) / len(loads), f"stage {number}/{len(loads)}: {stage_title(load.label, load.p_mw)}")
        stage = solve_stage(backend, index=number, load=load, previous=previous, context=context, settings=settings)
        solves.append(stage)
        previous = stage if stage.converged else previous
    return solves, context


def _hosting_plan(plan: StudyPlan, progress: Progress) -> HostingPlan | None:
    hosting, spec = plan.spec.analyses.hosting_capacity, plan.spec
    if hosting is None or plan.context is None:
        return None
    loads = [s.load.p_mw for s in plan.solves[1:] if s.load is not None]
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
        progress=lambda fraction, step: progress(0.33 + 0.02 * fraction, step),
    )


def hosting_needed_by_outages(spec: StudySpec) -> bool:
    """Whether the outage slices need the hosting plan (they search the N-1 hosting capacity)."""
    hosting = spec.analyses.hosting_capacity
    return hosting is not None and hosting.n1 and contingency_options(spec) is not None


def ensure_hosting_plan(plan: StudyPlan, *, progress: Progress) -> None:
    """Search the N-0 and voltage-collapse hosting capacity if the spec asks for it and
    ``plan_study`` deferred it (the completion calls this)."""
    if plan.hosting is None:
        plan.hosting = _hosting_plan(plan, progress)


def plan_study(spec: StudySpec, grid: Grid, *, progress: Progress, hosting: bool = True) -> StudyPlan:
    """Phase 1: solve the base case and the stages, choose the study area, list the outages and
    find the N-0 and voltage-collapse hosting capacity.

    ``hosting=False`` defers that search to the completion (:func:`ensure_hosting_plan`) unless the
    outage slices need it: a worker fleet uses it so that the processes that only solve outages
    do not each spend the search (20 s on activsg70k) first.
    """
    started_at, clock = datetime.now(UTC), time.perf_counter()
    progress(0.0, "preparing the grid model")
    prepared = prepare_network(grid.net)
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
        progress(0.32, "choosing the study area")
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
    )
    if hosting or hosting_needed_by_outages(spec):
        plan.hosting = _hosting_plan(plan, progress)
    plan.elapsed_s = time.perf_counter() - clock
    return plan


def plan_fingerprint(plan: StudyPlan) -> str:
    """A digest of what the outage slices depend on: a process that recomputes the plan must get the
    same one, or its slices would not fit the others (different library versions in a fleet)."""
    digest = hashlib.sha256()
    digest.update(f"{plan.grid.checksum}|{plan.spec.input_hash()}|{plan.poi}".encode())
    for solve in plan.solves:
        digest.update(f"|{solve.index}:{solve.converged}".encode())
    digest.update("|".join(f"{c.label}@{c.position}" for c in plan.contingencies).encode())
    if plan.hosting is not None and plan.hosting_n1:  # only the N-1 hosting slices depend on it
        digest.update(f"|ceiling {plan.hosting.ceiling_mw!r}".encode())
    return digest.hexdigest()


def contingency_work(
    plan: StudyPlan, *, rows_per_item: int | None = None, hosting_rows_per_item: int | None = None
) -> list[WorkItem]:
    """The outage slices to solve: one per stage when ``rows_per_item`` is None; the base case's
    slices that also search the N-1 hosting capacity (which solves them at a dozen or so demand
    levels) may be cut smaller with ``hosting_rows_per_item``. Heaviest (hosting) slices first."""
    count = len(plan.contingencies)
    items: list[WorkItem] = []
    for stage in plan.outage_stages:
        hosting = stage == 0 and plan.hosting_n1
        size = max((hosting_rows_per_item if hosting else None) or rows_per_item or count, 1)
        items.extend(WorkItem(stage, start, min(start + size, count), hosting=hosting) for start in range(0, count, size))
    return sorted(items, key=lambda item: not item.hosting)


def run_work_item(
    plan: StudyPlan, item: WorkItem, *, check: Callable[[], None] | None = None, threads: int | None = None
) -> SliceResult:
    """Phase 2: solve one slice of outages of one stage (and its part of the N-1 hosting capacity).

    ``check()`` is called every few solves; it may raise (for example ``StudyCanceled``) to stop
    the slice early. ``threads`` caps the batch solver's threads (processes that share the cores
    use fewer); results do not depend on it.
    """
    options = contingency_options(plan.spec)
    if options is not None and threads is not None:
        options = options.model_copy(update={"threads": min(options.threads, threads)})
    if options is None or plan.context is None or item.stage_index not in plan.outage_stages:
        raise StudySpecError(f"work item {item} does not belong to this study's plan")
    stage = next(s for s in plan.solves if s.index == item.stage_index)
    contingencies = plan.contingencies[item.start : item.stop]
    table = run_contingencies(
        plan.backend,
        stage=stage,
        contingencies=contingencies,
        eligible=plan.context.eligible,
        options=options,
        settings=plan.settings,
        check=check,
    )
    part = None
    if item.hosting and plan.hosting is not None:
        part = hosting_n1_part(plan.hosting, N1Inputs(contingencies, table, options), check=check)
    return SliceResult(table, part)


def _join(parts: list[OutageTable]) -> OutageTable:
    return OutageTable(
        contingencies=[c for table in parts for c in table.contingencies],
        converged=np.concatenate([t.converged for t in parts]),
        exact=np.concatenate([t.exact for t in parts]),
        vm_pu=np.vstack([t.vm_pu for t in parts]),
        loading_percent=np.vstack([t.loading_percent for t in parts]),
        islanded_buses=np.concatenate([t.islanded_buses for t in parts]),
        islanded_load_mw=np.concatenate([t.islanded_load_mw for t in parts]),
        islanded_generation_mw=np.concatenate([t.islanded_generation_mw for t in parts]),
        duration_s=sum(t.duration_s for t in parts),
    )


def merge_slices(plan: StudyPlan, slices: dict[WorkItem, SliceResult]) -> Outages:
    """Join the slices of each stage back into one table in outage order, and collect the N-1
    hosting-capacity parts (in outage order).

    Raises:
        StudySpecError: a slice is missing (every outage of every stage must be solved).
    """
    tables: dict[int, OutageTable] = {}
    for stage in plan.outage_stages:
        parts = sorted((item for item in slices if item.stage_index == stage), key=lambda item: item.start)
        covered = sum(item.stop - item.start for item in parts)
        if covered != len(plan.contingencies):
            raise StudySpecError(f"stage {stage}: {covered} of {len(plan.contingencies)} outages solved; a slice is missing")
        tables[stage] = _join([slices[item].table for item in parts])
    ordered = sorted(slices, key=lambda item: (item.stage_index, item.start))
    n1_parts = [part for part in (slices[item].n1_part for item in ordered) if part is not None]
    return Outages(tables=tables, n1_parts=n1_parts)
