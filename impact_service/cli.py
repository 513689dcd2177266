"""The ``gridimpact`` command line.

Engine commands run in-process (``run``, ``grids``, ``grid``, ``buses``, ``validate``, ``schema``).
The engine is imported inside each command so that ``--help`` stays fast.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from pydantic import ValidationError
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from impact_service.cli_environment import environment_tables
from impact_service.cli_service import add_service_commands
from impact_service.settings import get_settings

if TYPE_CHECKING:
    from grid_models.grid import Grid
    from grid_models.results import StageResult, StudyResult
    from grid_models.spec import StudySpec

__all__ = ["main"]

console = Console(width=None if sys.stdout.isatty() else 160)
errors = Console(stderr=True, width=None if sys.stderr.isatty() else 160)

EXIT_USAGE = 2


def _load_grid(spec: StudySpec, grid_file: Path | None) -> Grid:
    from grid_models.catalog.registry import load_catalog_grid
    from grid_models.catalog.uploads import load_upload

    if spec.grid.catalog:
        return load_catalog_grid(spec.grid.catalog, cache_dir=get_settings().cache_dir)
    if grid_file is None:
        raise SystemExit("this spec names an uploaded grid: pass the grid file with --grid-file")
    try:
        content = grid_file.read_bytes()
    except OSError as exc:
        raise SystemExit(f"cannot read the grid file {grid_file}: {exc.strerror or exc}") from None
    return load_upload(content, grid_id=spec.grid.upload_id or "upload", filename=grid_file.name)


def _read_spec(path: Path) -> StudySpec:
    from grid_models.spec import StudySpec

    try:
        return StudySpec.model_validate_json(path.read_text(encoding="utf-8"))
    except OSError as exc:  # missing, a directory, unreadable
        errors.print(f"[red]cannot read the study spec {path}: {exc.strerror or exc}[/red]")
        raise SystemExit(EXIT_USAGE) from None
    except ValidationError as exc:
        errors.print(f"[red]{path} is not a valid study spec:[/red]")
        for error in exc.errors():
            location = ".".join(str(part) for part in error["loc"]) or "(top level)"
            errors.print(f"  {location}: {error['msg']}")
        raise SystemExit(EXIT_USAGE) from None


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
    for table in (_contingency_table(result), _hosting_table(result), _load_loss_table(result), *environment_tables(result)):
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


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text} is not a positive number of processes")
    return value


def _cmd_run(args: argparse.Namespace) -> int:
    from grid_models.pipeline import available_processes, run_study

    spec = _read_spec(args.spec)
    with Progress(
        TextColumn("{task.description}"), BarColumn(), TaskProgressColumn(), TimeElapsedColumn(), console=console, transient=True
    ) as bar:
        task = bar.add_task("loading grid", total=1.0)
        grid = _load_grid(spec, args.grid_file)
        result = run_study(
            spec,
            grid,
            progress=lambda fraction, step: bar.update(task, completed=fraction, description=step),
            processes=args.processes or available_processes(),
        )
    print_result(result)
    if args.out:
        from grid_models.report import render_report

        paths = result.write(args.out)
        paths["report"] = args.out / "report.html"
        paths["report"].write_text(render_report(result), encoding="utf-8")
        console.print("wrote " + ", ".join(str(p) for p in paths.values()))
    return 0


def _cmd_grids(args: argparse.Namespace) -> int:
    from grid_models.catalog.registry import CITATION, list_catalog

    table = Table(title="Reference grids (ACTIVSg synthetic US grids)")
    for column in ("id", "buses", "region", "file"):
        table.add_column(column)
    for entry in list_catalog():
        table.add_row(entry.grid_id, f"{entry.buses:,}", entry.region, entry.file_name)
    console.print(table)
    console.print(f"[dim]{CITATION}[/dim]")
    return 0


def _cmd_grid(args: argparse.Namespace) -> int:
    from grid_models.catalog.registry import load_catalog_grid
    from grid_models.catalog.summary import summarize_grid

    summary = summarize_grid(load_catalog_grid(args.grid_id, cache_dir=get_settings().cache_dir))
    console.print_json(summary.model_dump_json())
    return 0


def _cmd_buses(args: argparse.Namespace) -> int:
    from grid_models.catalog.registry import load_catalog_grid
    from grid_models.catalog.summary import find_buses

    grid = load_catalog_grid(args.grid_id, cache_dir=get_settings().cache_dir)
    buses = find_buses(grid, name=args.name, min_kv=args.min_kv, max_kv=args.max_kv, area=args.area, limit=args.limit)
    table = Table(title=f"{len(buses)} buses of {grid.grid_id}" + (f" matching '{args.name}'" if args.name else ""))
    for column in ("bus", "name", "kV", "area", "load MW", "gen MW", "branches"):
        table.add_column(column, justify="right" if column not in ("name",) else "left")
    for bus in buses:
        table.add_row(
            str(bus.bus_id),
            bus.name,
            f"{bus.vn_kv:g}",
            str(bus.area),
            f"{bus.load_mw:.1f}",
            f"{bus.generation_mw:.1f}",
            str(bus.branches),
        )
    console.print(table)
    return 0


def _cmd_validate(args: argparse.Namespace) -> int:
    from grid_models.catalog.uploads import load_upload
    from grid_models.errors import GridValidationError

    try:
        grid = load_upload(args.file.read_bytes(), grid_id=args.file.stem, filename=args.file.name)
    except GridValidationError as exc:
        console.print_json(json.dumps(exc.to_dict()))
        return 1
    console.print(
        f"[green]valid[/green]: {len(grid.net.bus)} buses, {len(grid.net.line)} lines, {len(grid.net.trafo)} transformers"
    )
    return 0


def _cmd_schema(args: argparse.Namespace) -> int:
    from grid_models.spec import StudySpec

    print(json.dumps(StudySpec.model_json_schema(), indent=2))
    return 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="gridimpact", description="Grid and environmental impact studies of large AI computing loads."
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug messages")
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="run a study spec in-process")
    run.add_argument("spec", type=Path, help="study spec JSON (see examples/)")
    run.add_argument("--out", type=Path, help="write result.json and result.nc into this folder")
    run.add_argument("--grid-file", type=Path, help="grid file for specs that name an upload_id")
    run.add_argument(
        "--processes", type=_positive_int, default=None, help="local processes for the N-1 outages (default: one per CPU core)"
    )
    run.set_defaults(handler=_cmd_run)
    sub.add_parser("grids", help="list the reference grids").set_defaults(handler=_cmd_grids)
    grid = sub.add_parser("grid", help="summary of a reference grid")
    grid.add_argument("grid_id")
    grid.set_defaults(handler=_cmd_grid)
    buses = sub.add_parser("buses", help="find buses (points of interconnection) by name and voltage")
    buses.add_argument("grid_id")
    buses.add_argument("--name", help="name prefix or pattern, e.g. ABILENE or '*MEMPHIS*'")
    buses.add_argument("--min-kv", type=float)
    buses.add_argument("--max-kv", type=float)
    buses.add_argument("--area", type=int)
    buses.add_argument("--limit", type=int, default=50)
    buses.set_defaults(handler=_cmd_buses)
    validate = sub.add_parser("validate", help="validate a grid file (pandapower JSON or MATPOWER .m)")
    validate.add_argument("file", type=Path)
    validate.set_defaults(handler=_cmd_validate)
    sub.add_parser("schema", help="print the study spec's JSON schema").set_defaults(handler=_cmd_schema)
    add_service_commands(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``gridimpact`` command."""
    args = _parser().parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.WARNING, format="%(levelname)s %(name)s %(message)s")
    from grid_models.errors import GridModelError
    from impact_service.client import ApiError

    try:
        code: int = args.handler(args)
    except GridModelError as exc:
        errors.print(f"[red]error ({exc.code}):[/red] {exc.message}")
        return 1
    except ApiError as exc:
        errors.print(f"[red]error {exc.status} ({exc.code}):[/red] {exc.message}")
        return 1
    except KeyboardInterrupt:
        errors.print("[yellow]interrupted[/yellow]")
        return 130
    return code


if __name__ == "__main__":
    sys.exit(main())
