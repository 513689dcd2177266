"""Liveness, readiness and Prometheus metrics."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from typing import Any

from fastapi import APIRouter, FastAPI, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily, HistogramMetricFamily
from sqlalchemy import select, text
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from impact_service.errors import ServiceUnavailable
from impact_service.queue.client import queue_depth
from impact_service.settings import Settings
from impact_service.store.db import session_scope
from impact_service.store.models import Study, StudyStatus
from impact_service.store.repository import count_by_status

__all__ = ["install_metrics", "router"]

logger = logging.getLogger(__name__)
router = APIRouter(tags=["operations"])
_DURATION_BUCKETS = (1.0, 5.0, 15.0, 60.0, 300.0, 900.0, 3600.0)


@router.get("/healthz")
def healthz() -> dict[str, str]:
    """The process answers."""
    return {"status": "ok"}


@router.get("/readyz", responses={503: {"description": "database or broker unreachable"}})
def readyz(request: Request) -> dict[str, str]:
    """The database and the broker are reachable."""
    settings: Settings = request.app.state.settings
    try:
        with session_scope(settings.database()) as session:
            session.execute(text("SELECT 1"))
    except Exception as exc:  # noqa: BLE001 - any failure (each driver raises its own) means not ready
        raise ServiceUnavailable(f"database unreachable: {type(exc).__name__}", code="database_unavailable") from None
    try:
        queue_depth(settings.broker())
    except Exception as exc:  # noqa: BLE001 - any failure (each transport raises its own) means not ready
        raise ServiceUnavailable(f"broker unreachable: {type(exc).__name__}", code="broker_unavailable") from None
    return {"status": "ready"}


class _StoreCollector:
    """Studies by status, queue depth and study durations, read at scrape time."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    def collect(self) -> Iterator[Any]:
        by_status = GaugeMetricFamily("gridimpact_studies", "studies by status", labels=["status"])
        durations = HistogramMetricFamily("gridimpact_study_duration_seconds", "start to finish of finished studies")
        try:
            with session_scope(self.settings.database()) as session:
                counts = count_by_status(session)
                rows = session.execute(
                    select(Study.started_at, Study.finished_at)
                    .where(Study.status == StudyStatus.SUCCEEDED, Study.started_at.is_not(None))
                    .order_by(Study.finished_at.desc())
                    .limit(10_000)
                ).all()
        except Exception as exc:  # noqa: BLE001 - metrics must not fail because the database is down
            logger.warning("metrics_store_unavailable error=%s", exc)
            return
        for status in StudyStatus:
            by_status.add_metric([status.value], counts.get(status, 0))
        yield by_status
        seconds = [(finished - started).total_seconds() for started, finished in rows if finished and started]
        buckets = [(str(b), sum(1 for s in seconds if s <= b)) for b in _DURATION_BUCKETS] + [("+Inf", len(seconds))]
        durations.add_metric([], buckets, sum(seconds))
        yield durations
        try:
            yield GaugeMetricFamily(
                "gridimpact_queue_depth", "study messages waiting in the broker", value=queue_depth(self.settings.broker())
            )
        except Exception as exc:  # noqa: BLE001 - metrics must not fail because the broker is down
            logger.warning("metrics_broker_unavailable error=%s", exc)


class _MeasureRequests:
    """Pure ASGI middleware (cheaper than Starlette's BaseHTTPMiddleware on the polling hot path)."""

    def __init__(self, app: ASGIApp, *, requests: Counter, latency: Histogram) -> None:
        self.app, self.requests, self.latency = app, requests, latency

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start, status = time.perf_counter(), [500]

        async def send_and_record(message: Message) -> None:
            if message["type"] == "http.response.start":
                status[0] = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, send_and_record)
        finally:
            route = getattr(scope.get("route"), "path", "unmatched")
            self.requests.labels(scope["method"], route, str(status[0])).inc()
            self.latency.labels(scope["method"], route).observe(time.perf_counter() - start)


def install_metrics(app: FastAPI, settings: Settings) -> None:
    """Request counters and latencies, the store collector, and GET /metrics."""
    registry = CollectorRegistry()
    requests = Counter("gridimpact_http_requests", "HTTP requests", ["method", "route", "status"], registry=registry)
    latency = Histogram("gridimpact_http_request_seconds", "HTTP request latency", ["method", "route"], registry=registry)
    registry.register(_StoreCollector(settings))

    app.add_middleware(_MeasureRequests, requests=requests, latency=latency)

    @app.get("/metrics", tags=["operations"], include_in_schema=False)
    def metrics() -> Response:
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)
