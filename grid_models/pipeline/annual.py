"""Phase 3 for an annual study: its blocks of hours joined into the year's result, findings and
hourly dataset variables."""

from __future__ import annotations

from typing import Any

import numpy as np
import xarray as xr

from grid_models.emissions.annual import annual_emissions
from grid_models.errors import InternalError
from grid_models.pipeline.plan import StudyPlan
from grid_models.results.annual import AnnualResult, AnnualStageResult
from grid_models.results.environment import EnvironmentalResult, Pollutant
from grid_models.results.study import Finding
from grid_models.studies.annual.analysis import (
    Year,
    annual_findings,
    curtailment_result,
    enabled_results,
    firm_result,
    join_blocks,
    profile_info,
    screening_info,
    sweep,
)
from grid_models.studies.annual.block import HourBlock

__all__ = ["annual_dataset", "annual_result"]

_ASSUMPTIONS = (
    "loads follow the hourly profile as MATPOWER's apply_changes does (each area's loads scaled to the area's total)",
    "units not dispatchable (nuclear, hydro, wind, solar by default) run at their case output every hour, capped at "
    "Pmax: the cases carry no wind or solar profiles",
    "each area's dispatchable units are committed in merit order on the case's gencost for the area's load plus its case "
    "net export scaled with the system load; the campus is served system-wide in marginal-cost order",
    "units the merit order leaves off stay connected at 0 MW as synchronous condensers (the cases model no switched "
    "shunts or SVCs)",
    "the AC slack is shared by the committed units in proportion to their room; hourly loads enter the solver at float32 "
    "precision",
    "a curtailed hour's emissions are its full-size increment scaled by the share served",
)


def _snapshot(environment: EnvironmentalResult | None, stage_index: int) -> tuple[float | None, float | None, float | None]:
    """The peak snapshot method's CO2 and the eGRID rates' for a stage (None without emissions)."""
    grid = environment.grid_supply if environment else None
    match = next((s for s in grid.stages if s.stage_index == stage_index), None) if grid else None
    if grid is None or match is None:
        return None, None, None
    main = next((m for m in match.methods if m.method == grid.main_method), None)
    co2 = main.added_tpy.get(Pollutant.CO2) if main else None
    return co2, match.egrid_nonbaseload_co2_tpy, match.egrid_average_co2e_tpy


def annual_result(
    plan: StudyPlan, blocks: list[HourBlock], *, environment: EnvironmentalResult | None, duration_s: float
) -> tuple[AnnualResult, list[Finding], Year]:
    """The year's result and findings from its solved blocks."""
    ctx, profile, spec = plan.annual, plan.profile, plan.spec
    if ctx is None or profile is None:
        raise InternalError("the annual result of a study without an annual plan")
    year = join_blocks(blocks, profile)
    hours = year.hours
    onsite = environment.onsite if environment else None
    emissions = annual_emissions(
        year,
        plan.prepared.gen_fuel,
        options=spec.analyses.emissions,
        onsite=onsite,
        backup=ctx.options.onsite_backup,
    )
    curtailed = [curtailment_result(year, hours.facility_mw[s], stage.p_mw) for s, stage in enumerate(ctx.stages)]
    stages = []
    for s, stage in enumerate(ctx.stages):
        snapshot, nonbaseload, average = _snapshot(environment, s + 1)
        stages.append(
            AnnualStageResult(
                stage_index=s + 1,
                label=stage.label,
                size_mw=stage.p_mw,
                energy_mwh=float(hours.facility_mw[s].sum()),
                hours_without_solution=int((hours.base_converged & ~hours.stage_converged[s]).sum()),
                unsettled_hours=int(hours.stage_unsettled[s].sum()),
                n0_violation_hours=int((hours.n0_violations[s] > 0).sum()),
                n1_violation_hours=int((hours.n1_violations[s] > 0).sum()),
                curtailment=curtailed[s],
                emissions_firm=emissions[s].firm,
                emissions_flexible=emissions[s].flexible,
                snapshot_co2_short_tons=snapshot,
                egrid_nonbaseload_co2_short_tons=nonbaseload,
                egrid_average_co2e_short_tons=average,
                monthly_co2_short_tons=emissions[s].monthly_co2_short_tons,
            )
        )
    firm, enabled = firm_result(year, ctx), enabled_results(year, ctx)
    result = AnnualResult(
        profile=profile_info(year, profile, ctx, proxy=plan.profile_is_proxy),
        hours_without_solution=int((~hours.base_converged).sum()),
        unsettled_hours=int(hours.base_unsettled.sum()),
        unserved_hours=int((hours.unserved_mw > 0.5).sum()),
        energy_balance_max_mw=float(np.nanmax(np.abs(hours.balance_mw))) if np.isfinite(hours.balance_mw).any() else 0.0,
        stages=stages,
        sweep=sweep(year, ctx),
        firm=firm,
        enabled=enabled,
        screening=screening_info(year, ctx),
        assumptions=[*_ASSUMPTIONS, f"reactive load: {ctx.options.reactive_load.value}"],
        hourly_headroom_mw=[None if not np.isfinite(v) else round(float(v), 1) for v in hours.headroom_mw],
        duration_s=duration_s,
    )
    findings = annual_findings(year, ctx, stages=curtailed, firm=firm, enabled=enabled, proxy=plan.profile_is_proxy)
    return result, findings, year


def annual_dataset(year: Year, labels: list[str]) -> xr.Dataset:
    """The hourly arrays: an ``hour`` coordinate of the profile's timestamps (as given)."""
    hours = year.hours
    stamps = np.array(year.timestamps, dtype="datetime64[s]")
    data: dict[str, Any] = {
        "hour_load_mw": (("hour",), hours.load_mw, {"long_name": "system load", "units": "MW"}),
        "hour_headroom_mw": (("hour",), hours.headroom_mw, {"long_name": "POI headroom, N-0 and N-1 secure", "units": "MW"}),
        "hour_headroom_n0_mw": (("hour",), hours.headroom_n0_mw, {"long_name": "POI headroom, N-0 (estimate)", "units": "MW"}),
        "hour_headroom_exact": (("hour",), hours.headroom_exact.astype(np.int8), {"long_name": "1 if searched in AC"}),
        "hour_solved": (("hour",), hours.base_converged.astype(np.int8), {"long_name": "1 if the hour has an AC solution"}),
        "hour_q_unsettled": (
            ("hour",),
            hours.base_unsettled.astype(np.int8),
            {"long_name": "1 if the hour's solution without the campus stands on a reactive-limit state that did not settle"},
        ),
        "hour_stage_q_unsettled": (
            ("annual_stage", "hour"),
            hours.stage_unsettled.astype(np.int8),
            {"long_name": "1 if the hour's solution at the stage's size stands on a reactive-limit state that did not settle"},
        ),
        "hour_facility_mw": (
            ("annual_stage", "hour"),
            hours.facility_mw,
            {"long_name": "campus demand asked for", "units": "MW"},
        ),
        "hour_n0_violations": (("annual_stage", "hour"), hours.n0_violations, {"long_name": "attributable N-0 violations"}),
        "hour_n1_violations": (("annual_stage", "hour"), hours.n1_violations, {"long_name": "attributable N-1 violations"}),
    }
    cut = np.maximum(hours.facility_mw - np.maximum(np.nan_to_num(hours.headroom_mw, nan=0.0), 0.0)[None, :], 0.0)
    data["hour_curtailed_mw"] = (("annual_stage", "hour"), cut, {"long_name": "curtailment to stay secure", "units": "MW"})
    return xr.Dataset(data, coords={"hour": stamps, "annual_stage": labels})
