"""Request dependencies: settings, a database session per request, the caller's tenant."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Header, Request
from sqlalchemy.orm import Session

from impact_service.errors import Unauthorized
from impact_service.settings import KEY_CACHE_S, Settings
from impact_service.store.db import session_factory
from impact_service.store.models import Tenant
from impact_service.store.repository import tenant_for_key

__all__ = [
    "ApiKeyHeader",
    "BearerHeader",
    "SessionDep",
    "SettingsDep",
    "TenantDep",
    "get_app_settings",
    "get_session",
    "get_tenant",
    "open_session",
    "tenant_of",
]


async def get_app_settings(request: Request) -> Settings:
    """The settings the app was created with (async: no trip to the thread pool for a lookup)."""
    settings: Settings = request.app.state.settings
    return settings


SettingsDep = Annotated[Settings, Depends(get_app_settings)]


def open_session(settings: Settings) -> contextlib.closing[Session]:
    """A session of the settings' database for one request, closed (never committed) at the end
    of the ``with`` block: the service functions that write commit themselves."""
    return contextlib.closing(session_factory(settings.database())())


def get_session(settings: SettingsDep) -> Iterator[Session]:
    """A session for the request (:func:`open_session`).

    Synchronous like SQLAlchemy's session: FastAPI runs it in its thread pool, so a slow database
    (PostgreSQL across a network) never stalls the event loop and the other requests on it."""
    with open_session(settings) as session:
        yield session


SessionDep = Annotated[Session, Depends(get_session)]


_key_cache: dict[str, tuple[float, Tenant]] = {}


def _tenant_for(session: Session, key: str) -> Tenant | None:
    """Tenant of a key; cached briefly in-process (status polling authenticates every request)."""
    now = time.monotonic()
    hit = _key_cache.get(key)
    if hit is not None and now - hit[0] < KEY_CACHE_S:
        return hit[1]
    tenant = tenant_for_key(session, key=key)
    if tenant is not None:
        session.expunge(tenant)
        if len(_key_cache) > 10_000:
            _key_cache.clear()
        _key_cache[key] = (now, tenant)
    return tenant


ApiKeyHeader = Annotated[str | None, Header(description="API key")]
BearerHeader = Annotated[str | None, Header(include_in_schema=False)]


def tenant_of(session: Session, *, x_api_key: str | None, authorization: str | None) -> Tenant:
    """The tenant of the API key in ``X-API-Key`` (or ``Authorization: Bearer``).

    Raises:
        Unauthorized: no key, or a key that is unknown or revoked.
    """
    key = x_api_key
    if not key and authorization and authorization.lower().startswith("bearer "):
        key = authorization[7:].strip()
    if not key:
        raise Unauthorized("send your API key in the X-API-Key header (create one with `gridimpact keys create --tenant NAME`)")
    tenant = _tenant_for(session, key[:200])
    if tenant is None:
        raise Unauthorized("unknown or revoked API key")
    return tenant


def get_tenant(session: SessionDep, x_api_key: ApiKeyHeader = None, authorization: BearerHeader = None) -> Tenant:
    """The tenant of the API key in ``X-API-Key`` (or ``Authorization: Bearer``)."""
    return tenant_of(session, x_api_key=x_api_key, authorization=authorization)


TenantDep = Annotated[Tenant, Depends(get_tenant)]
