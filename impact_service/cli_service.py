"""``gridimpact`` service commands: the stack (up, demo, api, worker, beat, db, keys) and the HTTP
client (submit, status, wait, result, cancel). Docker Compose and the integration tests run these
same commands."""

from __future__ import annotations

import argparse
import json
import shutil
import signal
import tempfile
import time
from pathlib import Path
from types import FrameType
from typing import Any

from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeElapsedColumn

from impact_service.client import ApiClient, ApiError
from impact_service.settings import Settings, get_settings

__all__ = ["add_service_commands"]


def _console() -> Any:
    from impact_service.cli import console

    return console


def _cmd_db(args: argparse.Namespace) -> int:
    from impact_service.store.db import upgrade_schema

    upgrade_schema(get_settings().database())
    _console().print("database at the latest schema")
    return 0


def _cmd_keys(args: argparse.Namespace) -> int:
    from impact_service.store import repository as repo
    from impact_service.store.db import session_scope, upgrade_schema

    settings = get_settings()
    upgrade_schema(settings.database())
    with session_scope(settings.database()) as session:
        tenant = repo.ensure_tenant(session, name=args.tenant)
        _, key = repo.create_api_key(session, tenant_id=tenant.id, label=args.label)
    print(key)  # the only time the key is shown
    return 0


def _cmd_api(args: argparse.Namespace) -> int:
    import uvicorn

    uvicorn.run("impact_service.main:app", factory=True, host=args.host, port=args.port, log_level="warning", access_log=False)
    return 0


def _cmd_worker(args: argparse.Namespace) -> int:
    from workers.celery_app import app

    argv = [
        "worker",
        "-Q",
        "studies,light",
        "-c",
        str(args.concurrency),
        "--pool",
        "prefork",
        "-n",
        f"{args.name}@%h",
        "--loglevel",
        "INFO",
    ]
    if args.beat:
        argv += ["-B", "-s", str(get_settings().data_dir / f"beat-schedule-{args.name}")]
    app.worker_main(argv=argv)
    return 0


def _cmd_beat(args: argparse.Namespace) -> int:
    from workers.celery_app import app

    app.start(argv=["beat", "-s", str(get_settings().data_dir / "beat-schedule"), "--loglevel", "INFO"])
    return 0


def _stack(settings: Settings, workers: int) -> Any:
    from impact_service.embedded import Stack

    return Stack(settings=settings, workers=workers, log_dir=settings.data_dir / "logs")


def _cmd_up(args: argparse.Namespace) -> int:
    from impact_service.embedded import local_api_key

    settings = get_settings().model_copy(update={"port": args.port, "host": args.host})
    stack = _stack(settings, args.workers)
    stopping: list[int] = []

    def _stop(signum: int, _frame: FrameType | None) -> None:
        stopping.append(signum)

    signal.signal(signal.SIGTERM, _stop)
    try:
        stack.start()
        key = local_api_key(stack.settings)
        console = _console()
        console.print(
            f"[green]gridimpact is up[/green]: API http://{settings.host}:{settings.port} (docs at /docs), "
            f"{args.workers} worker(s), broker {stack.settings.broker()}, database {stack.settings.database()}"
        )
        console.print(
            f"local API key: {key}\n  export IMPACT_API_URL=http://{settings.host}:{settings.port} IMPACT_API_KEY={key}"
        )
        console.print(f"logs in {settings.data_dir / 'logs'}; Ctrl-C stops everything")
        while not stopping:
            time.sleep(0.5)
            stack._check_alive()
    except KeyboardInterrupt:
        pass
    finally:
        stack.stop()
    return 0


def _client(args: argparse.Namespace) -> ApiClient:
    settings = get_settings()
    return ApiClient(args.api_url or settings.api_url, args.api_key or settings.api_key)


def _follow(client: ApiClient, study_id: str) -> dict[str, Any]:
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TaskProgressColumn(),
        TimeElapsedColumn(),
        console=_console(),
        transient=True,
    ) as bar:
        task = bar.add_task("queued", total=1.0)
        return client.wait(
            study_id, on_progress=lambda s: bar.update(task, completed=s["progress"], description=f"{s['status']}: {s['step']}")
        )


def _print_final(client: ApiClient, study: dict[str, Any], out: Path | None) -> int:
    console = _console()
    if study["status"] not in ("succeeded", "partially_succeeded"):
        error = study.get("error") or {}
        console.print(f"[red]study {study['id']} {study['status']}[/red]: {error.get('code')}: {error.get('message')}")
        return 1
    from grid_models.results import StudyResult
    from impact_service.cli import print_result

    payload = client.result(study["id"])
    print_result(StudyResult.model_validate(payload))
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
        (out / "result.json").write_text(json.dumps(payload, indent=2))
        (out / "result.nc").write_bytes(client.result_netcdf(study["id"]))
        (out / "report.html").write_text(client.report(study["id"]), encoding="utf-8")
        console.print(f"wrote {out / 'result.json'}, {out / 'result.nc'}, {out / 'report.html'}")
    return 0


