"""Water of a stage: on site from the water usage effectiveness (L per kWh of IT energy), and
upstream from the generation serving the added demand (gal per MWh by technology and cooling)."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from grid_models.factors import LITERS_PER_GALLON, FactorSet
from grid_models.results.environment import WaterStage

__all__ = ["water_stage"]

_HOURS_PER_DAY = 24.0
_DAYS_PER_YEAR = 365.0


def water_stage(
    *,
    facility_mw: float,
    pue: float,
    load_factor: float,
    wue_l_per_kwh: float | None,
    delta_mw: npt.NDArray[np.float64],
    water_gal_per_mwh: list[float | None],
    factors: FactorSet,
    method: str,
) -> WaterStage:
    """On-site water = IT MW (facility MW / PUE) x 1,000 kWh/MWh x 24 h x load factor x WUE; the
    range runs from the best reported WUE to the average. Upstream = sum of dP x gal/MWh x 24 h x
    load factor over the units serving the stage (units without a factor are reported)."""
    it_mw = facility_mw / pue
    wue = wue_l_per_kwh if wue_l_per_kwh is not None else factors.value("water", "wue.average")

    def onsite(rate_l_per_kwh: float) -> float:
        return it_mw * 1000.0 * _HOURS_PER_DAY * load_factor * rate_l_per_kwh / LITERS_PER_GALLON

    low, high = factors.value("water", "wue.best_reported"), factors.value("water", "wue.average")
    upstream, uncovered = 0.0, 0.0
    for g in np.flatnonzero(delta_mw != 0.0):
        rate = water_gal_per_mwh[g]
        if rate is None:
            uncovered += abs(float(delta_mw[g]))
        else:
            upstream += float(delta_mw[g]) * rate * _HOURS_PER_DAY * load_factor
    return WaterStage(
        onsite_gal_per_day=onsite(wue),
        onsite_million_gal_per_year=onsite(wue) * _DAYS_PER_YEAR / 1e6,
        onsite_range_gal_per_day=(onsite(low), onsite(high)),
        upstream_gal_per_day=upstream,
        upstream_million_gal_per_year=upstream * _DAYS_PER_YEAR / 1e6,
        upstream_method=method,
        upstream_uncovered_mw=uncovered,
        it_mw=it_mw,
        wue_l_per_kwh=wue,
    )
