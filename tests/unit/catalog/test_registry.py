"""The catalog and its on-disk cache."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from grid_models.catalog import cache
from grid_models.catalog.registry import CATALOG, catalog_file, list_catalog, load_catalog_grid
from grid_models.errors import GridNotFoundError


def test_catalog_lists_the_six_activsg_grids() -> None:
    assert [entry.grid_id for entry in list_catalog()] == [
        "activsg200",
        "activsg500",
        "activsg2000",
        "activsg10k",
        "activsg25k",
        "activsg70k",
    ]
    for grid_id in CATALOG:
        assert catalog_file(grid_id).is_file()


def test_unknown_grid_lists_valid_ids() -> None:
    with pytest.raises(GridNotFoundError, match="activsg2000"):
        load_catalog_grid("activsg9")


def test_cache_round_trip_is_exact(tmp_path: Path) -> None:
    first = load_catalog_grid("activsg500", cache_dir=tmp_path)
    entries = list(tmp_path.glob("activsg500-*.npz"))
    assert len(entries) == 1
    second = load_catalog_grid("activsg500", cache_dir=tmp_path)
    for table in ("bus", "gen", "line", "trafo", "load", "shunt"):
        left, right = first.net[table], second.net[table]
        assert left.index.equals(right.index)
        for column in left.columns:
            if left[column].dtype.kind == "f":
                np.testing.assert_array_equal(left[column].to_numpy(), right[column].to_numpy())
            else:
                assert left[column].tolist() == right[column].tolist()
    assert first.checksum == second.checksum


def test_corrupt_cache_entry_is_replaced(tmp_path: Path) -> None:
    grid = load_catalog_grid("activsg200", cache_dir=tmp_path)
    entry = tmp_path / cache.cache_key(grid_id="activsg200", checksum=grid.checksum)
    entry.write_bytes(b"not a zip file")
    again = load_catalog_grid("activsg200", cache_dir=tmp_path)
    assert len(again.net.bus) == 200
    assert entry.stat().st_size > 1000


def test_cache_key_changes_with_converter_version(monkeypatch: pytest.MonkeyPatch) -> None:
    key = cache.cache_key(grid_id="activsg200", checksum="ab" * 32)
    monkeypatch.setattr(cache, "CONVERTER_VERSION", "999")
    assert cache.cache_key(grid_id="activsg200", checksum="ab" * 32) != key
