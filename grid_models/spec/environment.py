"""The environmental parts of a study request: ``analyses.emissions`` (grid supply and water) and
``onsite_generation`` (turbines on the campus). Defaults come from the factor tables; any table
row can be overridden per study with ``factor_overrides``."""

from __future__ import annotations

from datetime import date
from enum import StrEnum
from typing import Annotated, Literal, Self

from pydantic import BaseModel, Field, field_validator, model_validator

from grid_models.facility import LENIENT, PRINTABLE, REQUEST_CONFIG
from grid_models.factors import FactorSet

__all__ = [
    "CoalRank",
    "CoolingKind",
    "EgridSubregion",
    "EmissionsOptions",
    "GasTechnology",
    "NoxControl",
    "OnsiteGeneration",
    "OnsiteUnits",
    "OzoneClass",
]


def known_factors(value: dict[str, float]) -> dict[str, float]:
    """``factor_overrides`` as given, when every key names a row of the factor tables."""
    try:
        FactorSet(value)
    except KeyError as exc:
        raise ValueError(str(exc).strip('"')) from None
    return value


class EgridSubregion(StrEnum):
    """eGRID subregions with rates in the factor table."""

    SRTV = "SRTV"  # SERC Tennessee Valley (Memphis)
    ERCT = "ERCT"  # ERCOT (Texas)
    SRVC = "SRVC"  # SERC Virginia/Carolina
    US = "US"  # U.S. average


class GasTechnology(StrEnum):
    """Which NOx/SO2 rates the grid's gas units get: ACTIVSg marks every gas unit 'gt' or 'un'."""

    COMBINED_CYCLE = "combined_cycle"
    COMBUSTION_TURBINE = "combustion_turbine"


class CoalRank(StrEnum):
    """Coal's CO2 factor: the grid data do not say which coal a unit burns."""

    BITUMINOUS = "bituminous"
    SUBBITUMINOUS = "subbituminous"
    LIGNITE = "lignite"


class CoolingKind(StrEnum):
    """Cooling of the thermal plants serving the load (water consumption factor)."""

    COOLING_TOWER = "cooling_tower"
    ONCE_THROUGH = "once_through"


class EmissionsOptions(BaseModel):
    """Grid-supply emissions and water of each stage."""

    model_config = REQUEST_CONFIG

    egrid_subregion: Annotated[EgridSubregion, LENIENT] | None = Field(
        None, description="for the average and non-baseload comparison rates; default by grid (activsg2000: ERCT), else US"
    )
    load_factor: float = Field(
        1.0,
        gt=0,
        le=1,
        description="annual energy = stage MW x 8,760 h x load factor (gridimpact default 1.0: the stage's demand all year, "
        "an upper bound; not from REFERENCE.md)",
    )
    gas_technology: Annotated[GasTechnology, LENIENT] = Field(
        GasTechnology.COMBINED_CYCLE, description="NOx/SO2 rates of the grid's gas units (the other one is shown as a range)"
    )
    coal_rank: Annotated[CoalRank, LENIENT] = Field(CoalRank.SUBBITUMINOUS, description="CO2 factor of the grid's coal units")
    coal_scrubbed: bool = Field(True, description="SO2 rate of the grid's coal units: scrubbed (FGD) or not")
    dc_opf: bool = Field(True, description="also dispatch the increment with a network-constrained DC optimal power flow")
    cooling: Annotated[CoolingKind, LENIENT] = Field(
        CoolingKind.COOLING_TOWER, description="water consumption factor of the thermal plants"
    )
    wue_l_per_kwh: float | None = Field(
        None, ge=0, le=20, description="on-site water usage effectiveness, L per kWh of IT energy (default: table wue.average)"
    )
    factor_overrides: dict[str, float] = Field(
        default_factory=dict,
        description='override any factor table row: {"technology_rates.gas_cc.nox": 0.01}; see GET /v1/factors',
    )

    @field_validator("factor_overrides")
    @classmethod
    def _known_factors(cls, value: dict[str, float]) -> dict[str, float]:
        return known_factors(value)


class NoxControl(StrEnum):
    """NOx control of an on-site turbine."""

    UNCONTROLLED = "uncontrolled"
    LEAN_PREMIX = "lean_premix"  # dry low-NOx combustors
    SCR = "scr"  # selective catalytic reduction: give nox_ppm


class OzoneClass(StrEnum):
    """Ozone nonattainment classification of the site's area."""

    MARGINAL = "marginal"
    MODERATE = "moderate"
    SERIOUS = "serious"
    SEVERE = "severe"
    EXTREME = "extreme"


class OnsiteUnits(BaseModel):
    """A group of identical on-site gas turbines."""

    model_config = REQUEST_CONFIG

    label: str = Field("", max_length=80, pattern=PRINTABLE)
    kind: Literal["gas_turbine"] = Field(
        "gas_turbine", description="gas turbines only: reciprocating-engine factors (AP-42 3.2) are not in the tables yet"
    )
    model: Literal["smt130"] | None = Field("smt130", description="defaults for MW and heat rate (Solar SMT-130 / Titan 130)")
    count: int = Field(gt=0, le=1000)
    mw_each: float | None = Field(None, gt=0, le=1000, description="ISO rating, MW (default: the model's)")
    heat_rate_hhv_btu_per_kwh: float | None = Field(None, gt=3000, le=30000, description="default: the model's HHV rate")
    heat_rate_lhv_btu_per_kwh: float | None = Field(None, gt=3000, le=30000, description="stated beside the HHV rate")
    nox_control: Annotated[NoxControl, LENIENT] = NoxControl.LEAN_PREMIX
    nox_ppm: float | None = Field(
        None, gt=0, le=500, description="NOx limit or guarantee, ppmvd at 15 % O2 (used instead of the AP-42 factor)"
    )
    hours_limit: float | None = Field(
        None, gt=0, le=8760, description="enforceable operating-hours limit per year; potential to emit uses 8,760 h without one"
    )
    startups_per_year: int = Field(0, ge=0, le=10_000, description="recorded; startup emissions have no factor in the tables")
    from_stage: int = Field(1, ge=1, le=24, description="the units run from this growth stage on")
    commenced: Annotated[date, LENIENT] | None = Field(None, description="construction commenced (NSPS KKKK or KKKKa)")
    temporary: bool = Field(False, description="used less than 24 months (KKKKa temporary subcategory)")

    @model_validator(mode="after")
    def _sizes(self) -> Self:
        if self.model is None and (self.mw_each is None or self.heat_rate_hhv_btu_per_kwh is None):
            raise ValueError("without a model, give mw_each and heat_rate_hhv_btu_per_kwh")
        if self.nox_control is NoxControl.SCR and self.nox_ppm is None:
            raise ValueError("a turbine with SCR needs nox_ppm (its permitted NOx, ppmvd at 15 % O2)")
        return self


class OnsiteGeneration(BaseModel):
    """On-site generation of the campus, screened against Clean Air Act thresholds."""

    model_config = REQUEST_CONFIG

    units: list[OnsiteUnits] = Field(min_length=1, max_length=50)
    ozone_nonattainment: Annotated[OzoneClass, LENIENT] | None = Field(
        None, description="the site's ozone nonattainment class, if any"
    )
    psd_listed_category: bool = Field(False, description="the source is one of the 28 PSD listed categories (100 tpy)")
    factor_overrides: dict[str, float] = Field(default_factory=dict, description="as in analyses.emissions")

    @field_validator("factor_overrides")
    @classmethod
    def _known_factors(cls, value: dict[str, float]) -> dict[str, float]:
        return known_factors(value)
