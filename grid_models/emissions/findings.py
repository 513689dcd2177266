"""Plain-language findings of the environmental analyses, each tied to its stage."""

from __future__ import annotations

from grid_models.results.environment import GridSupplyResult, GridSupplyStage, MethodEmissions, OnsiteResult, Pollutant
from grid_models.results.kinds import FindingCategory, Severity
from grid_models.results.study import Finding
from grid_models.results.text import co2_text, mw_text, short_tons_text

__all__ = ["comparison_findings", "grid_supply_findings"]


def _main(stage_methods: list[MethodEmissions], name: str) -> MethodEmissions:
    return next(m for m in stage_methods if m.method == name)


def _emission_finding(result: GridSupplyResult, stage: GridSupplyStage) -> Finding:
    main = _main(stage.methods, result.main_method)
    tons = main.added_tpy
    low, high = stage.gas_range_nox_tpy
    marginal = main.marginal_lb_per_mwh[Pollutant.CO2]
    return Finding(
        severity=Severity.INFO,
        category=FindingCategory.EMISSIONS,
        stage_index=stage.stage_index,
        stage=stage.stage,
        what=f"{stage.stage}, {mw_text(stage.facility_p_mw)}: grid supply adds CO2 {co2_text(tons[Pollutant.CO2])}, "
        f"NOx {short_tons_text(tons[Pollutant.NOX])} (gas as CC..CT: {low:,.0f}..{high:,.0f}), "
        f"SO2 {short_tons_text(tons[Pollutant.SO2])} "
        f"({result.main_method.replace('_', ' ')}: {main.mix_text()}); marginal CO2 {marginal:,.0f} "
        f"lb/MWh vs eGRID {result.egrid_subregion} non-baseload {result.egrid_nonbaseload_lb_per_mwh:,.1f} and average "
        f"{result.egrid_average_lb_per_mwh:,.1f} lb/MWh{_not_counted(main)}",
        where="grid supply",
        value=tons[Pollutant.CO2],
        unit="short ton CO2/yr",
    )


def _not_counted(main: MethodEmissions) -> str:
    """What the totals and the marginal rate (per MWh of the whole facility) leave out."""
    notes = []
    uncovered = main.uncovered_mw.get(Pollutant.CO2, 0.0)
    if uncovered >= 0.5:
        notes.append(f"{uncovered:,.0f} MW of the added supply come from units without a CO2 factor and count as zero")
    if main.unserved_mw >= 0.5:
        notes.append(f"{main.unserved_mw:,.0f} MW are beyond the dispatchable units' room (unserved demand)")
    return "; not counted: " + " and ".join(notes) if notes else ""


def _water_finding(stage: GridSupplyStage) -> Finding:
    water = stage.water
    low, high = water.onsite_range_gal_per_day
    return Finding(
        severity=Severity.INFO,
        category=FindingCategory.WATER,
        stage_index=stage.stage_index,
        stage=stage.stage,
        what=f"{stage.stage}, {mw_text(stage.facility_p_mw)}: on-site water about {water.onsite_gal_per_day:,.0f} gal/day "
        f"({water.onsite_million_gal_per_year:,.0f} million gal/yr at WUE {water.wue_l_per_kwh:g} L/kWh; {low:,.0f} to "
        f"{high:,.0f} gal/day across reported WUE); upstream at the power plants {water.upstream_gal_per_day:,.0f} gal/day",
        where="water",
        value=water.onsite_gal_per_day,
        unit="gal/day",
    )


def grid_supply_findings(result: GridSupplyResult) -> list[Finding]:
    """Per stage: what the generation serving it adds (main method), against the eGRID rates, and its water."""
    return [f for stage in result.stages for f in (_emission_finding(result, stage), _water_finding(stage))]


def comparison_findings(grid: GridSupplyResult | None, onsite: OnsiteResult | None) -> list[Finding]:
    """The on-site turbines' NOx and CO2 per MWh beside the grid's marginal rates."""
    if grid is None or onsite is None or not grid.stages:
        return []
    findings = []
    main = _main(grid.stages[-1].methods, grid.main_method)
    for group in onsite.groups:
        nox, co2 = group.lb_per_mwh[Pollutant.NOX], group.lb_per_mwh[Pollutant.CO2]
        findings.append(
            Finding(
                severity=Severity.INFO,
                category=FindingCategory.EMISSIONS,
                stage_index=group.from_stage,
                what=f"{group.label}: {nox:.2f} lb NOx and {co2:,.0f} lb CO2 per MWh, against the grid's marginal "
                f"{main.marginal_lb_per_mwh[Pollutant.NOX]:.2f} lb NOx and {main.marginal_lb_per_mwh[Pollutant.CO2]:,.0f} lb CO2 "
                f"per MWh ({grid.main_method.replace('_', ' ')}, {grid.stages[-1].stage})",
                where="on-site generation",
                value=nox,
                unit="lb NOx/MWh",
            )
        )
    return findings
