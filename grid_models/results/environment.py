"""Typed results of the environmental analyses (part of ``StudyResult``)."""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, Field, computed_field

from grid_models.factors import METRIC_TONNES_PER_SHORT_TON

__all__ = [
    "DispatchMethod",
    "EnvironmentalResult",
    "GridSupplyResult",
    "GridSupplyStage",
    "MethodEmissions",
    "OnsiteGroupResult",
    "OnsiteResult",
    "OnsiteStageResult",
    "Pollutant",
    "ScreeningCheck",
    "UnitIncrement",
    "WaterStage",
]

DISCLAIMER = "screening, not a permit determination"


class Pollutant(StrEnum):
    """Pollutants reported. Amounts in ``*_tpy`` fields are US short tons (2,000 lb) per year, the
    unit of air permits; CO2 is also given in metric tonnes, the unit of greenhouse-gas reports."""

    NOX = "nox"
    CO = "co"
    VOC = "voc"
    PM = "pm"
    PM10 = "pm10"
    PM25 = "pm25"
    SO2 = "so2"
    FORMALDEHYDE = "formaldehyde"
    HAP_TOTAL = "hap_total"
    CO2 = "co2"
    CO2E = "co2e"


class OnsiteGroupResult(BaseModel):
    """Potential to emit of one group of on-site turbines."""

    label: str
    count: int
    mw_each: float
    heat_rate_hhv_btu_per_kwh: float
    heat_rate_lhv_btu_per_kwh: float | None
    heat_input_mmbtu_per_h_each: float
    hours_per_year: float
    hours_basis: str
    from_stage: int
    nox_lb_per_mmbtu: float
    nox_ppm: float = Field(description="NOx at 15 % O2: the given limit, or the AP-42 factor converted back")
    nox_ppm_given: bool = Field(description="the request gave the NOx concentration (else it is the AP-42 average)")
    nox_basis: str
    pte_tpy: dict[Pollutant, float]
    lb_per_mwh: dict[Pollutant, float]
    nsps_subpart: str
    nsps_nox_limit_ppm: float | None
    nsps_exceeded: bool | None


class ScreeningCheck(BaseModel):
    """One threshold of one rule against the facility's potential to emit."""

    rule: str
    citation: str
    pollutant: Pollutant
    value_tpy: float
    threshold_tpy: float
    triggered: bool


class OnsiteStageResult(BaseModel):
    """The on-site units running at one growth stage, and the thresholds they cross."""

    stage_index: int
    stage: str
    units: int
    total_mw: float
    pte_tpy: dict[Pollutant, float]
    checks: list[ScreeningCheck]

    @computed_field  # type: ignore[prop-decorator]
    @property
    def co2_metric_t_per_year(self) -> float:
        """The potential CO2 in metric tonnes a year (``pte_tpy`` holds short tons)."""
        return self.pte_tpy.get(Pollutant.CO2, 0.0) * METRIC_TONNES_PER_SHORT_TON

    def crossed(self) -> list[str]:
        """The thresholds crossed, one line per rule: ``PSD major source: CO, NOX``."""
        rules: dict[str, list[str]] = {}
        for check in self.checks:
            if check.triggered:
                rules.setdefault(check.rule, []).append(check.pollutant.value.upper())
        return [f"{rule}: {', '.join(pollutants)}" for rule, pollutants in rules.items()]


class OnsiteResult(BaseModel):
    """On-site generation: potential to emit and Clean Air Act applicability screening."""

    groups: list[OnsiteGroupResult]
    stages: list[OnsiteStageResult]
    notes: list[str]
    sources: list[str]
    disclaimer: str = DISCLAIMER


class DispatchMethod(StrEnum):
    """How the increment is assigned to generators."""

    POWER_FLOW = "power_flow"  # the study's own dispatch rule, as solved in the AC power flow
    MERIT_ORDER = "merit_order"
    DC_OPF = "dc_opf"


class UnitIncrement(BaseModel):
    """What one generator adds for a stage."""

    gen_id: int
    name: str
    bus_id: int
    fuel: str
    technology: str
    delta_p_mw: float
    heat_rate_btu_per_kwh: float | None


class MethodEmissions(BaseModel):
    """The added generation of a stage by one method, and what it emits."""

    method: str
    delta_generation_mw: float
    by_fuel_mw: dict[str, float]
    units: list[UnitIncrement] = Field(description="units that move by more than 0.01 MW, largest first")
    added_tpy: dict[Pollutant, float]
    marginal_lb_per_mwh: dict[Pollutant, float] = Field(description="added emissions per MWh the facility consumes")
    uncovered_mw: dict[Pollutant, float] = Field(
        description="added MW whose technology has no factor for the pollutant (counted as zero)"
    )
    congested_branches: list[str] = Field(default_factory=list, description="DC OPF: branches at their limit")
    unserved_mw: float = 0.0

    @computed_field  # type: ignore[prop-decorator]
    @property
    def added_co2_metric_t_per_year(self) -> float:
        """The added CO2 in metric tonnes a year (``added_tpy`` holds short tons)."""
        return self.added_tpy.get(Pollutant.CO2, 0.0) * METRIC_TONNES_PER_SHORT_TON

    def mix_text(self, *, unit: str = " MW", nothing: str = "no unit moved") -> str:
        """The added generation by fuel, e.g. ``gas +120 MW, coal +30 MW`` (fuels under 0.5 MW left out)."""
        moved = [f"{fuel} {mw:+,.0f}{unit}" for fuel, mw in self.by_fuel_mw.items() if abs(mw) >= 0.5]
        return ", ".join(moved) or nothing


class WaterStage(BaseModel):
    """Water of one stage: on site (WUE x IT energy) and upstream (the generation serving it)."""

    onsite_gal_per_day: float
    onsite_million_gal_per_year: float
    onsite_range_gal_per_day: tuple[float, float]
    upstream_gal_per_day: float
    upstream_million_gal_per_year: float
    upstream_method: str
    upstream_uncovered_mw: float = Field(description="added MW whose technology has no water factor (counted as zero)")
    it_mw: float
    wue_l_per_kwh: float


class GridSupplyStage(BaseModel):
    """Grid-supply emissions of one stage by each method, beside the eGRID rates."""

    stage_index: int
    stage: str
    facility_p_mw: float
    delta_losses_mw: float
    energy_mwh_per_year: float
    methods: list[MethodEmissions]
    egrid_average_co2e_tpy: float
    egrid_nonbaseload_co2_tpy: float
    gas_range_nox_tpy: tuple[float, float] = Field(
        description="NOx of the main method with combined-cycle vs combustion-turbine rates"
    )
    water: WaterStage


class GridSupplyResult(BaseModel):
    """Grid-supply emissions and water of every stage."""

    main_method: str = Field(description="the method the findings quote")
    egrid_subregion: str
    egrid_average_lb_per_mwh: float
    egrid_nonbaseload_lb_per_mwh: float
    stages: list[GridSupplyStage]
    assumptions: list[str]
    sources: list[str]


class EnvironmentalResult(BaseModel):
    """Grid-supply emissions, water and on-site generation, with the factor tables used."""

    grid_supply: GridSupplyResult | None = None
    onsite: OnsiteResult | None = None
    tables_version: str
    table_digests: dict[str, str]
