"""Phase 3 of a study: attribute the outages, search the hosting capacity, trip the facility,
write the findings and assemble the result."""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime

from grid_models.emissions.analysis import run_environment
from grid_models.facility import facility_defaults
from grid_models.pipeline import progress as budget
from grid_models.pipeline.annual import annual_dataset, annual_result
from grid_models.pipeline.dataset import build_dataset
from grid_models.pipeline.parts import Outages
from grid_models.pipeline.plan import StudyPlan, contingency_options, hosting_plan
from grid_models.pipeline.progress import ProgressCallback
from grid_models.provenance import gridimpact_version, library_versions, platform_name, python_version
from grid_models.results.analyses import HostingCapacityResult, LoadLossResult
from grid_models.results.environment import EnvironmentalResult
from grid_models.results.study import ExecutionRecord, Finding, GridInfo, Monitoring, Provenance, StageResult, StudyResult
from grid_models.solver.types import SolverSettings
from grid_models.spec.study import StudySpec
from grid_models.studies.evaluation import evaluate_stage, monitored_buses
from grid_models.studies.hosting.n1 import hosting_result
from grid_models.studies.hosting.search import hosting_findings
from grid_models.studies.load_loss import load_loss_findings, run_load_loss
from grid_models.studies.n1.analysis import ContingencyRun, contingency_findings, evaluate_contingency_tables
from grid_models.studies.power_flow_findings import power_flow_findings

__all__ = ["complete_study"]


def _grid_info(plan: StudyPlan) -> GridInfo:
    grid, net = plan.grid, plan.grid.net
    return GridInfo(
        grid_id=grid.grid_id,
        title=grid.title,
        source=grid.source,
        checksum=grid.checksum,
        buses=len(net.bus),
        lines=len(net.line),
        transformers=len(net.trafo),
        generators=len(plan.prepared.gen_ids),
        total_load_mw=float(net.load.p_mw[net.load.in_service.astype(bool)].sum()),
        notes=list(grid.notes),
    )


def _monitoring(plan: StudyPlan) -> Monitoring:
    prepared, criteria = plan.prepared, plan.spec.criteria
    in_service = prepared.net.bus.in_service.to_numpy(dtype=bool)
    high_enough = in_service & (prepared.bus_vn_kv >= criteria.monitored_min_kv)
    terminals = high_enough & prepared.generator_terminal
    return Monitoring(
        min_kv=criteria.monitored_min_kv,
        generator_terminals=criteria.monitor_generator_terminals,
        buses_monitored=int(monitored_buses(prepared, criteria).sum()),
        buses_in_service=int(in_service.sum()),
        below_min_kv=int((in_service & ~high_enough).sum()),
        generator_terminals_excluded=0 if criteria.monitor_generator_terminals else int(terminals.sum()),
    )


def _assumptions(spec: StudySpec, settings: SolverSettings, monitoring: Monitoring) -> list[str]:
    defaults = facility_defaults()
    facility = spec.facility
    lines = [
        f"facility power factor {facility.power_factor:g} (default source: {defaults['power_factor'].source})",
        f"PUE {facility.pue:g}, network and storage {facility.network_storage_share:.0%} of IT power, "
        f"utilization {facility.utilization:.0%}",
        f"generators pick up the demand by '{spec.dispatch.rule.value}' among fuels {', '.join(spec.dispatch.dispatchable_fuels)}"
        + (" in the POI's area" if spec.dispatch.same_area_only else " system-wide"),
        "branch loading = apparent power at the more loaded end / MVA rating (MATPOWER RATE_A normal, RATE_B/C emergency)",
        monitoring.text() + " (NERC TPL-001 applies to the Bulk Electric System, 100 kV and above)",
        "limits apply as stated: a voltage or loading past its limit by any amount is a violation; a bus a generator holds "
        "at a set-point on a limit is one only when past it by more than 1e-6 pu",
    ]
    if settings.enforce_q_limits:
        lines.append("generator reactive limits enforced (PV/PQ switching in both directions until settled)")
    else:
        lines.append("generator reactive limits NOT enforced (solver.enforce_q_limits = false)")
    return lines


@dataclass
class _Extra:
    contingency: ContingencyRun | None = None
    hosting: HostingCapacityResult | None = None
    load_loss: LoadLossResult | None = None
    environment: EnvironmentalResult | None = None
    findings: list[Finding] = field(default_factory=list)


