"""Shared fixtures: catalog grids loaded once per session through a session-local cache."""

from __future__ import annotations

import os
import warnings
from collections.abc import Callable
from pathlib import Path

import pytest

from grid_models.catalog.registry import load_catalog_grid
from grid_models.grid import Grid

warnings.filterwarnings("ignore", module="lightsim2grid")

# tests/docker is its own tier (make test-docker: a Docker engine, images, a Compose stack)
collect_ignore = [] if os.environ.get("GRIDIMPACT_DOCKER_TIER") == "1" else ["docker"]


@pytest.fixture(scope="session")
def cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("grid-cache")


@pytest.fixture(scope="session")
def catalog_grid(cache_dir: Path) -> Callable[[str], Grid]:
    """Load a catalog grid once per session (callers must not modify the net)."""
    loaded: dict[str, Grid] = {}

    def load(grid_id: str) -> Grid:
        if grid_id not in loaded:
            loaded[grid_id] = load_catalog_grid(grid_id, cache_dir=cache_dir)
        return loaded[grid_id]

    return load
