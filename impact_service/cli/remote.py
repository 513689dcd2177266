"""Client commands against a running service: ``submit``, ``status``, ``wait``, ``result``,
``report``, ``cancel``, ``upload-grid``, ``upload-profile`` (``IMPACT_API_URL`` and
``IMPACT_API_KEY``, or ``--api-url``/``--api-key``)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeElapsedColumn

from impact_service.cli.console import Subcommands, console
from impact_service.cli.tables import print_result
from impact_service.client import ApiClient
from impact_service.settings import get_settings

__all__ = ["add_client_commands", "follow", "print_final"]


def _client(args: argparse.Namespace) -> ApiClient:
    settings = get_settings()
    return ApiClient(args.api_url or settings.api_url, args.api_key or settings.api_key)


def follow(client: ApiClient, study_id: str) -> dict[str, Any]:
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TaskProgressColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=True,
    ) as bar:
        task = bar.add_task("queued", total=1.0)
        return client.wait(
            study_id, on_progress=lambda s: bar.update(task, completed=s["progress"], description=f"{s['status']}: {s['step']}")
        )


def print_final(client: ApiClient, study: dict[str, Any], out: Path | None) -> int:
    if study["status"] not in ("succeeded", "partially_succeeded"):
        error = study.get("error") or {}
        console.print(f"[red]study {study['id']} {study['status']}[/red]: {error.get('code')}: {error.get('message')}")
        return 1
    from grid_models.results import StudyResult

    payload = client.result(study["id"])
    print_result(StudyResult.model_validate(payload))
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
        (out / "result.json").write_text(json.dumps(payload, indent=2))
        (out / "result.nc").write_bytes(client.result_netcdf(study["id"]))
        (out / "report.html").write_text(client.report(study["id"]), encoding="utf-8")
        (out / "result.xlsx").write_bytes(client.result_tables(study["id"], "xlsx"))
        (out / "result.csv.zip").write_bytes(client.result_tables(study["id"], "csv"))
        console.print(f"wrote result.json, result.nc, report.html, result.xlsx and result.csv.zip in {out}")
    return 0


def _cmd_submit(args: argparse.Namespace) -> int:
    client = _client(args)
    study = client.submit(json.loads(args.spec.read_text()), idempotency_key=args.idempotency_key)
    console.print_json(json.dumps(study))
    if args.wait:
        return print_final(client, follow(client, study["id"]), args.out)
    return 0


def _cmd_status(args: argparse.Namespace) -> int:
    console.print_json(json.dumps(_client(args).study(args.study_id)))
    return 0


def _cmd_wait(args: argparse.Namespace) -> int:
    client = _client(args)
    return print_final(client, follow(client, args.study_id), args.out)


def _cmd_result(args: argparse.Namespace) -> int:
    client = _client(args)
    if args.format == "table":
        return print_final(client, client.study(args.study_id), args.out)
    content = client.result_tables(args.study_id, args.format)
    target = (args.out or Path()) / f"{args.study_id}.{'xlsx' if args.format == 'xlsx' else 'csv.zip'}"
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(content)
    console.print(
        f"wrote {target} ({len(content) / 1e3:,.0f} kB: a {'sheet' if args.format == 'xlsx' else 'CSV file'} per table)"
    )
    return 0


def _cmd_report(args: argparse.Namespace) -> int:
    html = _client(args).report(args.study_id)
    out = args.out or Path(f"{args.study_id}.html")
    out.write_text(html, encoding="utf-8")
    console.print(f"wrote {out} ({len(html) / 1e6:.1f} MB, self-contained: open it in any browser)")
    return 0


def _cmd_cancel(args: argparse.Namespace) -> int:
    console.print_json(json.dumps(_client(args).cancel(args.study_id)))
    return 0


def _cmd_upload(args: argparse.Namespace) -> int:
    try:
        resource = _client(args).upload(args.kind, args.file)
    except OSError as exc:
        raise SystemExit(f"cannot read {args.file}: {exc.strerror or exc}") from None
    console.print_json(json.dumps(resource))
    return 0


def _client_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--api-url", help="default: IMPACT_API_URL or http://127.0.0.1:8000")
    parser.add_argument("--api-key", help="default: IMPACT_API_KEY")


def add_client_commands(sub: Subcommands) -> None:
    """Register the client subcommands on the CLI's subparsers."""
    for name, handler, helptext in (
        ("status", _cmd_status, "a study's status"),
        ("wait", _cmd_wait, "follow a study to its end"),
        ("result", _cmd_result, "print a finished study's result"),
        ("report", _cmd_report, "save a finished study's HTML report"),
        ("cancel", _cmd_cancel, "cancel a study"),
    ):
        command = sub.add_parser(name, help=helptext)
        command.add_argument("study_id")
        if name in ("wait", "result"):
            command.add_argument(
                "--out", type=Path, help="write result.json, result.nc, report.html, result.xlsx and result.csv.zip here"
            )
        if name == "result":
            command.add_argument(
                "--format", choices=("table", "xlsx", "csv"), default="table",
                help="table: print it (default); xlsx: one Excel workbook; csv: CSV files in a zip (into --out or here)",
            )  # fmt: skip
        if name == "report":
            command.add_argument("--out", type=Path, help="the HTML file to write (default: <study id>.html)")
        _client_args(command)
        command.set_defaults(handler=handler)
    for name, kind, helptext in (
        ("upload-grid", "grids", "upload a grid (pandapower JSON or MATPOWER .m); prints its upload_id"),
        ("upload-profile", "profiles", "upload an hourly load profile (CSV); prints its upload_id"),
    ):
        upload = sub.add_parser(name, help=helptext)
        upload.add_argument("file", type=Path)
        _client_args(upload)
        upload.set_defaults(handler=_cmd_upload, kind=kind)
    submit = sub.add_parser("submit", help="submit a study spec to the API")
    submit.add_argument("spec", type=Path)
    submit.add_argument("--idempotency-key")
    submit.add_argument("--wait", action="store_true", help="follow it to the end and print the result")
    submit.add_argument("--out", type=Path)
    _client_args(submit)
    submit.set_defaults(handler=_cmd_submit)
