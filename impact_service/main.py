"""``create_app``: the FastAPI application (routers, error handlers, metrics)."""

from __future__ import annotations

import gc
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from importlib.metadata import version as package_version

from anyio import to_thread
from fastapi import FastAPI
from fastapi_offline import FastAPIOffline

from impact_service import parsing
from impact_service.body_limit import BodyLimit
from impact_service.errors import JsonServerErrors, install_error_handlers
from impact_service.factors.router import router as factors_router
from impact_service.grids.router import router as grids_router
from impact_service.headers import SecurityHeaders
from impact_service.ops import install_metrics
from impact_service.ops import router as ops_router
from impact_service.profiles.router import router as profiles_router
from impact_service.settings import Settings, get_settings
from impact_service.studies.router import router as studies_router

__all__ = ["app", "create_app"]

DESCRIPTION = """
Grid and environmental impact studies of large AI computing loads.

Submit a study (grid, point of interconnection, growth stages, analyses) with `POST /v1/studies`,
poll `GET /v1/studies/{id}` for status and progress, and fetch `GET /v1/studies/{id}/result`
(JSON) and `/result.nc` (NetCDF). Authenticate with `X-API-Key`. Every expected error is a 4xx
with `{"error": {"code", "message", "details"}}`.
"""


def _lifespan(threads: int) -> Callable[[FastAPI], AbstractAsyncContextManager[None]]:
    """Fewer threads for the synchronous endpoints than anyio's default 40: with 16 clients
    polling, 16 threads convoy on the interpreter lock and the slowest answers wait for all of
    them; a few threads and a queue in the event loop answer in turn (the README's performance
    table has the measured polling latencies)."""

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        to_thread.current_default_thread_limiter().total_tokens = threads
        # the engine's imports (pandas, pandapower, scipy) leave many objects that every full
        # garbage collection walked again, and requests allocate enough to trigger one often,
        # which set the tail latency of status polling. Frozen startup objects and rarer
        # collections (what requests allocate is still collected) remove those pauses
        # (benchmarks/bench_service.py measures them).
        gc.collect()
        gc.freeze()
        gc.set_threshold(20_000, 50, 1000)
        try:
            yield
        finally:
            parsing.shutdown()  # no upload-checking process outlives the API

    return lifespan


def create_app(settings: Settings | None = None) -> FastAPI:
    """The API; ``settings`` default to the process settings (``IMPACT_*`` variables)."""
    settings = settings or get_settings()
    application = FastAPIOffline(
        title="gridimpact",
        version=package_version("gridimpact"),
        description=DESCRIPTION,
        static_url="/docs-assets",
        lifespan=_lifespan(settings.api_threads),
    )
    application.router.redirect_slashes = False  # a redirect would echo the request's Host header into Location
    application.state.settings = settings
    install_error_handlers(application)
    install_metrics(application, settings)
    application.add_middleware(BodyLimit, request_bytes=settings.max_request_bytes, upload_bytes=settings.max_upload_bytes)
    application.add_middleware(SecurityHeaders)
    application.add_middleware(JsonServerErrors)  # added last: the outermost
    application.include_router(ops_router)
    application.include_router(studies_router)
    application.include_router(grids_router)
    application.include_router(profiles_router)
    application.include_router(factors_router)
    logging.getLogger(__name__).info("api_created database=%s", settings.database().split("@")[-1])
    return application


def app() -> FastAPI:
    """Factory for ``uvicorn --factory impact_service.main:app``."""
    return create_app()
