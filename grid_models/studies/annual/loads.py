"""A load profile applied to a grid, hour by hour.

As MATPOWER's ``apply_changes`` does for ``CT_TAREALOAD`` / ``CT_LOAD_ALL_P`` / ``CT_REP``: every
load of an area (or zone) is scaled by one factor so that the area's active load is the profile's
value (per unit values multiply the case's load directly); loads in areas the profile does not name
keep their case values. Reactive load (the scenario files change active power only):

- ``follow_active`` (default): each load keeps its power factor, and the shunt capacitors of an
  area follow its load (they compensate that load: on ACTIVSg2000 the capacitors' 18.8 Gvar match
  the loads' 19.0 Gvar; kept at peak size, a 35 %-loaded night reaches 1.2-1.4 pu);
- ``as_case``: reactive load and shunts as in the case, which is exactly what ``apply_changes``
  does with ``CT_LOAD_ALL_P``.

A system profile scales every load. A profile of another grid (a proxy) is applied as a system
profile in per unit of that grid's own case load.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from grid_models.catalog.profiles import LoadProfile, ProfileColumns, ProfileUnit
from grid_models.errors import StudySpecError
from grid_models.solver.network import PreparedNetwork
from grid_models.spec.annual import ReactiveLoad

__all__ = ["HourlyLoads", "hourly_loads"]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


@dataclass(frozen=True)
class HourlyLoads:
    """Per hour: the grid's loads and shunts under a profile.

    ``load_column`` maps each case load (prepared order) to its profile column (-1: not in the
    profile, kept at its case value); ``factors`` is hours x columns.
    """

    case_p_mw: FloatArray
    case_q_mvar: FloatArray
    load_column: IntArray
    shunt_q_mvar: FloatArray
    shunt_column: IntArray  # per shunt: its bus's profile column (-1: kept)
    factors: FloatArray
    reactive: ReactiveLoad

    @property
    def hours(self) -> int:
        """Hours of the profile."""
        return int(self.factors.shape[0])

    def factor(self, hour: int) -> FloatArray:
        """Each case load's scale factor at ``hour``."""
        column_factor = np.append(self.factors[hour], 1.0)  # column -1 -> 1.0
        return np.asarray(column_factor[self.load_column], dtype=np.float64)

    def at(self, hour: int) -> tuple[FloatArray, FloatArray]:
        """Active and reactive demand of each case load at ``hour``, MW and Mvar."""
        factor = self.factor(hour)
        q = self.case_q_mvar * factor if self.reactive is ReactiveLoad.FOLLOW_ACTIVE else self.case_q_mvar
        return self.case_p_mw * factor, np.asarray(q, dtype=np.float64)

    def shunts_at(self, hour: int) -> FloatArray:
        """Each shunt's reactive power at ``hour`` (pandapower sign: negative = capacitor)."""
        if self.reactive is ReactiveLoad.AS_CASE:
            return self.shunt_q_mvar
        column_factor = np.append(self.factors[hour], 1.0)
        capacitor = self.shunt_q_mvar < 0
        return np.where(capacitor, self.shunt_q_mvar * column_factor[self.shunt_column], self.shunt_q_mvar)

    def system_mw(self) -> FloatArray:
        """The grid's total active load in every hour, MW."""
        by_column = np.bincount(self.load_column + 1, weights=self.case_p_mw, minlength=self.factors.shape[1] + 1)
        return np.asarray(by_column[0] + self.factors @ by_column[1:], dtype=np.float64)


def _bus_groups(prepared: PreparedNetwork, kind: ProfileColumns) -> IntArray:
    """Each bus's area or zone number (0 for every bus of a system profile)."""
    net = prepared.net
    if kind is ProfileColumns.SYSTEM:
        return np.zeros(prepared.n_bus, dtype=np.int64)
    column = "area" if kind is ProfileColumns.AREA else "zone"
    if column not in net.bus.columns:
        raise StudySpecError(f"the grid's buses carry no {column} numbers; upload a system profile (one 'system' column)")
    return np.asarray(net.bus[column].to_numpy(dtype=np.float64, na_value=-1), dtype=np.int64)


def _columns_of(groups: IntArray, profile_columns: tuple[int, ...]) -> IntArray:
    lookup = {number: position for position, number in enumerate(profile_columns)}
    return np.array([lookup.get(int(group), -1) for group in groups], dtype=np.int64)


def hourly_loads(profile: LoadProfile, prepared: PreparedNetwork, *, reactive: ReactiveLoad) -> HourlyLoads:
    """The profile applied to ``prepared``'s loads (see module doc).

    Raises:
        StudySpecError: the profile names areas or zones the grid has no load in.
    """
    net, count = prepared.net, prepared.facility_load  # the case's own loads come first
    load = net.load.iloc[:count]
    on = load.in_service.to_numpy(dtype=bool)
    case_p = np.where(on, load.p_mw.to_numpy(dtype=np.float64), 0.0)
    case_q = np.where(on, load.q_mvar.to_numpy(dtype=np.float64), 0.0)
    groups = _bus_groups(prepared, profile.columns_kind)
    load_column = _columns_of(groups[load.bus.to_numpy()], profile.columns)
    case_by_column = np.bincount(load_column[load_column >= 0], weights=case_p[load_column >= 0], minlength=len(profile.columns))
    empty = [profile.columns[c] for c in np.flatnonzero(case_by_column <= 0)]
    if empty:
        listed = ", ".join(str(number) for number in empty[:20])
        raise StudySpecError(
            f"the profile's {profile.columns_kind.value} column(s) {listed} hold no load of this grid; "
            f"name the grid's {profile.columns_kind.value}s (or send one 'system' column)"
        )
    factors = profile.values if profile.unit is ProfileUnit.PU else profile.values / case_by_column
    shunt = net.shunt[net.shunt.in_service.astype(bool)] if len(net.shunt) else net.shunt
    return HourlyLoads(
        case_p_mw=case_p,
        case_q_mvar=case_q,
        load_column=load_column,
        shunt_q_mvar=net.shunt.q_mvar.to_numpy(dtype=np.float64),
        shunt_column=_columns_of(groups[net.shunt.bus.to_numpy()], profile.columns) if len(shunt) else np.zeros(0, np.int64),
        factors=np.ascontiguousarray(factors),
        reactive=reactive,
    )
