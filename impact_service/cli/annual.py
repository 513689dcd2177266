"""The annual study in the terminal: one row per stage, then the firm size and the
curtailment-enabled headroom."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.table import Table

if TYPE_CHECKING:
    from grid_models.results import StudyResult

__all__ = ["annual_tables"]


def annual_tables(result: StudyResult) -> list[Table]:
    """The annual tables of a result (none without an annual analysis)."""
    annual = result.annual
    if annual is None:
        return []
    profile = annual.profile
    title = (
        f"The year hour by hour: {profile.hours:,} hours from {profile.first_hour} ({profile.name}"
        + (", a PROXY shape" if profile.proxy else "")
        + f"; load {profile.min_load_mw:,.0f}-{profile.peak_load_mw:,.0f} MW)"
    )
    table = Table(title=title)
    columns = ("stage", "MW", "N-0 viol. h", "N-1 viol. h", "curtailed h", "MWh", "share %", "events", "longest h", "CO2 short t")
    for column in columns:
        table.add_column(column, justify="left" if column == "stage" else "right")
    for stage in annual.stages:
        cut = stage.curtailment
        table.add_row(
            stage.label,
            f"{stage.size_mw:,.0f}",
            str(stage.n0_violation_hours),
            str(stage.n1_violation_hours),
            f"{cut.hours:,}",
            f"{cut.energy_mwh:,.0f}",
            f"{cut.share_percent:.2f}",
            str(cut.events),
            str(cut.longest_event_h),
            f"{stage.emissions_flexible.co2_short_tons:,.0f}",
        )
    headroom = Table(title=f"POI headroom over the year (N-0 and N-1 secure; {annual.screening.exact_hours:,} hours exact)")
    for column in ("measure", "MW", "binding"):
        headroom.add_column(column, justify="right" if column == "MW" else "left")
    firm = annual.firm
    headroom.add_row(
        "firm (never curtailed)", f"{firm.size_mw:,.0f}", f"{firm.hour}: {firm.binding_kind or '-'} {firm.binding_element or ''}"
    )
    for enabled in annual.enabled:
        size = f"{enabled.size_mw:,.0f}" if enabled.bounded else f">= {enabled.size_mw:,.0f}"
        headroom.add_row(
            f"curtailed <= {enabled.limit_percent:g} %", size, f"{enabled.binding_kind or '-'} {enabled.binding_element or ''}"
        )
    return [table, headroom]
