"""N-1 screening for every hour: which (hour, outage) pairs need an AC solve.

Thermal: post-outage active flows estimated with line-outage distribution factors (LODF, from the
grid's DC susceptances, fixed for the year) on the hour's AC flows: ``f_l + LODF_lk f_k`` for a
branch outage (its multi-branch form for a three-winding transformer's legs),
``f_l - P_g (PTDF_l,g - sum_i w_i PTDF_l,i)`` for a generator outage whose output
the response units ``w`` take up. The estimate keeps each branch's pre-outage reactive flow; a pair
is flagged when a monitored branch the outage loads up is estimated within ``margin_percent`` of
its emergency limit and the facility moves it by at least half the attribution threshold.
Voltage: each outage's effect on every monitored bus is measured in AC at a few reference hours of
each screening window (a week by default; lowest, middle and highest load, without the facility); a
pair is flagged when the hour's voltage plus the largest effect seen comes within ``margin_pu`` of
the post-contingency band at a bus the facility moves by half the threshold. Elements past a
post-contingency limit before any outage are the hour's N-0 problem, not the outage's. Outages that
split the grid are always flagged. A flagged pair is solved in AC with and without the facility:
every reported violation is an AC result; the screen only decides which pairs are skipped.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp
import scipy.sparse.linalg as spla

from grid_models.solver.lightsim import BranchAdmittances
from grid_models.solver.network import PreparedNetwork
from grid_models.studies.n1.table import Contingency

__all__ = ["Sensitivities", "VoltageEffects", "sensitivities"]

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]

_ISLANDING = 1e-6  # 1 - PTDF_kk below this: the outage splits the grid


@dataclass(frozen=True)
class Sensitivities:
    """DC sensitivities of the monitored branches to the study area's outages.

    ``effect`` is branches x outages: the change in a branch's flow per MW of the outaged branch's
    flow (LODF) or per MW of the outaged unit's output (a generator outage, with the response
    shared as ``response`` says).
    """

    effect: FloatArray
    outaged_branch: npt.NDArray[np.int64]  # per outage: the branch position, or -1 for a generator
    outaged_gen: npt.NDArray[np.int64]  # per outage: the generator position, or -1 for a branch
    islanding: BoolArray  # per outage
    # outages of several branches (a three-winding transformer): (outage, branch, effect per MW of
    # that branch's flow) for each branch after the first, whose column is in ``effect``
    more_drivers: tuple[tuple[int, int, FloatArray], ...] = ()
    more_out: tuple[tuple[int, int], ...] = ()  # (outage, branch) of every other branch it switches off

    def post_outage_p_mw(self, p_from_mw: FloatArray, gen_p_mw: FloatArray) -> FloatArray:
        """Estimated post-outage active flows (branches x outages) from one solution's flows."""
        driver = np.where(self.outaged_branch >= 0, p_from_mw[np.maximum(self.outaged_branch, 0)], 0.0)
        driver = np.where(self.outaged_gen >= 0, -gen_p_mw[np.maximum(self.outaged_gen, 0)], driver)
        post = p_from_mw[:, None] + self.effect * driver[None, :]
        for column, branch, effect in self.more_drivers:
            post[:, column] += effect * p_from_mw[branch]
        rows = self.outaged_branch >= 0
        post[self.outaged_branch[rows], np.flatnonzero(rows)] = 0.0
        for column, branch in self.more_out:
            post[branch, column] = 0.0
        return np.asarray(post, dtype=np.float64)


def _susceptance_matrix(prepared: PreparedNetwork, admittances: BranchAdmittances) -> tuple[sp.csc_matrix, FloatArray]:
    on = prepared.branch_in_service
    b = np.where(on, -np.imag(admittances.y12), 0.0)
    f, t, n = prepared.branch_from, prepared.branch_to, prepared.n_bus
    rows = np.concatenate([f, t, f, t])
    cols = np.concatenate([f, t, t, f])
    data = np.concatenate([b, b, -b, -b])
    matrix = sp.csc_matrix((data, (rows, cols)), shape=(n, n))
    return matrix, b


