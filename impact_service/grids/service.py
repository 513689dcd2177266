"""Grid catalog, uploads and the grid index (summary and bus table kept in the database).

The engine (pandapower) is imported only here, lazily, the first time a grid has to be indexed
or an upload validated; study submission and polling never load it.
"""

from __future__ import annotations

import fnmatch
import logging
import threading
from pathlib import Path
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from grid_models.catalog.entries import CATALOG, catalog_file, sha256_file
from impact_service.errors import NotFound, UnprocessableEntity
from impact_service.grids.schemas import BusList, BusRow, GridListItem
from impact_service.parsing import check_grid, in_child
from impact_service.settings import Settings
from impact_service.store import repository as repo
from impact_service.store.models import GridIndex, GridUpload

__all__ = ["UPLOAD_FORMATS", "create_upload", "grid_key", "index_for", "list_grids", "resolve_site", "search_buses"]

logger = logging.getLogger(__name__)
UPLOAD_FORMATS = ("auto", "pandapower_json", "matpower", "psse_raw")
_index_lock = threading.Lock()


def grid_key(*, catalog: str | None = None, upload_id: str | None = None) -> str:
    """``catalog:<id>`` or ``upload:<id>``."""
    return f"catalog:{catalog}" if catalog else f"upload:{upload_id}"


def _catalog_index(session: Session, settings: Settings, grid_id: str) -> GridIndex:
    if grid_id not in CATALOG:
        raise NotFound(f"no catalog grid {grid_id!r}; GET /v1/grids lists them ({', '.join(CATALOG)})")
    checksum = sha256_file(catalog_file(grid_id))
    key = grid_key(catalog=grid_id)
    found = repo.get_grid_index(session, key=key, checksum=checksum)
    if found is not None:
        return found
    with _index_lock:  # one thread indexes, the others wait for it
        found = repo.get_grid_index(session, key=key, checksum=checksum)
        if found is not None:
            return found
        from grid_models.catalog.registry import load_catalog_grid
        from grid_models.catalog.summary import grid_index

        summary, buses = grid_index(load_catalog_grid(grid_id, cache_dir=settings.cache_dir))
        try:
            saved = repo.save_grid_index(session, key=key, checksum=checksum, summary=summary, buses=buses)
            session.commit()
        except IntegrityError as exc:  # another process indexed it meanwhile
            session.rollback()
            again = repo.get_grid_index(session, key=key)
            if again is None:
                raise RuntimeError(f"grid index {key!r} vanished between a unique-key conflict and its read") from exc
            return again
        return saved


def index_for(session: Session, settings: Settings, *, tenant_id: str, grid_id: str) -> tuple[str, GridIndex]:
    """The (kind, index) of a catalog id or of one of the tenant's uploads."""
    if grid_id in CATALOG:
        return "catalog", _catalog_index(session, settings, grid_id)
    upload = repo.get_upload(session, upload_id=grid_id, tenant_id=tenant_id)
    index = repo.get_grid_index(session, key=grid_key(upload_id=grid_id)) if upload else None
    if upload is None or index is None:
        raise NotFound(f"no grid {grid_id!r}: use a catalog id ({', '.join(CATALOG)}) or one of your upload ids")
    return "upload", index


def search_buses(
    index: GridIndex, *, name: str | None, min_kv: float | None, max_kv: float | None, area: int | None, limit: int
) -> BusList:
    """Buses of an index matching a name prefix or pattern and a voltage range."""
    pattern = None
    if name:
        pattern = name.upper() if any(c in name for c in "*?[") else f"{name.upper()}*"
    rows = []
    for bus_id, bus_name, vn_kv, bus_area, load_mw, generation_mw, branches in index.buses:
        if pattern and not fnmatch.fnmatchcase(str(bus_name).upper(), pattern):
            continue
        if (min_kv is not None and float(vn_kv) < min_kv) or (max_kv is not None and float(vn_kv) > max_kv):  # type: ignore[arg-type]
            continue
        if area is not None and bus_area != area:
            continue
        rows.append(
            BusRow(
                bus_id=bus_id,
                name=bus_name,
                vn_kv=vn_kv,
                area=bus_area,
                load_mw=load_mw,
                generation_mw=generation_mw,
                branches=branches,
            )
        )
    return BusList(items=rows[:limit], total=len(rows))


def resolve_site(index: GridIndex, *, bus: int | None, bus_name: str | None) -> int:
    """The bus id a study's site names, or a 422 that says how to find one."""
    if bus is not None:
        if any(row[0] == bus for row in index.buses):
            return bus
        raise UnprocessableEntity(
            f"site.bus {bus} is not a bus of this grid; search with GET /v1/grids/<id>/buses?name=...", code="bus_not_found"
        )
    wanted = (bus_name or "").strip().upper()
    hits: list[int] = [int(str(row[0])) for row in index.buses if str(row[1]).strip().upper() == wanted]
    if len(hits) == 1:
        return hits[0]
    if len(hits) > 1:
        raise UnprocessableEntity(
            f"site.bus_name {bus_name!r} matches buses {hits[:10]}; give site.bus instead", code="bus_ambiguous"
        )
    raise UnprocessableEntity(
        f"site.bus_name {bus_name!r} is not a bus of this grid; search with GET /v1/grids/<id>/buses?name=...",
        code="bus_not_found",
    )


def list_grids(session: Session, *, tenant_id: str) -> list[GridListItem]:
    """Catalog grids, then the tenant's uploads."""
    items = [
        GridListItem(id=e.grid_id, kind="catalog", title=e.title, buses=e.buses, region=e.region)
        for e in sorted(CATALOG.values(), key=lambda e: e.buses)
    ]
    for upload in repo.list_uploads(session, tenant_id=tenant_id):
        items.append(GridListItem(id=upload.id, kind="upload", title=upload.name, created_at=upload.created_at))
    return items


def create_upload(
    session: Session, settings: Settings, *, tenant_id: str, filename: str, path: Path, fmt: str
) -> tuple[GridUpload, dict[str, Any]]:
    """Validate an upload (spooled at ``path``) with the engine in a child process, then store the
    file and its index."""
    _, checksum, source_format, summary, buses = in_child(
        check_grid, str(path), filename, fmt, settings.max_upload_bytes, code="grid_invalid"
    )
    content = path.read_bytes()
    upload = repo.save_upload(
        session,
        tenant_id=tenant_id,
        name=filename or "upload",
        fmt=source_format,
        checksum=checksum,
        content=content,
    )
    summary.update({"grid_id": upload.id, "title": upload.name})
    repo.save_grid_index(session, key=grid_key(upload_id=upload.id), checksum=checksum, summary=summary, buses=buses)
    session.commit()
    return upload, summary
