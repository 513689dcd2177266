"""From a grid unit's fuel (MATPOWER ``genfuel``) to its emission and water rates per MWh.

ACTIVSg gives fuel but not technology (its gas units are all 'gt' or 'un'), so the study chooses:
gas units get combined-cycle or combustion-turbine NOx/SO2 rates (``gas_technology``), coal units
a rank (CO2) and scrubbed or not (SO2). Rate (lb/MWh) = factor (lb/MMBtu) x heat rate (MMBtu/MWh),
heat rates being the fleet averages of the fuel. Nuclear, wind, solar and hydro burn nothing: zero
emissions. A pollutant whose factor is missing for a technology is ``None`` (reported, not zero).
"""

from __future__ import annotations

from dataclasses import dataclass

from grid_models.factors import FactorSet
from grid_models.results.environment import Pollutant
from grid_models.spec.environment import EmissionsOptions, GasTechnology

__all__ = ["GRID_POLLUTANTS", "Technology", "rates_lb_per_mwh", "technology", "water_gal_per_mwh"]

GRID_POLLUTANTS = (Pollutant.CO2, Pollutant.NOX, Pollutant.SO2, Pollutant.PM25)
_NO_COMBUSTION = {"nuclear", "wind", "solar", "hydro"}


@dataclass(frozen=True)
class Technology:
    """What a unit is, for its rates."""

    name: str  # gas_cc, gas_ct, coal_scrubbed, coal_unscrubbed, oil_gas_steam, nuclear, wind, solar, hydro, unknown
    heat_rate_key: str | None = None  # heat_rates table
    co2_key: str | None = None  # fuel_co2 table
    rates_key: str | None = None  # technology_rates table prefix
    water_key: str | None = None  # water table suffix (after the cooling kind)

    @property
    def combustion(self) -> bool:
        """Whether the unit burns fuel."""
        return self.heat_rate_key is not None and self.name != "nuclear"


def technology(fuel: str, options: EmissionsOptions) -> Technology:
    """The technology of a unit with this ``genfuel``."""
    fuel = fuel.lower()
    if fuel in ("ng", "gas", "natural_gas"):
        cc = options.gas_technology is GasTechnology.COMBINED_CYCLE
        name = "gas_cc" if cc else "gas_ct"
        return Technology(name, "natural_gas", "natural_gas", name, "gas_cc" if cc else None)
    if fuel == "coal":
        name = "coal_scrubbed" if options.coal_scrubbed else "coal_unscrubbed"
        rank = "lignite" if options.coal_rank.value == "lignite" else f"{options.coal_rank.value}_coal"
        return Technology(name, "coal", rank, name, "coal")
    if fuel in ("dfo", "oil", "rfo"):
        co2 = "residual_oil" if fuel == "rfo" else "distillate_oil"
        return Technology("oil_gas_steam", "petroleum", co2, "oil_gas_steam", None)
    if fuel == "nuclear":
        return Technology("nuclear", "nuclear", water_key="nuclear")
    if fuel in _NO_COMBUSTION:
        return Technology(fuel)
    return Technology("unknown")


def rates_lb_per_mwh(tech: Technology, factors: FactorSet) -> dict[Pollutant, float | None]:
    """Emission rate of each grid pollutant, lb per MWh generated (None: no factor)."""
    if tech.name in _NO_COMBUSTION:
        return dict.fromkeys(GRID_POLLUTANTS, 0.0)
    if not tech.combustion or tech.heat_rate_key is None:
        return dict.fromkeys(GRID_POLLUTANTS, None)
    mmbtu_per_mwh = factors.value("heat_rates", tech.heat_rate_key) / 1000.0
    rates = factors.rows("technology_rates")
    out: dict[Pollutant, float | None] = {
        Pollutant.CO2: factors.value("fuel_co2", tech.co2_key) * mmbtu_per_mwh if tech.co2_key else None
    }
    for pollutant in (Pollutant.NOX, Pollutant.SO2, Pollutant.PM25):
        key = f"{tech.rates_key}.{pollutant.value}"
        out[pollutant] = factors.value("technology_rates", key) * mmbtu_per_mwh if key in rates else None
    return out


def water_gal_per_mwh(tech: Technology, factors: FactorSet, *, cooling: str) -> float | None:
    """Water consumed per MWh generated (None: no factor for the technology)."""
    if tech.water_key is None:
        return None
    return factors.value("water", f"{cooling}.{tech.water_key}")
