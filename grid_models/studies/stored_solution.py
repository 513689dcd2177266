"""How far the engine's base case is from the solution stored in an uploaded file.

A MATPOWER or PSS/E RAW file carries the solved bus voltages of the program that wrote it. The
engine solves the same operating point (AC power flow, reactive limits switched both ways, as for
every study) and compares: the ACTIVSg cases land within 1e-4 pu (2e-3 on activsg70k). A larger
difference is not an error (the writer may have used another reactive-limit rule, switched shunts
that moved, or remote regulation the conversion made local), but a planner must see it, so the
upload's summary lists it with the buses furthest apart.
"""

from __future__ import annotations

import numpy as np
from pydantic import BaseModel, Field

from grid_models.grid import Grid
from grid_models.solver.lightsim import LightSimBackend
from grid_models.solver.network import prepare_network
from grid_models.solver.types import SolverSettings
from grid_models.spec import InitialVoltage
from grid_models.studies.power_flow import solve_base_case

__all__ = ["TOLERANCE_PU", "StoredSolutionCheck", "check_stored_solution"]

TOLERANCE_PU = 1e-3
_WORST = 5


class StoredSolutionCheck(BaseModel):
    """The engine's base case against the file's solved voltages."""

    converged: bool
    max_difference_pu: float | None = Field(None, description="largest |Vm engine - Vm file|, pu")
    buses_beyond_tolerance: int = Field(0, description=f"buses more than {TOLERANCE_PU} pu apart")
    worst: list[dict[str, float | int | str]] = Field(default_factory=list, description="the buses furthest apart")
    note: str


def check_stored_solution(grid: Grid) -> StoredSolutionCheck | None:
    """The comparison, or None when the file carries no solution."""
    if not grid.has_case_solution:
        return None
    prepared = prepare_network(grid.net)
    settings = SolverSettings()
    base = solve_base_case(LightSimBackend(prepared, settings), poi=0, initial=InitialVoltage.AUTO, settings=settings)
    if not base.converged:
        return StoredSolutionCheck(converged=False, note="the engine finds no AC solution of the file's operating point")
    difference = np.abs(base.solution.vm_pu - prepared.vm_case_pu)
    order = np.argsort(difference)[::-1][:_WORST]
    beyond = int((difference > TOLERANCE_PU).sum())
    worst: list[dict[str, float | int | str]] = [
        {"bus": int(prepared.bus_ids[i]), "name": str(prepared.bus_names[i]), "vm_pu": round(float(base.solution.vm_pu[i]), 6),
         "vm_file_pu": round(float(prepared.vm_case_pu[i]), 6)}
        for i in order
    ]  # fmt: skip
    note = (
        f"the engine reproduces the file's voltages within {TOLERANCE_PU} pu"
        if beyond == 0
        else f"{beyond} bus(es) differ from the file's voltages by more than {TOLERANCE_PU} pu: the file may use another "
        "reactive-limit rule, switched shunts in other positions or remote regulation (made local here)"
    )
    return StoredSolutionCheck(
        converged=True, max_difference_pu=float(difference.max()), buses_beyond_tolerance=beyond, worst=worst, note=note
    )
