"""A study result in the terminal: the stage table, the analyses' tables and the findings."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.markup import escape
from rich.table import Table

from impact_service.cli.annual import annual_tables
from impact_service.cli.console import console
from impact_service.cli.environment import environment_tables

if TYPE_CHECKING:
    from grid_models.results import StageResult, StudyResult

__all__ = ["print_result"]


def _largest_increase(stage: StageResult) -> str:
    """The branch the facility loads up most: on a large grid the worst loading is often far away."""
    if not stage.index or not stage.largest_loading_increases:
        return "-"
    up = stage.largest_loading_increases[0]
    return f"{up.delta_loading_percent:+.1f} pt -> {up.loading_percent:.1f} % {up.branch}"


def _stage_table(result: StudyResult) -> Table:
    from grid_models.results import poi_text

    table = Table(title=f"{result.study_name} — POI {poi_text(result.poi)}")
    columns = (
        "stage",
        "MW",
        "solved",
        "POI pu",
        "min pu",
        "max loading",
        "largest increase",
        "new viol.",
        "Δ losses MW",
        "picked up by",
    )
    for column in columns:
        table.add_column(
            column, justify="left" if column in ("stage", "picked up by", "max loading", "largest increase") else "right"
        )
    for stage in [result.base_case, *result.stages]:
        fuels = ", ".join(f"{f.fuel} {f.delta_p_mw:+.0f}" for f in stage.dispatch_by_fuel[:3])
        loading = (
            f"{stage.max_loading_percent:.1f} % {stage.max_loading_branch}" if stage.max_loading_percent is not None else "-"
        )
        table.add_row(
            stage.label,
            f"{stage.facility_p_mw:,.0f}",
            "yes" if stage.converged else "[red]NO[/red]",
            f"{stage.poi_vm_pu:.3f}" if stage.poi_vm_pu is not None else "-",
            f"{stage.min_vm_pu:.3f}" if stage.min_vm_pu is not None else "-",
            loading,
            _largest_increase(stage),
            str(stage.new_violations) if stage.index else "-",
            f"{stage.delta_losses_mw:+.1f}" if stage.delta_losses_mw is not None else "-",
            fuels,
        )
    return table


_STYLE = {"critical": "bold red", "violation": "red", "warning": "yellow", "info": "cyan"}


def _contingency_table(result: StudyResult) -> Table | None:
    n1 = result.contingency
    if n1 is None:
        return None
    area = n1.study_area
    scope = f"study area {area.mode} ({area.branches} branches, {area.generators} units)"
    table = Table(title=f"N-1 (TPL-001 P1): {n1.contingencies} outages, {scope}")
    for column in ("stage", "MW", "secure", "violations", "pre-existing", "islanding", "no solution", "exact solves", "s"):
        table.add_column(column, justify="left" if column == "stage" else "right")
    for stage in n1.stages:
        table.add_row(
            stage.label,
            f"{stage.facility_p_mw:,.0f}",
            str(stage.secure),
            str(stage.with_violations),
            str(stage.pre_existing_only),
            str(stage.islanding),
            f"{stage.no_solution} (+{stage.no_solution_pre_existing} pre-existing)"
            if stage.no_solution_pre_existing
            else str(stage.no_solution),
            str(stage.exact_solves),
            f"{stage.duration_s:.1f}",
        )
    return table


def _hosting_table(result: StudyResult) -> Table | None:
    hosting = result.hosting_capacity
    if hosting is None:
        return None
    table = Table(title=f"Hosting capacity at bus {hosting.poi_bus} (to {hosting.resolution_mw:g} MW)")
    for column in ("criterion", "MW", "binding element", "kind", "outage", "margin MW"):
        table.add_column(column, justify="right" if column in ("MW", "margin MW") else "left")
    for limit in hosting.limits:
        mw = "-" if limit.max_mw is None else (f"{limit.max_mw:,.0f}" if limit.found_limit else f">= {limit.max_mw:,.0f}")
        element = f"{limit.binding_element} {limit.binding_element_name or ''}".strip() if limit.binding_element else "-"
        margin = f"{limit.margin_mw:+,.0f}" if limit.margin_mw is not None else "-"
        table.add_row(limit.criterion.value, mw, element, limit.binding_kind or "-", limit.binding_outage or "-", margin)
    return table


def _load_loss_table(result: StudyResult) -> Table | None:
    loss = result.load_loss
    if loss is None:
        return None
    table = Table(title="Load-loss event: the whole facility trips")
    for column in ("stage", "lost MW", "solved", "max pu", "POI pu before -> after", "new overvoltages", "new overloads"):
        table.add_column(column, justify="left" if column == "stage" else "right")
    for stage in loss.stages:
        poi = f"{stage.poi_vm_before_pu:.3f} -> {stage.poi_vm_after_pu:.3f}" if stage.poi_vm_after_pu is not None else "-"
        table.add_row(
            stage.label,
            f"{stage.lost_mw:,.0f}",
            "yes" if stage.converged else "[red]NO[/red]",
            f"{stage.max_vm_pu:.3f}" if stage.max_vm_pu is not None else "-",
            poi,
            str(stage.overvoltages),
            str(stage.overloads),
        )
    return table


def print_result(result: StudyResult, *, max_findings: int = 25) -> None:
    """Print the stage table, the analyses' tables and the most severe findings."""
    console.print(_stage_table(result))
    for table in (
        _contingency_table(result),
        _hosting_table(result),
        _load_loss_table(result),
        *environment_tables(result),
        *annual_tables(result),
    ):
        if table is not None:
            console.print(table)
    order = {"critical": 0, "violation": 1, "warning": 2, "info": 3}
    findings = sorted(result.findings, key=lambda f: order[f.severity.value])
    console.print(f"[bold]Findings[/bold] ({len(findings)}):")
    for finding in findings[:max_findings]:
        console.print(f"  [{_STYLE[finding.severity.value]}]{finding.severity.value:9}[/] {escape(finding.what)}")
    if len(findings) > max_findings:
        console.print(f"  ... {len(findings) - max_findings} more in the result JSON")
    console.print(
        f"[dim]input hash {result.provenance.input_hash[:16]}, grid {result.provenance.grid_checksum[:16]}, "
        f"{result.provenance.duration_s:.2f} s ({result.provenance.execution.summary()})[/dim]"
    )
