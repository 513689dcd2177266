"""On-site turbines: potential to emit per pollutant from AP-42 factors, or from a NOx ppm limit
converted with 40 CFR 60.4400 and the natural-gas F-factor.

Heat input (MMBtu/h) = MW x heat rate HHV (Btu/kWh) / 1,000; tons/year = lb/MMBtu x heat input x
hours / 2,000; hours = 8,760 unless an enforceable limit is given (40 CFR 52.21). A NOx limit in
ppmvd at 15 % O2 becomes lb/MMBtu = ppm x 1.194e-7 lb/dscf-ppm x F (8,710 dscf/MMBtu) x
20.9 / (20.9 - 15). The NSPS band is chosen by each turbine's heat input.
"""

from __future__ import annotations

from grid_models.factors import LB_PER_SHORT_TON, FactorSet
from grid_models.results.environment import OnsiteGroupResult, Pollutant
from grid_models.spec.environment import NoxControl, OnsiteUnits

__all__ = ["HOURS_PER_YEAR", "group_pte", "nox_lb_per_mmbtu_from_ppm", "nox_ppm_from_lb_per_mmbtu", "nsps_limit"]

HOURS_PER_YEAR = 8760.0  # potential to emit: every hour of the year unless an enforceable limit exists (40 CFR 52.21)
_AIR_O2_PERCENT = 20.9  # Method 19 dilution correction: 20.9 / (20.9 - % O2)
_AP42 = {
    Pollutant.CO: "ap42.co",
    Pollutant.VOC: "ap42.voc",
    Pollutant.PM: "ap42.pm",
    Pollutant.PM10: "ap42.pm",  # AP-42 3.1: PM = PM10 = PM2.5
    Pollutant.PM25: "ap42.pm",
    Pollutant.SO2: "ap42.so2",
    Pollutant.FORMALDEHYDE: "ap42.formaldehyde",
    Pollutant.CO2: "ap42.co2",
}


def _ppm_factor(factors: FactorSet) -> float:
    """lb/MMBtu per ppm of NOx at the reference O2."""
    o2 = factors.value("turbines", "ppm.o2_reference_percent")
    per_dscf = factors.value("turbines", "ppm.nox_lb_per_dscf_ppm")
    return per_dscf * factors.value("turbines", "ppm.f_factor_natural_gas") * _AIR_O2_PERCENT / (_AIR_O2_PERCENT - o2)


def nox_lb_per_mmbtu_from_ppm(ppm: float, factors: FactorSet) -> float:
    """NOx emission rate (lb/MMBtu) of a concentration (ppmvd at 15 % O2)."""
    return ppm * _ppm_factor(factors)


def nox_ppm_from_lb_per_mmbtu(rate: float, factors: FactorSet) -> float:
    """The concentration (ppmvd at 15 % O2) of an emission rate (lb/MMBtu)."""
    return rate / _ppm_factor(factors)


def nsps_limit(heat_input_mmbtu_per_h: float, factors: FactorSet) -> float:
    """NSPS KKKK NOx limit (ppm at 15 % O2) of a natural-gas turbine of this heat input."""
    if heat_input_mmbtu_per_h <= factors.value("thresholds", "kkkk.small_max_heat_input"):
        return factors.value("thresholds", "kkkk.small_nox")
    if heat_input_mmbtu_per_h <= factors.value("thresholds", "kkkk.medium_max_heat_input"):
        return factors.value("thresholds", "kkkk.medium_nox")
    return factors.value("thresholds", "kkkk.large_nox")


def _nox(units: OnsiteUnits, factors: FactorSet) -> tuple[float, str]:
    if units.nox_ppm is not None:
        rate = nox_lb_per_mmbtu_from_ppm(units.nox_ppm, factors)
        return (
            rate,
            f"{units.nox_ppm:g} ppm at 15 % O2 -> {rate:.4f} lb/MMBtu ({factors.cite('turbines', 'ppm.nox_lb_per_dscf_ppm')})",
        )
    key = "ap42.nox_uncontrolled" if units.nox_control is NoxControl.UNCONTROLLED else "ap42.nox_lean_premix"
    return factors.value("turbines", key), factors.cite("turbines", key)


def _sizes(units: OnsiteUnits, factors: FactorSet) -> tuple[float, float, float | None]:
    model = units.model
    mw = units.mw_each if units.mw_each is not None else factors.value("turbines", f"{model}.mw_iso")
    hhv = (
        units.heat_rate_hhv_btu_per_kwh
        if units.heat_rate_hhv_btu_per_kwh is not None
        else factors.value("turbines", f"{model}.heat_rate_hhv")
    )
    lhv = units.heat_rate_lhv_btu_per_kwh
    if lhv is None and model is not None and units.heat_rate_hhv_btu_per_kwh is None:
        lhv = factors.value("turbines", f"{model}.heat_rate_lhv")
    return mw, hhv, lhv


def group_pte(units: OnsiteUnits, factors: FactorSet, *, commenced_after_kkkka: bool) -> OnsiteGroupResult:
    """Potential to emit of a group of identical turbines (see module doc)."""
    mw, hhv, lhv = _sizes(units, factors)
    heat_input = mw * hhv / 1000.0  # MW x Btu/kWh = MMBtu/h / 1000
    hours = units.hours_limit if units.hours_limit is not None else HOURS_PER_YEAR
    nox_rate, nox_basis = _nox(units, factors)
    rates = {p: factors.value("turbines", key) for p, key in _AP42.items()}
    rates[Pollutant.NOX] = nox_rate
    rates[Pollutant.HAP_TOTAL] = rates[Pollutant.FORMALDEHYDE]  # the only HAP factor in the tables
    rates[Pollutant.CO2E] = rates[Pollutant.CO2]  # no CH4 or N2O factor in the tables
    tons = {p: rate * heat_input * units.count * hours / LB_PER_SHORT_TON for p, rate in rates.items()}
    nox_ppm = units.nox_ppm if units.nox_ppm is not None else nox_ppm_from_lb_per_mmbtu(nox_rate, factors)
    limit = None if commenced_after_kkkka else nsps_limit(heat_input, factors)
    return OnsiteGroupResult(
        label=units.label or f"{units.count} x {units.model or 'turbine'}",
        count=units.count,
        mw_each=mw,
        heat_rate_hhv_btu_per_kwh=hhv,
        heat_rate_lhv_btu_per_kwh=lhv,
        heat_input_mmbtu_per_h_each=heat_input,
        hours_per_year=hours,
        hours_basis="enforceable limit" if units.hours_limit is not None else "8,760 h (no enforceable limit)",
        from_stage=units.from_stage,
        nox_lb_per_mmbtu=nox_rate,
        nox_ppm=nox_ppm,
        nox_ppm_given=units.nox_ppm is not None,
        nox_basis=nox_basis,
        pte_tpy=tons,
        lb_per_mwh={p: rate * hhv / 1000.0 for p, rate in rates.items()},
        nsps_subpart="KKKKa" if commenced_after_kkkka else "KKKK",
        nsps_nox_limit_ppm=limit,
        nsps_exceeded=None if limit is None else nox_ppm > limit + 1e-9,
    )