def _analyses(plan: StudyPlan, outages: Outages, progress: ProgressCallback) -> _Extra:
    extra, spec = _Extra(), plan.spec
    if plan.context is None:
        return extra
    options = contingency_options(spec)
    if spec.analyses.contingency is not None and plan.area is not None and options is not None:
        extra.contingency = evaluate_contingency_tables(
            plan.prepared,
            area=plan.area,
            contingencies=plan.contingencies,
            tables=outages.tables,
            solves=plan.solves,
            options=options,
            criteria=spec.criteria,
        )
        extra.findings.extend(contingency_findings(extra.contingency.result))
    hosting = hosting_plan(plan, progress=lambda _fraction, step: progress(budget.COMPLETION, step))
    if hosting is not None:
        progress(budget.HOSTING, "hosting capacity")
        extra.hosting = hosting_result(hosting, outages.n1_parts if plan.hosting_n1 else None)
        largest = max(((s.load.p_mw, s.load.label) for s in plan.solves[1:] if s.load is not None), default=(0.0, ""))
        if largest[0] > 0:
            extra.findings.extend(hosting_findings(extra.hosting, largest_stage_mw=largest[0], largest_label=largest[1]))
    if spec.analyses.load_loss is not None:
        progress(budget.LOAD_LOSS, "load-loss event")
        extra.load_loss = run_load_loss(
            plan.backend, plan.solves, context=plan.context, criteria=spec.criteria, settings=plan.settings
        )
        extra.findings.extend(load_loss_findings(extra.load_loss))
    return extra


def complete_study(
    plan: StudyPlan, outages: Outages, *, execution: ExecutionRecord, started_at: datetime, progress: ProgressCallback
) -> StudyResult:
    """Phase 3: everything after the parts.

    Parameters:
        plan: the study's plan (phase 1).
        outages: the merged parts (phase 2, :func:`~grid_models.pipeline.parts.merge_parts`).
        execution: how phases 1 and 2 ran (recorded in ``provenance.execution`` with this phase's time).
        started_at: when the study started (the result's duration runs from here).
        progress: ``progress(fraction, step)``; may raise ``StudyCanceled``.
    """
    clock = time.perf_counter()
    spec = plan.spec
    monitoring = _monitoring(plan)
    top = spec.analyses.power_flow.top_branches
    results = [evaluate_stage(plan.prepared, s, plan.solves[0], criteria=spec.criteria, top_branches=top) for s in plan.solves]
    stages: list[StageResult] = results[1:]
    findings = power_flow_findings(results[0], stages, poi=plan.poi_info, criteria=spec.criteria)
    extra = _analyses(plan, outages, progress)
    progress(budget.ENVIRONMENT, "emissions, permits and water")
    extra.environment, environmental = run_environment(
        spec, prepared=plan.prepared, context=plan.context, solves=plan.solves, grid_id=plan.grid.grid_id
    )
    extra.findings.extend(environmental)
    annual, year = None, None
    if plan.annual is not None and outages.hours:
        progress(budget.ANNUAL, "the year: curtailment, headroom, hourly emissions")
        annual, annual_findings, year = annual_result(
            plan, outages.hours, environment=extra.environment, duration_s=sum(b.duration_s for b in outages.hours)
        )
        extra.findings.extend(annual_findings)
    findings.extend(extra.findings)
    progress(budget.WRITING, "writing the result")
    finished_at = datetime.now(UTC)
    provenance = Provenance(
        input_hash=spec.input_hash(),
        grid_checksum=plan.grid.checksum,
        gridimpact_version=gridimpact_version(),
        libraries=library_versions(),
        python=python_version(),
        platform=platform_name(),
        solver={"backend": plan.backend.name, "algorithm": "Newton-Raphson (KLU)", **asdict(plan.settings)},
        started_at=started_at.isoformat(),
        finished_at=finished_at.isoformat(),
        duration_s=(finished_at - started_at).total_seconds(),
        execution=execution.model_copy(update={"completion_s": time.perf_counter() - clock}),
    )
    result = StudyResult(
        study_name=spec.name or f"{plan.grid.grid_id} at bus {plan.poi_info.bus_id}",
        spec=spec,
        grid=_grid_info(plan),
        poi=plan.poi_info,
        monitoring=monitoring,
        base_case=results[0],
        stages=stages,
        contingency=extra.contingency.result if extra.contingency else None,
        hosting_capacity=extra.hosting,
        load_loss=extra.load_loss,
        environment=extra.environment,
        annual=annual,
        findings=findings,
        assumptions=_assumptions(spec, plan.settings, monitoring),
        provenance=provenance,
    )
    attrs = {
        "title": result.study_name,
        "grid_id": plan.grid.grid_id,
        "grid_checksum": plan.grid.checksum,
        "input_hash": provenance.input_hash,
    }
    monitored = monitored_buses(plan.prepared, spec.criteria)
    dataset = build_dataset(plan.prepared, plan.solves, attrs=attrs, contingency=extra.contingency, monitored=monitored)
    if year is not None and plan.annual is not None:
        dataset = dataset.merge(annual_dataset(year, [stage.label for stage in plan.annual.stages]))
    result.attach_dataset(dataset)
    progress(1.0, "done")
    return result