def _solver(matrix: sp.csc_matrix, slack: int, dead: BoolArray) -> tuple[object, npt.NDArray[np.int64]]:
    keep = np.flatnonzero(~dead & (np.arange(matrix.shape[0]) != slack))
    reduced = matrix[keep][:, keep].tocsc()
    return spla.splu(reduced), keep


def sensitivities(
    prepared: PreparedNetwork, admittances: BranchAdmittances, contingencies: list[Contingency], response: FloatArray
) -> Sensitivities:
    """The LODF (and generator-outage) columns of the study area's outages."""
    matrix, b = _susceptance_matrix(prepared, admittances)
    dead = ~prepared.net.bus.in_service.to_numpy(dtype=bool)
    factor, keep = _solver(matrix, prepared.slack_bus, dead)
    n_bus, f, t = prepared.n_bus, prepared.branch_from, prepared.branch_to

    def flows(injection: FloatArray) -> FloatArray:
        theta = np.zeros(n_bus)
        theta[keep] = factor.solve(injection[keep])  # type: ignore[attr-defined]
        return np.asarray(b * (theta[f] - theta[t]), dtype=np.float64)

    weights = response / response.sum() if response.sum() > 0 else np.zeros_like(response)
    sink = np.bincount(prepared.gen_bus, weights=weights, minlength=n_bus)  # where the response comes from
    effect = np.zeros((prepared.n_branch, len(contingencies)))
    branch, gen = np.full(len(contingencies), -1), np.full(len(contingencies), -1)
    islanding = np.zeros(len(contingencies), dtype=np.bool_)
    more_drivers: list[tuple[int, int, FloatArray]] = []
    more_out: list[tuple[int, int]] = []
    for column, outage in enumerate(contingencies):
        if outage.kind == "gen":
            gen[column] = outage.position
            injection = np.zeros(n_bus)
            injection[prepared.gen_bus[outage.position]] += 1.0
            effect[:, column] = flows(injection - sink)  # -P of the unit, replaced by the response units
            continue
        branch[column] = outage.position
        more_out.extend((column, leg) for leg in outage.legs)
        drivers = _drivers(outage.branches_out)
        columns = _outage_factors(flows, drivers, n_bus=n_bus, f=f, t=t)
        if columns is None:
            islanding[column] = True
            continue
        effect[:, column] = columns[:, 0]
        more_drivers.extend((column, int(k), columns[:, j]) for j, k in enumerate(drivers[1:], start=1))
    return Sensitivities(effect, branch.astype(np.int64), gen.astype(np.int64), islanding, tuple(more_drivers), tuple(more_out))


def _drivers(out: tuple[int, ...]) -> tuple[int, ...]:
    """The branches whose pre-outage flows drive an outage's effect: all but the last leg of a
    three-winding transformer (with the others open, the last carries no flow into its star bus)."""
    return out if len(out) == 1 else out[:-1]


def _outage_factors(
    flows: Callable[[FloatArray], FloatArray],
    drivers: tuple[int, ...],
    *,
    n_bus: int,
    f: npt.NDArray[np.int64],
    t: npt.NDArray[np.int64],
) -> FloatArray | None:
    """Change of every branch's flow per MW of each driver's pre-outage flow when all drivers open
    together (the LODF of one branch, its multi-branch form ``PTDF_K (I - PTDF_KK)^-1`` for
    several); None when the outage splits the grid."""
    ptdf = np.empty((len(f), len(drivers)))
    for j, k in enumerate(drivers):
        injection = np.zeros(n_bus)
        injection[f[k]], injection[t[k]] = 1.0, -1.0
        ptdf[:, j] = flows(injection)
    inner = np.eye(len(drivers)) - ptdf[list(drivers), :]
    if abs(np.linalg.det(inner)) < _ISLANDING:
        return None
    return np.asarray(ptdf @ np.linalg.inv(inner), dtype=np.float64)


@dataclass(frozen=True)
class VoltageEffects:
    """Per outage and monitored bus, the largest drop and rise of voltage an outage caused at the
    reference hours (pu; buses x outages)."""

    drop_pu: FloatArray
    rise_pu: FloatArray
    unsolved: BoolArray  # per outage: no AC solution at some reference hour (always flagged)
