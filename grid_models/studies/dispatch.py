"""Which generators pick up the facility's demand.

Two documented rules, both limited to in-service units whose fuel is dispatchable (default: coal,
natural gas and oil; nuclear, wind, solar and hydro keep their schedule) and to each unit's
``[Pmin, Pmax]``:

- ``participation``: each unit takes a share proportional to its headroom (``Pmax - P`` for an
  increase, ``P - Pmin`` for a decrease). Units reach their limit together, so no unit is pushed
  past Pmax while the group has headroom. Eligible units without the limit in question (an
  uploaded net's external grid has no ``max_p_mw``) take the whole change: the limit of sharing
  by headroom when theirs is unbounded.
- ``merit_order``: the cheapest energy first, by marginal cost ``2 c2 P + c1`` from ``gencost``,
  filled in blocks of at most 10 MW so quadratic costs are followed closely.

The change in network losses is shared by the same rule (the stage solve iterates until the
slack unit is back on its schedule). What cannot be placed (all eligible units at a limit) is
reported as ``unserved_mw``: the slack unit then carries it and a finding says so.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from grid_models.spec.dispatch import DispatchRule

__all__ = [
    "ROOM_TOLERANCE_MW",
    "DispatchShare",
    "room_weights",
    "share_change",
    "usable_room",
]

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]

_BLOCK_MW = 10.0


@dataclass(frozen=True)
class DispatchShare:
    """A change in generation, per unit."""

    delta_p_mw: FloatArray
    unserved_mw: float


# Room below this is none: filling merit-order blocks leaves rounding residue (~1e-13 MW) that,
# used as slack weights, makes lightsim2grid's distributed slack overflow
ROOM_TOLERANCE_MW = 1e-6


def usable_room(room_mw: FloatArray) -> FloatArray:
    """Room in MW with NaN and anything below ``ROOM_TOLERANCE_MW`` as zero (infinite room stays)."""
    room = np.nan_to_num(np.asarray(room_mw, dtype=np.float64), nan=0.0, posinf=np.inf)
    return np.where(room > ROOM_TOLERANCE_MW, room, 0.0)


def room_weights(room_mw: FloatArray, *, fallback: int) -> FloatArray:
    """Slack weights in proportion to each unit's room (0 for units not taking part): units with
    unbounded room (an uploaded net's external grid) take it all in equal shares, the limit of
    sharing by room; unit ``fallback`` alone when no unit has room. Not normalised: with weights
    summing to 1 the solved results depended, by 1e-14, on which slack units the grid model held
    before (a forked run and a one-process run differed); weights in MW do not show it."""
    room = usable_room(room_mw)
    unlimited = np.isposinf(room)
    if unlimited.any():
        room = np.asarray(unlimited, dtype=np.float64)
    if room.sum() <= 0:
        room = np.zeros_like(room)
        room[fallback] = 1.0
    return room


def _participation(delta_mw: float, room: FloatArray) -> DispatchShare:
    total = float(room.sum())
    if total <= 0.0:
        return DispatchShare(np.zeros_like(room), abs(delta_mw))
    placed = min(abs(delta_mw), total)
    return DispatchShare(np.asarray(np.sign(delta_mw) * room * (placed / total), dtype=np.float64), abs(delta_mw) - placed)


def _merit_order(delta_mw: float, room: FloatArray, p_mw: FloatArray, cost: FloatArray) -> DispatchShare:
    """Fill blocks cheapest-first (increase) or drop the most expensive first (decrease)."""
    direction = 1.0 if delta_mw > 0 else -1.0
    units = np.flatnonzero(room > 0)
    n_blocks = np.ceil(room[units] / _BLOCK_MW).astype(np.int64)
    block_unit = np.repeat(units, n_blocks)
    first_block = np.repeat(np.cumsum(n_blocks) - n_blocks, n_blocks)
    position = np.arange(len(block_unit)) - first_block
    size = room[block_unit] / np.repeat(n_blocks, n_blocks)
    middle = p_mw[block_unit] + direction * (position + 0.5) * size
    price = 2 * np.nan_to_num(cost[block_unit, 0]) * middle + np.nan_to_num(cost[block_unit, 1])
    order = np.lexsort((block_unit, direction * price))
    before = np.cumsum(size[order]) - size[order]
    take = np.clip(abs(delta_mw) - before, 0.0, size[order])
    delta = np.bincount(block_unit[order], weights=take, minlength=len(room))
    return DispatchShare(np.asarray(direction * delta, dtype=np.float64), max(abs(delta_mw) - float(take.sum()), 0.0))


def share_change(
    *,
    rule: DispatchRule,
    delta_mw: float,
    p_mw: FloatArray,
    pmin_mw: FloatArray,
    pmax_mw: FloatArray,
    eligible: BoolArray,
    cost: FloatArray,
) -> DispatchShare:
    """Share a change in generation ``delta_mw`` (positive: more) among eligible units.

    Parameters:
        rule: participation or merit order (see module doc).
        delta_mw: MW to add (negative: to remove).
        p_mw, pmin_mw, pmax_mw: current set-points and limits per unit.
        eligible: units allowed to move.
        cost: per unit ``(c2, c1, c0)`` polynomial cost ($/MW^2h, $/MWh, $/h); NaN when unknown.

    Returns:
        Per-unit change and the MW that could not be placed.
    """
    if delta_mw == 0.0:
        return DispatchShare(np.zeros_like(p_mw), 0.0)
    headroom = np.clip((pmax_mw - p_mw) if delta_mw > 0 else (p_mw - pmin_mw), 0.0, None)
    unlimited = eligible & np.isposinf(headroom)  # e.g. an uploaded net's external grid
    if rule is DispatchRule.PARTICIPATION and unlimited.any():  # sharing by headroom, in the limit
        return DispatchShare(np.asarray(unlimited * (delta_mw / unlimited.sum()), dtype=np.float64), 0.0)
    room = np.where(unlimited, abs(delta_mw), np.where(eligible & np.isfinite(headroom), headroom, 0.0))
    if rule is DispatchRule.MERIT_ORDER:
        return _merit_order(delta_mw, room, p_mw, cost)
    return _participation(delta_mw, room)
