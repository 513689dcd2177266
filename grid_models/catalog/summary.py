"""Grid summaries and bus search, so a user can pick a point of interconnection (POI)."""

from __future__ import annotations

import difflib
import fnmatch
from typing import Any

import numpy as np
import pandas as pd
from pydantic import BaseModel, Field

from grid_models.errors import BusNotFoundError, InternalError, StudySpecError
from grid_models.grid import Grid, star_bus_ids, trafo3w_of

__all__ = ["BusInfo", "FuelCapacity", "GridSummary", "VoltageLevel", "find_buses", "grid_index", "resolve_bus", "summarize_grid"]


class BusInfo(BaseModel):
    """A bus a facility could connect to."""

    bus_id: int
    name: str
    vn_kv: float
    area: int
    load_mw: float
    generation_mw: float
    branches: int = Field(description="lines and transformers connected (in service)")


class FuelCapacity(BaseModel):
    """Generation by fuel."""

    fuel: str
    units: int
    p_mw: float
    pmax_mw: float


class VoltageLevel(BaseModel):
    """Buses and lines at one nominal voltage."""

    vn_kv: float
    buses: int
    lines: int


class GridSummary(BaseModel):
    """What a grid contains."""

    grid_id: str
    title: str
    source: str
    checksum: str
    buses: int
    lines: int
    transformers: int = Field(description="two-winding transformers")
    three_winding_transformers: int = Field(
        description="three-winding transformers (each modelled as three two-winding ones around a star bus)"
    )
    star_buses: int = Field(description="the star buses of the three-winding transformers (not counted in buses)")
    generators: int
    loads: int
    shunts: int
    areas: list[int]
    voltage_levels: list[VoltageLevel]
    total_load_mw: float
    total_load_mvar: float
    generation_by_fuel: list[FuelCapacity]
    has_stored_solution: bool
    notes: list[str]


def _area(net_bus: pd.DataFrame) -> pd.Series:
    return net_bus["area"] if "area" in net_bus.columns else pd.Series(0, index=net_bus.index)


def summarize_grid(grid: Grid) -> GridSummary:
    """Counts, voltage levels, areas, total load and generation by fuel."""
    net = grid.net
    gen = net.gen[net.gen.in_service.astype(bool)]
    fuel = gen["fuel"] if "fuel" in gen.columns else pd.Series("unknown", index=gen.index)
    by_fuel = [
        FuelCapacity(fuel=str(f), units=len(g), p_mw=float(g.p_mw.sum()), pmax_mw=float(g.max_p_mw.fillna(0).sum()))
        for f, g in gen.groupby(fuel.fillna("unknown"))
    ]
    ext = net.ext_grid[net.ext_grid.in_service.astype(bool)] if len(net.ext_grid) else net.ext_grid
    if len(ext):  # the engine models each as a slack generator of fuel "external"
        pmax = ext["max_p_mw"].fillna(0).sum() if "max_p_mw" in ext.columns else 0.0
        by_fuel.append(FuelCapacity(fuel="external", units=len(ext), p_mw=0.0, pmax_mw=float(pmax)))
    stars = star_bus_ids(net)
    bus = net.bus.drop(index=list(stars))
    line_kv = net.bus.vn_kv.loc[net.line.from_bus]
    levels = [
        VoltageLevel(vn_kv=float(kv), buses=int((bus.vn_kv == kv).sum()), lines=int((line_kv == kv).sum()))
        for kv in sorted(bus.vn_kv.unique(), reverse=True)
    ]
    trafo3w = trafo3w_of(net.trafo)
    legs = trafo3w >= 0
    load = net.load[net.load.in_service.astype(bool)]
    return GridSummary(
        grid_id=grid.grid_id,
        title=grid.title,
        source=grid.source,
        checksum=grid.checksum,
        buses=len(bus),
        lines=len(net.line),
        transformers=int((~legs).sum()),
        three_winding_transformers=int(trafo3w[legs].nunique()),
        star_buses=len(stars),
        generators=len(gen),
        loads=len(load),
        shunts=len(net.shunt),
        areas=sorted(int(a) for a in _area(net.bus).unique()),
        voltage_levels=levels,
        total_load_mw=float(load.p_mw.sum()),
        total_load_mvar=float(load.q_mvar.sum()),
        generation_by_fuel=sorted(by_fuel, key=lambda f: -f.pmax_mw),
        has_stored_solution=grid.has_case_solution,
        notes=grid.notes,
    )


