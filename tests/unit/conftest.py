"""Shared by the unit tests of a study's phases (plan, outage slices, merge, local processes)."""

from __future__ import annotations

from grid_models.spec import StudySpec

# N-1, an N-1 hosting capacity and load loss on activsg200: small, yet every phase has work
SPRINGFIELD = StudySpec.model_validate(
    {
        "grid": {"catalog": "activsg200"},
        "site": {"bus_name": "SPRINGFIELD 5 1"},
        "stages": [{"mw": 150}, {"mw": 300}],
        "analyses": {"contingency": {}, "hosting_capacity": {"max_mw": 1000}, "load_loss": {}},
    }
)


def quiet(_fraction: float, _step: str) -> None:
    """A progress callback that ignores progress."""
    return None
