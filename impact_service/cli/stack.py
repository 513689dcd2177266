"""Commands that run the service: ``db``, ``keys``, ``api``, ``worker``, ``beat``, ``up`` and
``demo``. Docker Compose and the integration tests run these same commands.

``worker`` and ``beat`` hand the process over to Celery's own command line
(``celery -A workers.celery_app ...``): the service package never imports the task code.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import sys
import tempfile
import time
from pathlib import Path
from types import FrameType
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from rich.table import Table

from impact_service.cli.console import Subcommands, console, errors
from impact_service.cli.remote import follow, print_final
from impact_service.client import ApiClient, ApiError
from impact_service.embedded import Stack, local_api_key
from impact_service.node import PARENT_PID_VARIABLE, die_with, node_name
from impact_service.redis_server import free_port
from impact_service.settings import KEY_CACHE_S, Settings, get_settings
from impact_service.supervisor import Supervisor

__all__ = ["add_stack_commands"]

_KEYS_HELP = (
    "Keys live in the stack's database: the one IMPACT_DATABASE_URL names, else IMPACT_DATA_DIR's SQLite file "
    "(default ~/.local/share/gridimpact). The command says which database it used."
)
CELERY_APP = "workers.celery_app"  # the worker fleet's Celery application, by module name


def _cmd_db(_args: argparse.Namespace) -> int:
    from impact_service.store.db import upgrade_schema

    upgrade_schema(get_settings().database())
    console.print("database at the latest schema")
    return 0


def _without_password(url: str) -> str:
    """A broker URL as it may be shown (the bundled Redis's password is in its data folder)."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.hostname or ""
    return urlunsplit(parts._replace(netloc=f"***@{host}{f':{parts.port}' if parts.port else ''}"))


def _database_text(url: str) -> str:
    """The database URL without its password, to say where a command wrote."""
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


def _keys_database(create: bool) -> str:
    """The database the key commands use; a missing SQLite file is refused unless ``create``: a key
    written to a database no stack uses is rejected by the stack the user meant."""
    from sqlalchemy.engine import make_url

    from impact_service.store.db import upgrade_schema

    settings = get_settings()
    url = settings.database()
    path = make_url(url).database
    if settings.database_url is None and path and not Path(path).exists() and not create:
        raise SystemExit(
            f"no database at {path} (IMPACT_DATA_DIR={settings.data_dir}): set IMPACT_DATA_DIR (or IMPACT_DATABASE_URL) to "
            "the one your stack uses, or pass --create-database to start a new one"
        )
    upgrade_schema(url)
    errors.print(f"database: {_database_text(url)}")
    return url


def _cmd_keys(args: argparse.Namespace) -> int:
    from impact_service.store import repository as repo
    from impact_service.store.db import session_scope

    url = _keys_database(args.create_database and args.action == "create")
    with session_scope(url) as session:
        if args.action == "list":
            return _list_keys(repo.list_api_keys(session, tenant_name=args.tenant))
        if args.action == "revoke":
            return _revoke_key(repo.revoke_api_key(session, key_id_or_prefix=args.key or ""))
        if not args.tenant:
            raise SystemExit("gridimpact keys create needs --tenant NAME")
        tenant = repo.ensure_tenant(session, name=args.tenant)
        _, key = repo.create_api_key(session, tenant_id=tenant.id, label=args.label)
    print(key)  # the only time the key is shown
    return 0


def _list_keys(rows: list[tuple[Any, str]]) -> int:
    table = Table("id", "prefix", "tenant", "label", "created (UTC)", "revoked (UTC)")
    for key, tenant in rows:
        revoked = key.revoked_at.strftime("%Y-%m-%d %H:%M") if key.revoked_at else ""
        table.add_row(key.id, key.prefix, tenant, key.label, key.created_at.strftime("%Y-%m-%d %H:%M"), revoked)
    console.print(table)
    return 0


def _revoke_key(matches: list[Any]) -> int:
    if not matches:
        raise SystemExit("no active key with that id or prefix (gridimpact keys list shows them)")
    if len(matches) > 1:
        raise SystemExit(f"{len(matches)} active keys share that prefix: give the key id (gridimpact keys list)")
    console.print(
        f"revoked {matches[0].id} ({matches[0].prefix}...); running API processes accept it for at most "
        f"{KEY_CACHE_S:.0f} s more (their key cache)"
    )
    return 0


def _bound_to_up() -> None:
    """A child of `gridimpact up` stops when `up` dies, even by SIGKILL (an orphaned worker kept
    taking studies from the stack's broker)."""
    parent = os.environ.get(PARENT_PID_VARIABLE, "")
    if parent.isdigit():
        die_with(int(parent))


def _cmd_api(args: argparse.Namespace) -> int:
    _bound_to_up()
    import uvicorn

    from impact_service.http_protocol import BoundedHeadProtocol

    uvicorn.run(
        "impact_service.main:app",
        factory=True,
        host=args.host,
        port=args.port,
        log_level="warning",
        access_log=False,
        http=BoundedHeadProtocol,
        server_header=False,
    )
    return 0


def _celery(argv: list[str]) -> int:
    """Replace this process with Celery's command line for the fleet's app (same pid: signals reach Celery)."""
    os.execv(sys.executable, [sys.executable, "-m", "celery", "-A", CELERY_APP, *argv])
    return 1  # pragma: no cover - execv does not return


def _cmd_worker(args: argparse.Namespace) -> int:
    _bound_to_up()
    nice = get_settings().worker_nice
    if nice:  # studies are batch work: the API's answers (status polling) come first on a shared machine
        os.nice(nice)
    argv = ["worker", "-Q", "studies,light", "-c", str(args.concurrency), "--pool", "prefork", "-n", f"{args.name}@{node_name()}"]
    argv += ["--loglevel", "INFO"]
    if args.beat:
        argv += ["-B", "-s", str(get_settings().data_dir / f"beat-schedule-{args.name}")]
    return _celery(argv)


def _cmd_beat(_args: argparse.Namespace) -> int:
    _bound_to_up()
    return _celery(["beat", "-s", str(get_settings().data_dir / "beat-schedule"), "--loglevel", "INFO"])


def _stack(settings: Settings, workers: int) -> Stack:
    return Stack(settings=settings, workers=workers, log_dir=settings.data_dir / "logs")


def _cmd_up(args: argparse.Namespace) -> int:
    settings = get_settings().model_copy(update={"port": args.port, "host": args.host})
    stack = _stack(settings, args.workers)
    stopping: list[int] = []

    def _stop(signum: int, _frame: FrameType | None) -> None:
        stopping.append(signum)

    signal.signal(signal.SIGTERM, _stop)
    try:
        stack.start()
        key = local_api_key(stack.settings)
        console.print(
            f"[green]gridimpact is up[/green]: API http://{settings.host}:{settings.port} (docs at /docs), "
            f"{args.workers} worker(s), broker {_without_password(stack.settings.broker())}, "
            f"database {_database_text(stack.settings.database())}"
        )
        console.print(
            f"local API key: {key}\n  export IMPACT_API_URL=http://{settings.host}:{settings.port} IMPACT_API_KEY={key}"
        )
        console.print(f"logs in {settings.data_dir / 'logs'}; Ctrl-C stops everything")
        supervisor = Supervisor(stack, say=lambda text: console.print(f"[yellow]{text}[/yellow]"))
        while not stopping:
            time.sleep(0.5)
            supervisor.tick()
    except KeyboardInterrupt:
        pass
    finally:
        stack.stop()
    return 0


def _cmd_demo(args: argparse.Namespace) -> int:
    """The service path end to end: embedded stack, submit over HTTP, follow, print, stop."""

    data_dir = Path(tempfile.mkdtemp(prefix="gridimpact-demo-"))  # a fresh database: the demo always computes
    settings = get_settings().model_copy(update={"port": free_port(), "data_dir": data_dir, "database_url": None})
    stack = _stack(settings, 2)  # two workers: a study large enough to fan out uses both
    try:
        anonymous = stack.start()
        anonymous.close()
        client = ApiClient(f"http://{settings.host}:{settings.port}", local_api_key(stack.settings))
        console.print(
            f"embedded stack up (API http://{settings.host}:{settings.port}, bundled Redis, SQLite); submitting {args.spec}"
        )
        study = client.submit(json.loads(args.spec.read_text()))
        return print_final(client, follow(client, study["id"]), args.out)
    except ApiError as exc:
        console.print(f"[red]{exc}[/red]")
        return 1
    finally:
        stack.stop()
        shutil.rmtree(data_dir, ignore_errors=True)


def add_stack_commands(sub: Subcommands) -> None:
    """Register the commands that run the service on the CLI's subparsers."""
    sub.add_parser("db", help="migrate the database to the latest schema").set_defaults(handler=_cmd_db)
    keys = sub.add_parser(
        "keys", help="API keys: create one for a tenant (printed once), list them, revoke one", description=_KEYS_HELP
    )
    keys.add_argument("action", nargs="?", choices=("create", "list", "revoke"), default="create")
    keys.add_argument("key", nargs="?", help="revoke: the key's id or prefix (from keys list)")
    keys.add_argument("--tenant", help="create: the tenant (created if new); list: only this tenant's keys")
    keys.add_argument("--label", default="")
    keys.add_argument("--create-database", action="store_true", help="create: start a new database if there is none")
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
