"""The hourly operating point: which units run and at what output, by a documented economic rule.

Rule (``gencost`` of the case, MATPOWER polynomial costs):

1. Units whose fuel is not dispatchable (``dispatch.dispatchable_fuels``; by default nuclear, hydro,
   wind and solar) run at their case output every hour, capped at Pmax: the cases carry no wind or
   solar profiles, so renewables produce their case output all year (a stated assumption).
2. Each area serves its own load plus its case net export scaled with the system load (the
   transfers the network was built for: a system-wide merit order left 40 % of activsg2000's hours
   of 2016 without an AC solution). In an area, dispatchable units are committed in merit order,
   cheapest average cost at full output first, until their capacity covers the need (load and the
   case's loss ratio); the rest are off (0 MW). If the committed units' minimum outputs exceed the
   need, the most expensive committed units are left off while the others still cover it.
3. Committed units are dispatched by marginal cost (``2 c2 P + c1``) between Pmin and Pmax in 10 MW
   blocks (:func:`grid_models.studies.dispatch.share_change`).
4. The facility's demand is served system-wide by the same marginal-cost order over the room of
   committed units, then by committing the next cheapest units (at least at Pmin; what that
   overshoots is taken back from the most expensive running units).
5. The AC power flow's slack is shared by the committed dispatchable units in proportion to their
   room, so the actual losses (and the loss estimate's error) stay within the units' limits.

What the rule cannot place (need above every unit's Pmax, or must-run output above the load) is
reported per hour as unserved or surplus MW, never dropped. Units the rule leaves off stay
connected at 0 MW as synchronous condensers (their voltage control): the cases model no switched
shunts or SVCs, and with those units disconnected most light-load hours had no AC solution.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from grid_models.solver.network import PreparedNetwork
from grid_models.spec.dispatch import DispatchOptions, DispatchRule
from grid_models.studies.dispatch import share_change

__all__ = ["HourDispatch", "MeritOrder"]

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]
IntArray = npt.NDArray[np.int64]


@dataclass(frozen=True)
class HourDispatch:
    """One hour's set-points: ``gen_p_mw`` per unit, which dispatchable units run, what was left over."""

    gen_p_mw: FloatArray
    committed: BoolArray
    unserved_mw: float
    surplus_mw: float


