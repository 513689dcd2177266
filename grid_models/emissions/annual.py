"""Hourly emissions of the generation that serves the campus: in every hour, the units' outputs with
the campus minus without it (both solved in AC under the hourly merit order), times each unit's
rates; summed over the year, with and without the curtailment that keeps the grid secure, and
optionally with the curtailed energy served by the on-site turbines.

A curtailed hour's increment is the full-size increment scaled by the share served (the hour's
dispatch is not solved again at the curtailed size). Hours without an AC solution (with or without
the campus) are left out of the totals and counted.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from grid_models.emissions.technology import rates_lb_per_mwh, technology
from grid_models.factors import LB_PER_SHORT_TON, METRIC_TONNES_PER_SHORT_TON, FactorSet
from grid_models.results.annual import AnnualEmissions
from grid_models.results.environment import OnsiteResult, Pollutant
from grid_models.spec.environment import EmissionsOptions
from grid_models.studies.annual.analysis import Year

__all__ = ["StageEmissions", "annual_emissions"]

FloatArray = npt.NDArray[np.float64]
_POLLUTANTS = (Pollutant.CO2, Pollutant.NOX, Pollutant.SO2)


@dataclass(frozen=True)
class StageEmissions:
    """One stage over the year, firm (never curtailed) and flexible (curtailed as the grid needs)."""

    firm: AnnualEmissions
    flexible: AnnualEmissions
    monthly_co2_short_tons: list[float]  # flexible, January first
    hours_left_out: int


def _rates(fuels: list[str], options: EmissionsOptions) -> FloatArray:
    """Units x pollutants, lb per MWh (0 where the tables have no factor)."""
    factors = FactorSet(options.factor_overrides)
    rows = []
    for fuel in fuels:
        rates = rates_lb_per_mwh(technology(fuel, options), factors)
        rows.append([rates.get(p) or 0.0 for p in _POLLUTANTS])
    return np.asarray(rows, dtype=np.float64)


def _totals(
    lb: FloatArray, energy_mwh: float, *, curtailed: bool, onsite: tuple[float, float, int] = (0.0, 0.0, 0)
) -> AnnualEmissions:
    tons = lb / LB_PER_SHORT_TON
    return AnnualEmissions(
        co2_short_tons=float(tons[0]),
        nox_short_tons=float(tons[1]),
        so2_short_tons=float(tons[2]),
        co2_metric_t=float(tons[0] * METRIC_TONNES_PER_SHORT_TON),
        co2_lb_per_mwh=float(lb[0] / energy_mwh) if energy_mwh > 0 else 0.0,
        energy_mwh=energy_mwh,
        curtailed=curtailed,
        onsite_co2_short_tons=onsite[0],
        onsite_nox_short_tons=onsite[1],
        onsite_run_hours=onsite[2],
    )


def _onsite(cut_mw: FloatArray, onsite: OnsiteResult | None) -> tuple[float, float, int]:
    """Curtailed energy served by the on-site units: CO2 and NOx short tons, run hours."""
    if onsite is None or not onsite.groups:
        return 0.0, 0.0, 0
    rates = onsite.groups[0].lb_per_mwh
    energy = float(cut_mw.sum())
    return (
        energy * rates[Pollutant.CO2] / LB_PER_SHORT_TON,
        energy * rates[Pollutant.NOX] / LB_PER_SHORT_TON,
        int((cut_mw > 0).sum()),
    )


def annual_emissions(
    year: Year, fuels: list[str], *, options: EmissionsOptions | None, onsite: OnsiteResult | None, backup: bool
) -> list[StageEmissions]:
    """Per stage: the year's emissions of the generation serving the campus (see module doc)."""
    hours = year.hours
    rates = _rates(fuels, options or EmissionsOptions())
    months = np.array([stamp.month - 1 for stamp in year.timestamps], dtype=np.int64)
    out = []
    for s in range(hours.facility_mw.shape[0]):
        ok = hours.base_converged & hours.stage_converged[s]
        want = hours.facility_mw[s]
        cut = np.maximum(want - np.maximum(np.nan_to_num(hours.headroom_mw, nan=0.0), 0.0), 0.0)
        served = np.where(want > 0, (want - cut) / np.where(want > 0, want, 1.0), 0.0)
        delta = (hours.gen_stage_mw[s].astype(np.float64) - hours.gen_base_mw.astype(np.float64)) * ok[:, None]
        lb_hourly = delta @ rates  # hours x pollutants, lb in each hour at full size
        firm_lb, flexible_lb = lb_hourly.sum(axis=0), (lb_hourly * served[:, None]).sum(axis=0)
        energy = float(want[ok].sum())
        backup_tons = _onsite(cut * ok, onsite) if backup else (0.0, 0.0, 0)
        out.append(
            StageEmissions(
                firm=_totals(firm_lb, energy, curtailed=False),
                flexible=_totals(flexible_lb, float((want - cut)[ok].sum()), curtailed=True, onsite=backup_tons),
                monthly_co2_short_tons=(
                    np.bincount(months, weights=lb_hourly[:, 0] * served, minlength=12) / LB_PER_SHORT_TON
                ).tolist(),
                hours_left_out=int((~ok).sum()),
            )
        )
    return out
