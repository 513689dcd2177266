"""The POI's headroom in one hour: the largest facility demand with no violation attributable to it,
N-0 and N-1 (over the screened outages, confirmed in AC).

The estimate comes from two AC solutions of the hour, without the facility and with the largest
stage: every monitored voltage and loading is taken as linear in the facility's MW between them
(and, post-outage, through the screening's sensitivities), and the estimate is the smallest MW at
which one crosses its limit by the attribution threshold, as the stage tables attribute them. The
exact value is a bisection on AC solves of the hour to the study's resolution.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from grid_models.solver.network import PreparedNetwork
from grid_models.spec.study import Criteria
from grid_models.studies.annual.screening import Sensitivities, VoltageEffects
from grid_models.studies.evaluation import branch_loading_percent, monitored_buses
from grid_models.studies.power_flow import StageSolve

__all__ = ["Crossing", "bracket_search", "n0_estimate", "n1_estimate"]

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True)
class Crossing:
    """The smallest MW at which an element's estimate crosses its limit: ``element`` is a branch
    position (``kind`` thermal) or a bus position; ``outage`` the outage's column, -1 for N-0."""

    p_mw: float
    kind: str
    element: int
    outage: int = -1


_NONE = Crossing(np.inf, "", -1)


def _crossing(x0: FloatArray, x1: FloatArray, size_mw: float, limit: float, sign: float, *, threshold: float) -> FloatArray:
    """Per element: the MW where ``x`` (linear between x0 at 0 and x1 at ``size_mw``) is past
    ``limit`` (``sign`` +1 above, -1 below) and has moved by at least ``threshold``; inf: never."""
    with np.errstate(divide="ignore", invalid="ignore"):
        slope = sign * (x1 - x0) / size_mw
        beyond = np.where(sign * (x0 - limit) > 0, 0.0, sign * (limit - x0) / slope)
        moved = max(threshold, 1e-9) / slope
        p = np.maximum(beyond, moved)
    return np.asarray(np.where((slope > 0) & np.isfinite(p), np.maximum(p, 0.0), np.inf), dtype=np.float64)


def _smallest(p: FloatArray, kind: str, elements: npt.NDArray[np.int64], outage: int = -1) -> Crossing:
    if p.size == 0 or not np.isfinite(p).any():
        return _NONE
    index = int(np.argmin(p))
    return Crossing(float(p[index]), kind, int(elements[index]), outage)


def n0_estimate(prepared: PreparedNetwork, base: StageSolve, loaded: StageSolve, size_mw: float, criteria: Criteria) -> Crossing:
    """The hour's N-0 headroom estimate from its solutions without and with ``size_mw``."""
    buses = np.flatnonzero(monitored_buses(prepared, criteria))
    branches = np.flatnonzero(prepared.branch_in_service & (prepared.rate_normal_mva > 0))
    v0, v1 = base.solution.vm_pu[buses], loaded.solution.vm_pu[buses]
    l0 = branch_loading_percent(prepared, base.solution)[branches]
    l1 = branch_loading_percent(prepared, loaded.solution)[branches]
    candidates = [
        _smallest(
            _crossing(l0, l1, size_mw, criteria.normal_loading_max_percent, 1.0, threshold=criteria.worsened_loading_percent),
            "thermal",
            branches,
        ),
        _smallest(_crossing(v0, v1, size_mw, criteria.vm_max_pu, 1.0, threshold=criteria.worsened_vm_pu), "high_voltage", buses),
        _smallest(_crossing(v0, v1, size_mw, criteria.vm_min_pu, -1.0, threshold=criteria.worsened_vm_pu), "low_voltage", buses),
    ]
    return min(candidates, key=lambda c: c.p_mw)


def _post_loading(
    prepared: PreparedNetwork, solve: StageSolve, sens: Sensitivities, branches: npt.NDArray[np.int64]
) -> FloatArray:
    sol = solve.solution
    p = sens.post_outage_p_mw(sol.p_from_mw, sol.gen_p_mw)[branches]
    q = np.maximum(np.abs(sol.q_from_mvar), np.abs(sol.q_to_mvar))[branches, None]
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.asarray(np.hypot(p, q) / prepared.rate_emergency_mva[branches, None] * 100.0, dtype=np.float64)


def n1_estimate(
    prepared: PreparedNetwork,
    base: StageSolve,
    loaded: StageSolve,
    size_mw: float,
    criteria: Criteria,
    *,
    sens: Sensitivities,
    voltage: VoltageEffects | None,
) -> Crossing:
    """The hour's N-1 headroom estimate over the screened outages (thermal through the
    sensitivities, voltage through the reference hours' effects)."""
    branches = np.flatnonzero(prepared.branch_in_service & (prepared.rate_emergency_mva > 0))
    l0, l1 = _post_loading(prepared, base, sens, branches), _post_loading(prepared, loaded, sens, branches)
    p = _crossing(l0, l1, size_mw, criteria.emergency_loading_max_percent, 1.0, threshold=criteria.worsened_loading_percent)
    best = _NONE
    if p.size:
        flat = int(np.argmin(p))
        row, column = np.unravel_index(flat, p.shape)
        if np.isfinite(p[row, column]):
            best = Crossing(float(p[row, column]), "thermal", int(branches[row]), int(column))
    if voltage is None:
        return best
    buses = np.flatnonzero(monitored_buses(prepared, criteria))
    v0, v1 = base.solution.vm_pu[buses, None], loaded.solution.vm_pu[buses, None]
    for kind, effect, limit, sign in (
        ("low_voltage", -voltage.drop_pu[buses], criteria.post_contingency_vm_min_pu, -1.0),
        ("high_voltage", voltage.rise_pu[buses], criteria.post_contingency_vm_max_pu, 1.0),
    ):
        crossing = _crossing(v0 + effect, v1 + effect, size_mw, limit, sign, threshold=criteria.worsened_vm_pu)
        if crossing.size and np.isfinite(crossing).any():
            row, column = np.unravel_index(int(np.argmin(crossing)), crossing.shape)
            if crossing[row, column] < best.p_mw:
                best = Crossing(float(crossing[row, column]), kind, int(buses[row]), int(column))
    return best


def bracket_search(
    passes: Callable[[float], bool], *, guess_mw: float, cap_mw: float, resolution_mw: float
) -> tuple[float, float]:
    """The largest MW in [0, cap] for which ``passes`` holds, to ``resolution_mw``, starting near
    ``guess_mw`` and stepping away from it in doubling steps: returns ``(low, high)``, low passing
    and high failing; ``(cap, cap + resolution)`` when nothing up to the cap fails, ``(0, 0)`` when
    even the smallest step fails."""
    guess, step = float(np.clip(guess_mw, 0.0, cap_mw)), resolution_mw
    if passes(guess):
        low = guess
        while True:
            if low >= cap_mw:
                return cap_mw, cap_mw + resolution_mw
            high = min(low + step, cap_mw)
            if not passes(high):
                break
            low, step = high, step * 2
    else:
        high = guess
        while True:
            if high <= 0:
                return 0.0, 0.0
            low = max(high - step, 0.0)
            if passes(low):
                break
            high, step = low, step * 2
    while high - low > resolution_mw:
        middle = (low + high) / 2
        if passes(middle):
            low = middle
        else:
            high = middle
    return low, high
