"""Response models of the grids API."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

__all__ = ["BusList", "BusRow", "GridDetail", "GridList", "GridListItem", "UploadCreated"]


class GridListItem(BaseModel):
    """A grid a study can use."""

    id: str = Field(description="catalog id or upload id; use it as grid.catalog or grid.upload_id")
    kind: str = Field(description="catalog or upload")
    title: str
    buses: int | None = None
    region: str | None = None
    created_at: datetime | None = None


class GridList(BaseModel):
    """Catalog grids and this tenant's uploads."""

    items: list[GridListItem]


class GridDetail(BaseModel):
    """A grid's summary: counts, voltage levels, areas, load and generation by fuel."""

    id: str
    kind: str
    summary: dict[str, Any]


class BusRow(BaseModel):
    """A candidate point of interconnection."""

    bus_id: int
    name: str
    vn_kv: float
    area: int
    load_mw: float
    generation_mw: float
    branches: int


class BusList(BaseModel):
    """Buses matching a search, highest voltage first."""

    items: list[BusRow]
    total: int


class UploadCreated(BaseModel):
    """A validated, stored upload."""

    id: str
    name: str
    format: str
    checksum: str
    size_bytes: int
    summary: dict[str, Any]
