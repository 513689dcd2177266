"""gridimpact's study engine: what a large new load does to a grid, and to the air and water.

A pure library (no web, queue, SQL or environment reads). The public API::

    from grid_models import StudySpec, load_catalog_grid, run_study

    spec = StudySpec.model_validate({"grid": {"catalog": "activsg200"}, "site": {"bus_name": "CLINTON 1 0"},
                                     "stages": [{"mw": 100}]})
    result = run_study(spec, load_catalog_grid("activsg200"))

Names load on first use (PEP 562): importing ``grid_models.errors`` or ``grid_models.spec`` does not
pull in the solver stack, so a process that only validates requests stays light.

Errors: every expected failure is a :class:`GridModelError` (see :mod:`grid_models.errors` for the
tree); a power flow without a solution is a finding in the result, not an exception.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from grid_models.catalog.registry import list_catalog, load_catalog_grid
    from grid_models.catalog.uploads import load_upload
    from grid_models.errors import (
        BusNotFoundError,
        GridModelError,
        GridNotFoundError,
        GridValidationError,
        InternalError,
        PlanMismatchError,
        SolverError,
        StudyCanceled,
        StudySpecError,
        ValidationIssue,
    )
    from grid_models.grid import Grid
    from grid_models.pipeline import run_study
    from grid_models.report import render_report
    from grid_models.results import StudyResult
    from grid_models.spec import StudySpec

_ERRORS = "grid_models.errors"
_HOME = {
    "list_catalog": "grid_models.catalog.registry",
    "load_catalog_grid": "grid_models.catalog.registry",
    "load_upload": "grid_models.catalog.uploads",
    "Grid": "grid_models.grid",
    "run_study": "grid_models.pipeline",
    "render_report": "grid_models.report",
    "StudyResult": "grid_models.results",
    "StudySpec": "grid_models.spec",
}

__all__ = [
    "BusNotFoundError",
    "Grid",
    "GridModelError",
    "GridNotFoundError",
    "GridValidationError",
    "InternalError",
    "PlanMismatchError",
    "SolverError",
    "StudyCanceled",
    "StudyResult",
    "StudySpec",
    "StudySpecError",
    "ValidationIssue",
    "list_catalog",
    "load_catalog_grid",
    "load_upload",
    "render_report",
    "run_study",
]


def __getattr__(name: str) -> Any:
    """Load a public name from its module on first use."""
    home = _HOME.get(name, _ERRORS if name in __all__ else None)
    if home is None:
        raise AttributeError(f"module 'grid_models' has no attribute {name!r}")
    value = getattr(importlib.import_module(home), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])