class MeritOrder:
    """The dispatch rule of a grid (see module doc), evaluated hour by hour.

    ``area_load_mw`` and ``area_export_mw`` are the case's per-area load and net export (generation
    minus load, losses included), in the order of ``areas``.
    """

    def __init__(
        self,
        prepared: PreparedNetwork,
        options: DispatchOptions,
        *,
        loss_ratio: float,
        case_load_mw: float,
        area_export_mw: dict[int, float],
    ) -> None:
        self.prepared, self.loss_ratio, self.case_load_mw = prepared, loss_ratio, case_load_mw
        fuels = np.array([fuel.lower() for fuel in prepared.gen_fuel])
        self.dispatchable = np.isin(fuels, [fuel.lower() for fuel in options.dispatchable_fuels])
        pmax = np.nan_to_num(prepared.gen_pmax_mw, posinf=np.nan)
        self.pmax = np.where(np.isfinite(pmax), pmax, prepared.gen_p_mw)
        self.pmin = np.clip(np.nan_to_num(prepared.gen_pmin_mw), 0.0, self.pmax)
        self.fixed_mw = np.where(self.dispatchable, 0.0, np.minimum(prepared.gen_p_mw, self.pmax))
        cost = np.nan_to_num(prepared.gen_cost)
        with np.errstate(divide="ignore", invalid="ignore"):
            average = (cost[:, 0] * self.pmax**2 + cost[:, 1] * self.pmax + cost[:, 2]) / self.pmax
        average = np.where(self.pmax > 0, average, np.inf)
        units = np.flatnonzero(self.dispatchable & (self.pmax > 0))
        self.order = units[np.lexsort((units, average[units]))]  # ties: by position, so the order is reproducible
        self.gen_area = prepared.bus_area[prepared.gen_bus]
        self.areas = sorted(area_export_mw)
        self.export = area_export_mw

    def hour(self, area_load_mw: dict[int, float], facility_mw: float = 0.0) -> HourDispatch:
        """Set-points for the hour's load by area (MW, without losses) and the facility's demand."""
        gen, committed = self.fixed_mw.copy(), np.zeros(len(self.fixed_mw), dtype=np.bool_)
        scale = sum(area_load_mw.values()) / self.case_load_mw if self.case_load_mw > 0 else 1.0
        unserved = surplus = 0.0
        for area in self.areas:
            in_area = self.gen_area == area
            need = area_load_mw.get(area, 0.0) * (1.0 + self.loss_ratio) + self.export[area] * scale
            short, extra = self._fill(gen, committed, self.order[in_area[self.order]], need - float(self.fixed_mw[in_area].sum()))
            unserved, surplus = unserved + short, surplus + extra
        if facility_mw > 0:
            unserved += self._serve_facility(gen, committed, facility_mw * (1.0 + self.loss_ratio))
        net = unserved - surplus  # an area's shortfall is another's surplus when the system balances
        return HourDispatch(gen, committed, max(net, 0.0), max(-net, 0.0))

    def _fill(self, gen: FloatArray, committed: BoolArray, order: IntArray, need: float) -> tuple[float, float]:
        """Commit and dispatch ``order``'s units for ``need`` MW; returns (unserved, surplus)."""
        if need <= 0 or len(order) == 0:
            return (max(need, 0.0), 0.0) if len(order) == 0 else (0.0, -need)
        count = min(int(np.searchsorted(np.cumsum(self.pmax[order]), need)) + 1, len(order))
        units = order[:count]
        while len(units) > 1 and self.pmin[units].sum() > need and self.pmax[units[:-1]].sum() >= need:
            units = units[:-1]  # the most expensive committed unit's minimum does not fit: leave it off
        committed[units] = True
        gen[units] = self.pmin[units]
        placed = self._share(gen, committed, need - float(self.pmin[units].sum()))
        total = float(self.pmin[units].sum()) + placed
        return max(need - total, 0.0), max(total - need, 0.0)

    def _share(self, gen: FloatArray, eligible: BoolArray, delta_mw: float) -> float:
        """Move the eligible units by ``delta_mw`` in marginal-cost order; returns the MW placed."""
        share = share_change(
            rule=DispatchRule.MERIT_ORDER,
            delta_mw=delta_mw,
            p_mw=gen.copy(),
            pmin_mw=self.pmin,
            pmax_mw=self.pmax,
            eligible=eligible,
            cost=self.prepared.gen_cost,
        )
        gen += share.delta_p_mw
        return float(share.delta_p_mw.sum())

    def _serve_facility(self, gen: FloatArray, committed: BoolArray, need: float) -> float:
        """Serve ``need`` MW system-wide (rule 4); returns what no unit could take."""
        need -= self._share(gen, committed, need)
        for unit in self.order:
            if need <= 1e-9:
                break
            if committed[unit]:
                continue
            committed[unit] = True
            gen[unit] = self.pmin[unit]
            need -= self.pmin[unit]
            need -= self._share(gen, committed, max(need, 0.0)) if need > 0 else 0.0
        if need < -1e-9:  # new units' minimums overshoot: take it back from the most expensive running ones
            need -= self._share(gen, committed, need)
        return max(need, 0.0)

    def slack_weights(self, dispatch: HourDispatch) -> FloatArray:
        """Who takes the AC solve's imbalance (losses, the loss estimate's error): the committed
        dispatchable units, in proportion to their room up (MW; see ``room_weights``)."""
        room = np.where(dispatch.committed, np.maximum(self.pmax - dispatch.gen_p_mw, 0.0), 0.0)
        if room.sum() <= 0:
            room = np.where(dispatch.committed, self.pmax, 0.0)
        if room.sum() <= 0:
            room = np.zeros_like(room)
            room[self.prepared.slack_gen] = 1.0
        return np.asarray(room, dtype=np.float64)
