"""``run_study``: the one entry point that runs a study spec on a grid.

Progress is reported through a callback ``progress(fraction, step)`` (fraction in [0, 1]); the
callback may raise :class:`~grid_models.errors.StudyCanceled` to stop the study between steps.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime

import pandapower as pp

from grid_models.analysis_results import HostingCapacityResult, LoadLossResult
from grid_models.catalog.summary import resolve_bus
from grid_models.dataset import build_dataset
from grid_models.errors import StudySpecError
from grid_models.facility import StageLoad, facility_defaults, stage_load
from grid_models.grid import Grid
from grid_models.provenance import gridimpact_version, library_versions, platform_name, python_version
from grid_models.results import Finding, GridInfo, PoiInfo, Provenance, StageResult, StudyResult
from grid_models.solver.lightsim import LightSimBackend
from grid_models.solver.network import PreparedNetwork, prepare_network
from grid_models.solver.types import PowerFlowBackend, SolverSettings
from grid_models.spec import ContingencyOptions, StudySpec
from grid_models.studies.contingency import build_contingencies, run_contingencies
from grid_models.studies.contingency_study import ContingencyRun, contingency_findings, run_contingency_analysis
from grid_models.studies.evaluation import evaluate_stage
from grid_models.studies.findings import power_flow_findings
from grid_models.studies.hosting_capacity import N1Inputs, hosting_findings, run_hosting_capacity
from grid_models.studies.load_loss import load_loss_findings, run_load_loss
from grid_models.studies.power_flow import DispatchContext, StageSolve, dispatch_context, solve_base_case, solve_stage
from grid_models.studies.study_area import select_study_area

__all__ = ["ProgressCallback", "run_study", "solver_settings"]

logger = logging.getLogger(__name__)

ProgressCallback = Callable[[float, str], None]


def _no_progress(fraction: float, step: str) -> None:
    """Default callback: progress goes to the debug log."""
    logger.debug("study_progress fraction=%.3f step=%s", fraction, step)


def solver_settings(spec: StudySpec) -> SolverSettings:
    """Numerical settings from the spec's solver options."""
    return SolverSettings(
        tolerance_pu=spec.solver.tolerance_pu,
        max_iterations=spec.solver.max_iterations,
        enforce_q_limits=spec.solver.enforce_q_limits,
    )


def _grid_info(grid: Grid, prepared: PreparedNetwork) -> GridInfo:
    net = grid.net
    return GridInfo(
        grid_id=grid.grid_id,
        title=grid.title,
        source=grid.source,
        checksum=grid.checksum,
        buses=len(net.bus),
        lines=len(net.line),
        transformers=len(net.trafo),
        generators=len(prepared.gen_ids),
        total_load_mw=float(net.load.p_mw[net.load.in_service.astype(bool)].sum()),
        notes=list(grid.notes),
    )


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


def _assumptions(spec: StudySpec, settings: SolverSettings) -> list[str]:
    defaults = facility_defaults()
    facility = spec.facility
    lines = [
        f"facility power factor {facility.power_factor:g} (default source: {defaults['power_factor'].source})",
        f"PUE {facility.pue:g}, network and storage {facility.network_storage_share:.0%} of IT power, "
        f"utilization {facility.utilization:.0%}",
        f"generators pick up the demand by '{spec.dispatch.rule.value}' among fuels {', '.join(spec.dispatch.dispatchable_fuels)}"
        + (" in the POI's area" if spec.dispatch.same_area_only else " system-wide"),
        "branch loading = apparent power at the more loaded end / MVA rating (MATPOWER RATE_A normal, RATE_B/C emergency)",
    ]
    if settings.enforce_q_limits:
        lines.append("generator reactive limits enforced (PV/PQ switching in both directions until settled)")
    else:
        lines.append("generator reactive limits NOT enforced (solver.enforce_q_limits = false)")
    return lines


def _solve_all(
    backend: PowerFlowBackend,
    spec: StudySpec,
    *,
    poi: int,
    loads: list[StageLoad],
    settings: SolverSettings,
    progress: ProgressCallback,
) -> list[StageSolve]:
    progress(0.05, "solving the base case without the facility")
    base = solve_base_case(backend, poi=poi, initial=spec.solver.initial_voltage, settings=settings)
    solves = [base]
    if not base.converged:
        return solves
    context = dispatch_context(backend.prepared, base, spec.dispatch)
    previous = base
    for number, load in enumerate(loads, start=1):
        progress(0.05 + 0.3 * (number - 1) / len(loads), f"stage {number}/{len(loads)}: {load.label} ({load.p_mw:,.0f} MW)")
        stage = solve_stage(backend, index=number, load=load, previous=previous, context=context, settings=settings)
        solves.append(stage)
        previous = stage if stage.converged else previous
    return solves


@dataclass
class _Extra:
    contingency: ContingencyRun | None = None
    hosting: HostingCapacityResult | None = None
    load_loss: LoadLossResult | None = None
    findings: list[Finding] = field(default_factory=list)


