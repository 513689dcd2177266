"""Terminal tables of the environmental results (grid supply, water, on-site screening)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.table import Table

from grid_models.results import stage_title

if TYPE_CHECKING:
    from grid_models.results import StudyResult

__all__ = ["environment_tables"]


def _grid_table(result: StudyResult) -> Table | None:
    env = result.environment
    grid = env.grid_supply if env else None
    if grid is None:
        return None
    table = Table(title=f"Grid-supply emissions and water (eGRID {grid.egrid_subregion}; findings quote {grid.main_method})")
    columns = (
        "stage",
        "method",
        "added mix (MW)",
        "CO2 short tons/yr",
        "CO2 metric t/yr",
        "NOx short tons/yr",
        "SO2 short tons/yr",
        "CO2 lb/MWh",
        "water gal/day",
    )
    for column in columns:
        table.add_column(column, justify="left" if column in ("stage", "method", "added mix (MW)") else "right")
    for stage in grid.stages:
        for number, method in enumerate(stage.methods):
            mix = method.mix_text(unit="", nothing="")
            tons = {p.value: v for p, v in method.added_tpy.items()}
            marginal = {p.value: v for p, v in method.marginal_lb_per_mwh.items()}
            water = (
                f"{stage.water.onsite_gal_per_day + stage.water.upstream_gal_per_day:,.0f}"
                if method.method == grid.main_method
                else ""
            )
            table.add_row(
                stage_title(stage.stage, stage.facility_p_mw) if number == 0 else "",
                method.method,
                mix,
                f"{tons['co2']:,.0f}",
                f"{method.added_co2_metric_t_per_year:,.0f}",
                f"{tons['nox']:,.0f}",
                f"{tons['so2']:,.0f}",
                f"{marginal['co2']:,.0f}",
                water,
            )
        table.add_row("", "eGRID non-baseload / average", "", f"{stage.egrid_nonbaseload_co2_tpy:,.0f} / "
                      f"{stage.egrid_average_co2e_tpy:,.0f}", "", "", "", "", "")  # fmt: skip
    return table


def _onsite_table(result: StudyResult) -> Table | None:
    env = result.environment
    onsite = env.onsite if env else None
    if onsite is None:
        return None
    table = Table(
        title=f"On-site turbines: potential to emit in short tons/yr (2,000 lb) vs Clean Air Act thresholds ({onsite.disclaimer})"
    )
    columns = ("stage", "units", "MW", "NOx", "CO", "HCHO", "CO2", "CO2 metric t/yr", "thresholds crossed")
    for column in columns:
        table.add_column(column, justify="left" if column in ("stage", "thresholds crossed") else "right")
    for stage in onsite.stages:
        crossed = stage.crossed()
        pte = {p.value: v for p, v in stage.pte_tpy.items()}
        table.add_row(
            stage.stage,
            str(stage.units),
            f"{stage.total_mw:,.0f}",
            f"{pte['nox']:,.0f}",
            f"{pte['co']:,.0f}",
            f"{pte['formaldehyde']:,.1f}",
            f"{pte['co2']:,.0f}",
            f"{stage.co2_metric_t_per_year:,.0f}",
            "; ".join(crossed) or "none",
        )
    return table


def environment_tables(result: StudyResult) -> list[Table]:
    """The tables that apply to this result."""
    return [t for t in (_grid_table(result), _onsite_table(result)) if t is not None]
