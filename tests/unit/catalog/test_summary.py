"""Grid summaries and the POI search."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from grid_models.catalog.summary import find_buses, resolve_bus, summarize_grid
from grid_models.errors import BusNotFoundError
from grid_models.grid import Grid


def test_summary_of_activsg2000(catalog_grid: Callable[[str], Grid]) -> None:
    grid = catalog_grid("activsg2000")
    summary = summarize_grid(grid)
    assert summary.buses == 2000
    assert summary.lines + summary.transformers == 3206
    assert summary.total_load_mw == pytest.approx(grid.net.load.p_mw.sum())
    assert [level.vn_kv for level in summary.voltage_levels][:2] == [500.0, 230.0]
    fuels = {f.fuel: f for f in summary.generation_by_fuel}
    assert fuels["ng"].units == 288  # 367 ng units in the file, 79 of them out of service
    assert summary.has_stored_solution


def test_find_abilene_buses(catalog_grid: Callable[[str], Grid]) -> None:
    buses = find_buses(catalog_grid("activsg2000"), name="abilene")
    assert len(buses) == 13
    assert all(b.name.startswith("ABILENE") for b in buses)
    assert buses[0].vn_kv == 230.0  # highest voltage first
    high = find_buses(catalog_grid("activsg2000"), name="*ABILENE 1*", min_kv=200)
    assert [b.bus_id for b in high] == [3088]


def test_resolve_bus_by_id_and_name(catalog_grid: Callable[[str], Grid]) -> None:
    grid = catalog_grid("activsg2000")
    assert resolve_bus(grid, bus=None, bus_name="abilene 1 0") == 3088
    assert resolve_bus(grid, bus=3088, bus_name=None) == 3088
    with pytest.raises(BusNotFoundError, match=r"close names: .*ABILENE 1 0"):
        resolve_bus(grid, bus=None, bus_name="ABILENE 1 O")
    with pytest.raises(BusNotFoundError, match="has no bus 99"):
        resolve_bus(grid, bus=99, bus_name=None)