def _run_analyses(
    backend: LightSimBackend, solves: list[StageSolve], spec: StudySpec, *, settings: SolverSettings, progress: ProgressCallback
) -> _Extra:
    """The optional analyses that sit on the staged power flow."""
    extra = _Extra()
    base = solves[0]
    if not base.converged:
        return extra
    context = dispatch_context(backend.prepared, base, spec.dispatch)
    options = spec.analyses
    if options.contingency is not None:
        extra.contingency = run_contingency_analysis(
            backend,
            solves,
            context=context,
            options=options.contingency,
            criteria=spec.criteria,
            settings=settings,
            progress=lambda fraction, step: progress(0.35 + 0.45 * fraction, step),
        )
        extra.findings.extend(contingency_findings(extra.contingency.result))
    if options.hosting_capacity is not None:
        progress(0.8, "hosting capacity")
        extra.hosting = _hosting(backend, solves, spec, context=context, settings=settings, contingency=extra.contingency)
        largest = max((s for s in solves[1:] if s.load is not None), key=lambda s: s.load.p_mw if s.load else 0.0, default=None)
        if largest is not None and largest.load is not None:
            extra.findings.extend(
                hosting_findings(extra.hosting, largest_stage_mw=largest.load.p_mw, largest_label=largest.load.label)
            )
    if options.load_loss is not None:
        progress(0.95, "load-loss event")
        extra.load_loss = run_load_loss(backend, solves, context=context, criteria=spec.criteria, settings=settings)
        extra.findings.extend(load_loss_findings(extra.load_loss))
    return extra


def _n1_inputs(
    backend: LightSimBackend,
    base: StageSolve,
    spec: StudySpec,
    *,
    context: DispatchContext,
    settings: SolverSettings,
    contingency: ContingencyRun | None,
) -> N1Inputs:
    """The outages the N-1 hosting-capacity search uses: the contingency analysis's, or the default study area's."""
    options = spec.analyses.contingency or ContingencyOptions()
    if contingency is not None and 0 in contingency.tables:
        return N1Inputs(contingency.contingencies, contingency.tables[0], options)
    area = select_study_area(backend, base=base, context=context, options=options.study_area)
    contingencies = build_contingencies(backend.prepared, area, options)
    table = run_contingencies(
        backend, stage=base, contingencies=contingencies, eligible=context.eligible, options=options, settings=settings
    )
    return N1Inputs(contingencies, table, options)


def _hosting(
    backend: LightSimBackend,
    solves: list[StageSolve],
    spec: StudySpec,
    *,
    context: DispatchContext,
    settings: SolverSettings,
    contingency: ContingencyRun | None,
) -> HostingCapacityResult:
    options = spec.analyses.hosting_capacity
    assert options is not None
    n1 = _n1_inputs(backend, solves[0], spec, context=context, settings=settings, contingency=contingency) if options.n1 else None
    loads = [s.load.p_mw for s in solves[1:] if s.load is not None]
    return run_hosting_capacity(
        backend,
        base=solves[0],
        context=context,
        options=options,
        criteria=spec.criteria,
        params=spec.facility,
        settings=settings,
        largest_stage_mw=max(loads, default=0.0),
        n1=n1,
    )


def run_study(spec: StudySpec, net: Grid | pp.pandapowerNet, *, progress: ProgressCallback | None = None) -> StudyResult:
    """Run a study on a grid.

    Parameters:
        spec: the study request.
        net: a :class:`Grid` (catalog or upload) or a plain pandapower net (never modified).
        progress: ``progress(fraction, step)``, called between steps; may raise ``StudyCanceled``.

    Returns:
        The typed result; ``result.dataset`` holds the arrays (write it with ``result.write``).

    Raises:
        BusNotFoundError, StudySpecError: the site does not fit the grid.
        GridValidationError: the grid cannot be solved as given (e.g. no slack generator).
        StudyCanceled: raised by the progress callback.
    """
    report = progress or _no_progress
    started_at, clock = datetime.now(UTC), time.perf_counter()
    grid = net if isinstance(net, Grid) else Grid.from_net(net)
    report(0.0, "preparing the grid model")
    prepared = prepare_network(grid.net)
    poi, poi_info = _poi(grid, prepared, spec)
    loads = [stage_load(stage, spec.facility, index=i) for i, stage in enumerate(spec.stages, start=1)]
    settings = solver_settings(spec)
    backend = LightSimBackend(prepared, settings)
    solves = _solve_all(backend, spec, poi=poi, loads=loads, settings=settings, progress=report)
    results = [
        evaluate_stage(prepared, s, solves[0], criteria=spec.criteria, top_branches=spec.analyses.power_flow.top_branches)
        for s in solves
    ]
    stages: list[StageResult] = results[1:]
    findings = power_flow_findings(results[0], stages, poi=poi_info, criteria=spec.criteria)
    extra = _run_analyses(backend, solves, spec, settings=settings, progress=report)
    findings.extend(extra.findings)
    report(0.97, "writing the result")
    provenance = Provenance(
        input_hash=spec.input_hash(),
        grid_checksum=grid.checksum,
        gridimpact_version=gridimpact_version(),
        libraries=library_versions(),
        python=python_version(),
        platform=platform_name(),
        solver={"backend": backend.name, "algorithm": "Newton-Raphson (KLU)", **asdict(settings)},
        started_at=started_at.isoformat(),
        finished_at=datetime.now(UTC).isoformat(),
        duration_s=time.perf_counter() - clock,
    )
    result = StudyResult(
        study_name=spec.name or f"{grid.grid_id} at bus {poi_info.bus_id}",
        spec=spec,
        grid=_grid_info(grid, prepared),
        poi=poi_info,
        base_case=results[0],
        stages=stages,
        contingency=extra.contingency.result if extra.contingency else None,
        hosting_capacity=extra.hosting,
        load_loss=extra.load_loss,
        findings=findings,
        assumptions=_assumptions(spec, settings),
        provenance=provenance,
    )
    attrs = {
        "title": result.study_name,
        "grid_id": grid.grid_id,
        "grid_checksum": grid.checksum,
        "input_hash": provenance.input_hash,
    }
    result.attach_dataset(build_dataset(prepared, solves, attrs=attrs, contingency=extra.contingency))
    report(1.0, "done")
    return result
