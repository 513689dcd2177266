"""A worker parses an uploaded grid once and keeps it (uploads never change), but checks on every
study that the upload is the tenant's."""

from __future__ import annotations

import pandapower as pp
import pandapower.networks as pn
import pytest

from grid_models.errors import GridModelError
from impact_service.settings import Settings
from impact_service.store import repository as repo
from impact_service.store.db import session_scope
from workers.execution import load_grid


def test_an_upload_is_parsed_once_and_stays_the_tenants(settings: Settings) -> None:
    with session_scope(settings.database()) as session:
        owner = repo.ensure_tenant(session, name="owner").id
        other = repo.ensure_tenant(session, name="other").id
        upload = repo.save_upload(
            session,
            tenant_id=owner,
            name="case9.json",
            fmt="pandapower_json",
            checksum="x",
            content=pp.to_json(pn.case9()).encode(),
        )
        upload_id = upload.id
        session.commit()
    first = load_grid(settings, f"upload:{upload_id}", owner)
    assert load_grid(settings, f"upload:{upload_id}", owner) is first  # kept, not parsed again
    with pytest.raises(GridModelError, match="no longer exists"):
        load_grid(settings, f"upload:{upload_id}", other)  # another tenant's: refused although it is kept
