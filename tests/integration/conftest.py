"""Integration fixtures: a real stack (bundled redis-server, SQLite, `gridimpact api`, two
`gridimpact worker` processes with the sweeper) started once per session, and two tenants."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from impact_service.client import ApiClient
from impact_service.embedded import Stack
from impact_service.redis_server import free_port
from impact_service.settings import Settings
from impact_service.store import repository as repo
from impact_service.store.db import session_scope, sqlite_url, upgrade_schema

from .postgres import PostgresServer, postgres_available

EXAMPLES = Path(__file__).parents[2] / "examples"


def fast_settings(data: Path, *, fanout_part_bus_outages: int = 0) -> Settings:
    """Short heartbeats and sweeps so that fault tests finish in seconds; fan-out off unless asked
    (test_fanout covers it with parts sized for the test grids)."""
    return Settings(
        data_dir=data,
        cache_dir=data / "cache",
        database_url=None,
        redis_url=None,
        port=free_port(),
        heartbeat_s=0.5,
        stale_after_s=4.0,
        requeue_after_s=6.0,
        sweep_every_s=1.0,
        max_attempts=3,
        fanout_part_bus_outages=fanout_part_bus_outages,
    )


@pytest.fixture(scope="session", params=["sqlite", "postgresql"])
def database(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A migrated database: SQLite, then a real PostgreSQL server (skipped with the reason when absent)."""
    if request.param == "sqlite":
        url = sqlite_url(tmp_path_factory.mktemp("sqlite") / "store.db")
        upgrade_schema(url)
        yield url
        return
    reason = postgres_available()
    if reason:
        pytest.skip(reason)
    server = PostgresServer().start()
    upgrade_schema(server.url)
    yield server.url
    server.stop()


def new_study(url: str, tenant: str, **overrides: object) -> str:
    """A queued study row of ``tenant`` (fields overridable)."""
    with session_scope(url) as session:
        row = repo.ensure_tenant(session, name=tenant)
        values = {
            "spec": {"grid": {"catalog": "activsg200"}},
            "input_hash": "h" * 64,
            "grid_key": "catalog:activsg200",
            "name": "t",
            "idempotency_key": None,
        }
        values.update(overrides)
        study = repo.create_study(session, tenant_id=row.id, **values)  # type: ignore[arg-type]
        return study.id


@dataclass
class Tenants:
    a: ApiClient
    b: ApiClient
    anonymous: ApiClient
    base_url: str


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    data = tmp_path_factory.mktemp("stack")
    running = Stack(settings=fast_settings(data), workers=2, beat=True, log_dir=data / "logs")
    running.start()
    yield running
    running.stop()


def make_key(settings: Settings, tenant: str) -> str:
    with session_scope(settings.database()) as session:
        row = repo.ensure_tenant(session, name=tenant)
        _, key = repo.create_api_key(session, tenant_id=row.id, label="test")
    return key


@pytest.fixture(scope="session")
def tenants(stack: Stack) -> Iterator[Tenants]:
    base = f"http://{stack.settings.host}:{stack.settings.port}"
    clients = Tenants(
        a=ApiClient(base, make_key(stack.settings, "tenant-a")),
        b=ApiClient(base, make_key(stack.settings, "tenant-b")),
        anonymous=ApiClient(base, None),
        base_url=base,
    )
    yield clients
    for client in (clients.a, clients.b, clients.anonymous):
        client.close()


def small_spec(**overrides: Any) -> dict[str, Any]:
    """A quick study on activsg200."""
    spec: dict[str, Any] = {
        "grid": {"catalog": "activsg200"},
        "site": {"bus_name": "CLINTON 1 0"},
        "stages": [{"mw": 50}, {"mw": 120}],
    }
    spec.update(overrides)
    return spec


def example(name: str) -> dict[str, Any]:
    return dict(json.loads((EXAMPLES / f"{name}.json").read_text()))


def busy_spec(number: int) -> dict[str, Any]:
    """A long study (the Abilene example, ~20 s); each number gives a different spec, so that
    identical-resubmission deduplication does not fold them into one study."""
    spec = example("abilene_stargate")
    spec["stages"] = [{"mw": 200.0 + number}, {"mw": 600.0}, {"mw": 1200.0}]
    return spec


def wait_for(predicate: Any, *, timeout_s: float = 60.0, every_s: float = 0.2) -> Any:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(every_s)
    raise AssertionError("condition not met in time")
