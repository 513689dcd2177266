"""On-disk cache of parsed MATPOWER cases.

Parsing a large MATPOWER text (activsg70k is 19 MB) costs far more than reading the same arrays
back from a ``.npz`` file. The cache stores the parsed tables only (numbers and strings, no
pickled objects), keyed by the source file's SHA-256 and by the parser and converter versions, so a change to either
invalidates old entries. Writes go to a temporary file that is renamed into place, so a crash
never leaves a truncated entry behind.
"""

from __future__ import annotations

import logging
import os
import tempfile
from pathlib import Path

import numpy as np

from grid_models.catalog.convert import CONVERTER_VERSION
from grid_models.catalog.matpower_text import MatpowerCase

__all__ = ["PARSER_VERSION", "cache_key", "load_cached_case", "store_cached_case"]

logger = logging.getLogger(__name__)

PARSER_VERSION = "1"
_TABLES = ("bus", "gen", "branch", "gencost")
_STRINGS = ("bus_name", "genfuel", "gentype")


def cache_key(*, grid_id: str, checksum: str) -> str:
    """File name of a cache entry for one grid file version and one parser/converter version."""
    return f"{grid_id}-{checksum[:20]}-p{PARSER_VERSION}-c{CONVERTER_VERSION}.npz"


def load_cached_case(cache_dir: Path, *, grid_id: str, checksum: str) -> MatpowerCase | None:
    """Read a cached case, or ``None`` when absent or unreadable (a bad entry is removed)."""
    path = cache_dir / cache_key(grid_id=grid_id, checksum=checksum)
    if not path.is_file():
        return None
    try:
        with np.load(path, allow_pickle=False) as data:
            tables = {name: data[name] for name in _TABLES if name in data.files}
            strings = {name: [str(s) for s in data[name]] for name in _STRINGS if name in data.files}
            base_mva = float(data["base_mva"])
    except (OSError, ValueError, KeyError) as exc:
        logger.warning("cache_entry_unreadable path=%s error=%s", path, exc)
        path.unlink(missing_ok=True)
        return None
    return MatpowerCase(
        base_mva=base_mva,
        bus=tables["bus"],
        gen=tables["gen"],
        branch=tables["branch"],
        gencost=tables.get("gencost"),
        bus_name=strings.get("bus_name"),
        genfuel=strings.get("genfuel"),
        gentype=strings.get("gentype"),
    )


def store_cached_case(cache_dir: Path, case: MatpowerCase, *, grid_id: str, checksum: str) -> Path:
    """Write a case to the cache atomically; returns the entry's path."""
    cache_dir.mkdir(parents=True, exist_ok=True)
    path = cache_dir / cache_key(grid_id=grid_id, checksum=checksum)
    arrays: dict[str, np.ndarray] = {"base_mva": np.array(case.base_mva)}
    for name in _TABLES:
        value = getattr(case, name)
        if value is not None:
            arrays[name] = value
    for name in _STRINGS:
        value = getattr(case, name)
        if value is not None:
            arrays[name] = np.array(value, dtype=str)
    handle, tmp_name = tempfile.mkstemp(dir=cache_dir, suffix=".tmp")
    try:
        with os.fdopen(handle, "wb") as tmp:
            np.savez(tmp, **arrays)  # type: ignore[arg-type]
        os.replace(tmp_name, path)
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        raise
    return path
