"""Request dependencies: settings, a database session per request, the caller's tenant."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Header, Request
from sqlalchemy.orm import Session

from impact_service.errors import Unauthorized
from impact_service.settings import Settings
from impact_service.store.db import session_factory
from impact_service.store.models import Tenant
from impact_service.store.repository import tenant_for_key

__all__ = ["SessionDep", "SettingsDep", "TenantDep", "get_app_settings", "get_session", "get_tenant"]


def get_app_settings(request: Request) -> Settings:
    """The settings the app was created with."""
    settings: Settings = request.app.state.settings
    return settings


SettingsDep = Annotated[Settings, Depends(get_app_settings)]


def get_session(settings: SettingsDep) -> Iterator[Session]:
    """A session for the request; committed by the service functions that write."""
    session = session_factory(settings.database())()
    try:
        yield session
    finally:
        session.close()


SessionDep = Annotated[Session, Depends(get_session)]


def get_tenant(
    session: SessionDep,
    x_api_key: Annotated[str | None, Header(description="API key")] = None,
    authorization: Annotated[str | None, Header(include_in_schema=False)] = None,
) -> Tenant:
    """The tenant of the API key in ``X-API-Key`` (or ``Authorization: Bearer``)."""
    key = x_api_key
    if not key and authorization and authorization.lower().startswith("bearer "):
        key = authorization[7:].strip()
    if not key:
        raise Unauthorized("send your API key in the X-API-Key header (create one with `gridimpact keys create`)")
    tenant = tenant_for_key(session, key=key[:200])
    if tenant is None:
        raise Unauthorized("unknown or revoked API key")
    return tenant


TenantDep = Annotated[Tenant, Depends(get_tenant)]
