"""Engine commands, run in this process: ``run``, ``grids``, ``grid``, ``buses``, ``validate``,
``schema``. The engine is imported inside each command so that ``--help`` stays fast."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from pydantic import ValidationError
from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from impact_service.cli.console import EXIT_USAGE, Subcommands, console, errors
from impact_service.cli.interrupt import InterruptGuard
from impact_service.cli.tables import print_result
from impact_service.settings import get_settings

if TYPE_CHECKING:
    from grid_models.catalog.profiles import LoadProfile
    from grid_models.grid import Grid
    from grid_models.spec import StudySpec

__all__ = ["add_engine_commands"]


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


def _load_profile(spec: StudySpec, path: Path | None) -> LoadProfile | None:
    annual = spec.analyses.annual
    if annual is None or annual.profile.upload_id is None:
        return None
    from grid_models.catalog.profiles import parse_profile_csv

    if path is None:
        raise SystemExit("this spec names an uploaded hourly profile: pass the CSV with --profile-file")
    try:
        content = path.read_bytes()
    except OSError as exc:
        raise SystemExit(f"cannot read the profile {path}: {exc.strerror or exc}") from None
    return parse_profile_csv(content, name=path.name)


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


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text} is not a positive number of processes")
    return value


def _cmd_run(args: argparse.Namespace) -> int:
    from grid_models.pipeline import available_processes, run_study

    spec = _read_spec(args.spec)
    with InterruptGuard() as guard, _progress() as report:
        report(0.0, "loading the grid")
        grid = _load_grid(spec, args.grid_file)

        def progress(fraction: float, step: str) -> None:
            guard.check()
            report(fraction, step)

        profile = _load_profile(spec, args.profile_file)
        result = run_study(spec, grid, progress=progress, processes=args.processes or available_processes(), profile=profile)
    print_result(result)
    if args.out:
        from grid_models.report import render_report

        paths = result.write(args.out)
        paths["report"] = args.out / "report.html"
        paths["report"].write_text(render_report(result), encoding="utf-8")
        console.print("wrote " + ", ".join(str(p) for p in paths.values()))
    return 0


@contextmanager
def _progress() -> Iterator[Callable[[float, str], None]]:
    """A progress bar in a terminal; elsewhere (a log, a pipe) one line on stderr per step."""
    if console.is_terminal:
        columns = (TextColumn("{task.description}"), BarColumn(), TaskProgressColumn(), TimeElapsedColumn())
        with Progress(*columns, console=console, transient=True) as bar:
            task = bar.add_task("starting", total=1.0)
            yield lambda fraction, step: bar.update(task, completed=fraction, description=step)
        return
    last = [""]

    def line(fraction: float, step: str) -> None:
        if step != last[0]:
            last[0] = step
            print(f"[{fraction:4.0%}] {step}", file=sys.stderr, flush=True)

    yield line


def _cmd_grids(_args: argparse.Namespace) -> int:
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


def _cmd_schema(_args: argparse.Namespace) -> int:
    from grid_models.spec import StudySpec

    print(json.dumps(StudySpec.model_json_schema(), indent=2))
    return 0


def add_engine_commands(sub: Subcommands) -> None:
    """Register the engine subcommands on the CLI's subparsers."""
    run = sub.add_parser("run", help="run a study spec in-process")
    run.add_argument("spec", type=Path, help="study spec JSON (see examples/)")
    run.add_argument("--out", type=Path, help="write result.json, result.nc and report.html into this folder")
    run.add_argument("--grid-file", type=Path, help="grid file for specs that name an upload_id")
    run.add_argument("--profile-file", type=Path, help="hourly profile CSV for an annual study that names a profile upload_id")
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