def _cmd_submit(args: argparse.Namespace) -> int:
    client = _client(args)
    study = client.submit(json.loads(args.spec.read_text()), idempotency_key=args.idempotency_key)
    _console().print_json(json.dumps(study))
    if args.wait:
        return _print_final(client, _follow(client, study["id"]), args.out)
    return 0


def _cmd_status(args: argparse.Namespace) -> int:
    _console().print_json(json.dumps(_client(args).study(args.study_id)))
    return 0


def _cmd_wait(args: argparse.Namespace) -> int:
    client = _client(args)
    return _print_final(client, _follow(client, args.study_id), args.out)


def _cmd_result(args: argparse.Namespace) -> int:
    client = _client(args)
    return _print_final(client, client.study(args.study_id), args.out)


def _cmd_report(args: argparse.Namespace) -> int:
    html = _client(args).report(args.study_id)
    out = args.out or Path(f"{args.study_id}.html")
    out.write_text(html, encoding="utf-8")
    _console().print(f"wrote {out} ({len(html) / 1e6:.1f} MB, self-contained: open it in any browser)")
    return 0


def _cmd_cancel(args: argparse.Namespace) -> int:
    _console().print_json(json.dumps(_client(args).cancel(args.study_id)))
    return 0


def _cmd_demo(args: argparse.Namespace) -> int:
    """The service path end to end: embedded stack, submit over HTTP, follow, print, stop."""
    from impact_service.embedded import local_api_key
    from impact_service.redis_server import free_port

    data_dir = Path(tempfile.mkdtemp(prefix="gridimpact-demo-"))  # a fresh database: the demo always computes
    settings = get_settings().model_copy(update={"port": free_port(), "data_dir": data_dir, "database_url": None})
    stack = _stack(settings, 2)  # two workers: a study large enough to fan out uses both
    try:
        anonymous = stack.start()
        anonymous.close()
        client = ApiClient(f"http://{settings.host}:{settings.port}", local_api_key(stack.settings))
        _console().print(
            f"embedded stack up (API http://{settings.host}:{settings.port}, bundled Redis, SQLite); submitting {args.spec}"
        )
        study = client.submit(json.loads(args.spec.read_text()))
        return _print_final(client, _follow(client, study["id"]), args.out)
    except ApiError as exc:
        _console().print(f"[red]{exc}[/red]")
        return 1
    finally:
        stack.stop()
        shutil.rmtree(data_dir, ignore_errors=True)


def _client_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--api-url", help="default: IMPACT_API_URL or http://127.0.0.1:8000")
    parser.add_argument("--api-key", help="default: IMPACT_API_KEY")


def add_service_commands(sub: Any) -> None:
    """Register the service subcommands on the CLI's subparsers."""
    sub.add_parser("db", help="migrate the database to the latest schema").set_defaults(handler=_cmd_db)
    keys = sub.add_parser("keys", help="create an API key for a tenant (printed once)")
    keys.add_argument("--tenant", required=True)
    keys.add_argument("--label", default="")
    keys.set_defaults(handler=_cmd_keys)
    api = sub.add_parser("api", help="serve the HTTP API (uvicorn)")
    api.add_argument("--host", default="127.0.0.1")
    api.add_argument("--port", type=int, default=8000)
    api.set_defaults(handler=_cmd_api)
    worker = sub.add_parser("worker", help="run a Celery worker of the fleet")
    worker.add_argument("--concurrency", type=int, default=1)
    worker.add_argument("--name", default="worker")
    worker.add_argument("--beat", action="store_true", help="also schedule the sweeper (one per fleet)")
    worker.set_defaults(handler=_cmd_worker)
    sub.add_parser("beat", help="schedule the sweeper (one per fleet)").set_defaults(handler=_cmd_beat)
    up = sub.add_parser("up", help="start the embedded stack: bundled Redis, SQLite, API and workers")
    up.add_argument("--workers", type=int, default=1)
    up.add_argument("--host", default="127.0.0.1")
    up.add_argument("--port", type=int, default=8000)
    up.set_defaults(handler=_cmd_up)
    demo = sub.add_parser("demo", help="start the embedded stack, run a study through the API, stop")
    demo.add_argument("spec", type=Path)
    demo.add_argument("--out", type=Path)
    demo.set_defaults(handler=_cmd_demo)
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
            command.add_argument("--out", type=Path, help="write result.json, result.nc and report.html here")
        if name == "report":
            command.add_argument("--out", type=Path, help="the HTML file to write (default: <study id>.html)")
        _client_args(command)
        command.set_defaults(handler=handler)
    submit = sub.add_parser("submit", help="submit a study spec to the API")
    submit.add_argument("spec", type=Path)
    submit.add_argument("--idempotency-key")
    submit.add_argument("--wait", action="store_true", help="follow it to the end and print the result")
    submit.add_argument("--out", type=Path)
    _client_args(submit)
    submit.set_defaults(handler=_cmd_submit)
