"""Wording shared by every analysis's findings, the CLI and the report: megawatts, stages,
named elements and the point of interconnection."""

from __future__ import annotations

from grid_models.factors import METRIC_TONNES_PER_SHORT_TON
from grid_models.results.study import PoiInfo

__all__ = ["co2_text", "mw_text", "named", "poi_bus", "poi_text", "short_tons_text", "stage_title"]


def mw_text(p_mw: float) -> str:
    """A demand as findings write it: ``1,200 MW``, and small non-integer ones as ``0.5 MW`` (not ``0 MW``)."""
    amount = f"{p_mw:,.0f}" if abs(p_mw) >= 10 or p_mw == round(p_mw) else f"{p_mw:.3g}"
    return f"{amount} MW"


def stage_title(label: str, p_mw: float) -> str:
    """How findings, reports and progress name a stage: ``Phase 2 (600 MW)``, ``Pilot (0.5 MW)``."""
    return f"{label} ({mw_text(p_mw)})"


def named(label: str, name: str | None) -> str:
    """An element as findings name it: ``line 12 'ELM ST - OAK 138'``, or ``line 12`` when the grid
    gives it no name."""
    return f"{label} '{name}'" if name else label


def poi_bus(poi: PoiInfo) -> str:
    """The POI bus as findings name it: ``bus 4 'MEMPHIS 9 1'``."""
    return named(f"bus {poi.bus_id}", poi.bus_name)


def poi_text(poi: PoiInfo) -> str:
    """The POI with its voltage: ``bus 4 'MEMPHIS 9 1' (345 kV)``."""
    return f"{poi_bus(poi)} ({poi.vn_kv:g} kV)"


def short_tons_text(tons: float) -> str:
    """An amount a year in US short tons, named as such: ``1,065 short tons/yr``."""
    return f"{tons:,.0f} short tons/yr"


def co2_text(short_tons: float) -> str:
    """CO2 a year in short tons (air permits) and metric tonnes (greenhouse-gas reports):
    ``7,136,666 short tons/yr (6,474,274 metric t)``."""
    return f"{short_tons_text(short_tons)} ({short_tons * METRIC_TONNES_PER_SHORT_TON:,.0f} metric t)"
