"""The environmental analyses of a solved study: grid-supply emissions and water (when
``analyses.emissions`` is set) and on-site generation screening (when ``onsite_generation`` is)."""

from __future__ import annotations

from grid_models.emissions.findings import comparison_findings, grid_supply_findings
from grid_models.emissions.grid_supply import SupplyInputs, run_grid_supply
from grid_models.emissions.permits import onsite_findings, screen_onsite
from grid_models.factors import TABLES_VERSION, table_digests
from grid_models.results.environment import EnvironmentalResult
from grid_models.results.study import Finding
from grid_models.solver.network import PreparedNetwork
from grid_models.spec.study import StudySpec
from grid_models.studies.power_flow import DispatchContext, StageSolve

__all__ = ["run_environment"]


def run_environment(
    spec: StudySpec, *, prepared: PreparedNetwork, context: DispatchContext | None, solves: list[StageSolve], grid_id: str
) -> tuple[EnvironmentalResult | None, list[Finding]]:
    """The environmental result and its findings (None when the study asked for neither part)."""
    options, onsite_spec = spec.analyses.emissions, spec.onsite_generation
    if options is None and onsite_spec is None:
        return None, []
    grid = None
    if options is not None and context is not None:
        inputs = SupplyInputs(
            prepared=prepared, context=context, solves=solves, options=options, facility=spec.facility, grid_id=grid_id
        )
        grid = run_grid_supply(inputs)
    labels = [s.load.label for s in solves[1:] if s.load is not None]
    onsite = screen_onsite(onsite_spec, stages=labels) if onsite_spec is not None else None
    findings = (grid_supply_findings(grid) if grid else []) + (onsite_findings(onsite) if onsite else [])
    findings += comparison_findings(grid, onsite)
    result = EnvironmentalResult(grid_supply=grid, onsite=onsite, tables_version=TABLES_VERSION, table_digests=table_digests())
    return result, findings