def _bus_table(grid: Grid) -> pd.DataFrame:
    net = grid.net
    table = pd.DataFrame({"name": net.bus.name.fillna("").astype(str), "vn_kv": net.bus.vn_kv, "area": _area(net.bus)})
    table["load_mw"] = net.load.groupby("bus").p_mw.sum().reindex(table.index, fill_value=0.0)
    table["generation_mw"] = (
        net.gen[net.gen.in_service.astype(bool)].groupby("bus").p_mw.sum().reindex(table.index, fill_value=0.0)
    )
    ends = pd.concat(
        [
            net.line.loc[net.line.in_service.astype(bool), ["from_bus", "to_bus"]].stack(),
            net.trafo.loc[net.trafo.in_service.astype(bool), ["hv_bus", "lv_bus"]].stack(),
        ]
    )
    table["branches"] = ends.value_counts().reindex(table.index, fill_value=0)
    return table


def find_buses(
    grid: Grid,
    *,
    name: str | None = None,
    min_kv: float | None = None,
    max_kv: float | None = None,
    area: int | None = None,
    limit: int = 200,
) -> list[BusInfo]:
    """Buses matching a name pattern and voltage range, highest voltage first.

    Parameters:
        name: case-insensitive; a plain word matches names starting with it (``ABILENE``), or a
            shell pattern (``*MEMPHIS*``, ``ABILENE ?``).
        min_kv, max_kv: nominal voltage range, kV.
        area: area number.
        limit: maximum number of buses returned.
    """
    table = _bus_table(grid)
    mask = np.ones(len(table), dtype=bool)
    if name:
        pattern = name.upper() if any(c in name for c in "*?[") else f"{name.upper()}*"
        mask &= table["name"].str.upper().map(lambda n: fnmatch.fnmatchcase(n, pattern)).to_numpy()
    if min_kv is not None:
        mask &= (table.vn_kv >= min_kv).to_numpy()
    if max_kv is not None:
        mask &= (table.vn_kv <= max_kv).to_numpy()
    if area is not None:
        mask &= (table.area == area).to_numpy()
    hits = table[mask].sort_values(["vn_kv", "name"], ascending=[False, True]).head(limit)
    rows: list[dict[str, Any]] = hits.reset_index(names="bus_id").to_dict("records")  # type: ignore[assignment]
    return [BusInfo.model_validate(row) for row in rows]


def resolve_bus(grid: Grid, *, bus: int | None, bus_name: str | None) -> int:
    """The bus id of a site given by id or by exact (case-insensitive) name.

    Raises:
        BusNotFoundError: no such bus (the message suggests close names).
        StudySpecError: the name matches more than one bus (the message lists their ids).
    """
    net = grid.net
    if bus is not None:
        if bus not in net.bus.index:
            raise BusNotFoundError(
                f"grid {grid.grid_id!r} has no bus {bus}; find buses with GET /v1/grids/{grid.grid_id}/buses?name=..."
            )
        return int(bus)
    if bus_name is None:
        raise InternalError("a site with neither bus nor bus_name reached the bus lookup (the spec requires one)")
    names = net.bus.name.fillna("").astype(str).str.strip().str.upper()
    hits = names.index[names == bus_name.strip().upper()].tolist()
    if len(hits) == 1:
        return int(hits[0])
    if len(hits) > 1:
        raise StudySpecError(f"bus name {bus_name!r} matches buses {hits[:10]}; give the site as {{'bus': <id>}} instead")
    close = difflib.get_close_matches(bus_name.strip().upper(), names.unique().tolist(), n=5, cutoff=0.6)
    hint = f"; close names: {', '.join(close)}" if close else ""
    raise BusNotFoundError(f"grid {grid.grid_id!r} has no bus named {bus_name!r}{hint}")


def grid_index(grid: Grid) -> tuple[dict[str, object], list[list[object]]]:
    """Summary (JSON) and the full bus table as rows ``[bus_id, name, vn_kv, area, load_mw, generation_mw, branches]``,
    for services that answer grid questions without loading the grid."""
    buses = find_buses(grid, limit=len(grid.net.bus))
    rows: list[list[object]] = [[b.bus_id, b.name, b.vn_kv, b.area, b.load_mw, b.generation_mw, b.branches] for b in buses]
    return summarize_grid(grid).model_dump(mode="json"), rows
