"""Typed results of the annual analysis (``StudyResult.annual``): the year hour by hour at the POI."""

from __future__ import annotations

from pydantic import BaseModel, Field

__all__ = [
    "AnnualEmissions",
    "AnnualResult",
    "AnnualStageResult",
    "CurtailmentResult",
    "EnabledHeadroom",
    "FirmSize",
    "ProfileInfo",
    "ScreeningInfo",
    "SweepPoint",
]


class ProfileInfo(BaseModel):
    """The hourly load the year was built from."""

    name: str
    source: str
    columns: str = Field(description="area, zone or system")
    unit: str
    hours: int = Field(description="hours studied")
    first_hour: str
    proxy: bool = Field(description="another grid's shape stands in for this grid's load")
    reactive_load: str
    peak_load_mw: float
    min_load_mw: float


class CurtailmentResult(BaseModel):
    """What a flexible campus of one size gives up to stay N-0 and N-1 secure."""

    size_mw: float
    hours: int
    energy_mwh: float
    share_percent: float = Field(description="curtailed energy as a share of the energy asked for")
    events: int
    longest_event_h: int
    by_month_mwh: list[float] = Field(description="January first")
    by_hour_of_day: list[int] = Field(description="curtailed hours starting at each hour of the day (0-23)")


class AnnualEmissions(BaseModel):
    """What the generation serving the campus emits over the year, hour by hour."""

    co2_short_tons: float
    nox_short_tons: float
    so2_short_tons: float
    co2_metric_t: float
    co2_lb_per_mwh: float = Field(description="added CO2 per MWh the campus consumed")
    energy_mwh: float
    curtailed: bool = Field(description="with the curtailment that keeps the grid secure applied")
    onsite_co2_short_tons: float = 0.0
    onsite_nox_short_tons: float = 0.0
    onsite_run_hours: int = 0


class AnnualStageResult(BaseModel):
    """One stage over the year."""

    stage_index: int
    label: str
    size_mw: float
    energy_mwh: float = Field(description="asked for (shape applied, before curtailment)")
    hours_without_solution: int = Field(description="hours with no AC solution at this size, uncurtailed")
    unsettled_hours: int = Field(
        0,
        description="solved hours at this size whose generators' reactive-limit state did not settle "
        "(it cycled or ran out of passes)",
    )
    n0_violation_hours: int = Field(description="hours with N-0 violations attributable to the campus, uncurtailed")
    n1_violation_hours: int = Field(description="hours with (AC-confirmed) N-1 violations attributable to it, uncurtailed")
    curtailment: CurtailmentResult
    emissions_firm: AnnualEmissions
    emissions_flexible: AnnualEmissions
    snapshot_co2_short_tons: float | None = Field(None, description="the peak snapshot method times 8,760 h, for comparison")
    egrid_nonbaseload_co2_short_tons: float | None = None
    egrid_average_co2e_short_tons: float | None = None
    monthly_co2_short_tons: list[float] = Field(default_factory=list, description="flexible, January first")


class SweepPoint(BaseModel):
    """Curtailment of one flat size (the sweep up to the largest stage)."""

    size_mw: float
    hours: int
    energy_mwh: float
    share_percent: float
    events: int


class EnabledHeadroom(BaseModel):
    """The largest flat size whose curtailment stays within a share of its annual energy."""

    limit_percent: float
    size_mw: float
    bounded: bool = Field(description="False: the search cap itself stays within the limit")
    binding_hour: str | None = Field(None, description="the hour with the smallest headroom among those curtailed")
    binding_element: str | None = None
    binding_outage: str | None = None
    binding_kind: str | None = None


class FirmSize(BaseModel):
    """The largest flat size with no curtailment at all."""

    size_mw: float
    hour: str
    binding_element: str | None = None
    binding_outage: str | None = None
    binding_kind: str | None = None
    exact: bool


class ScreeningInfo(BaseModel):
    """How much of the hourly N-1 and headroom work was screened, estimated or exact."""

    outages: int
    pairs_screened: int = Field(description="(hour, outage) pairs the screen looked at")
    pairs_flagged: int = Field(description="pairs confirmed in AC (with and without the campus)")
    exact_hours: int = Field(description="hours whose headroom was searched in AC")
    estimated_hours: int = Field(description="hours whose headroom is the two-point estimate (well above the cap)")
    search_cap_mw: float
    resolution_mw: float
    margin_percent: float
    margin_pu: float


class AnnualResult(BaseModel):
    """A year hour by hour: N-0 and screened N-1 at every hour, the POI's headroom, the curtailment
    a flexible campus needs, and hourly emissions."""

    profile: ProfileInfo
    hours_without_solution: int = Field(description="hours with no AC solution even without the campus")
    unsettled_hours: int = Field(
        0,
        description="solved hours without the campus whose generators' reactive-limit state did not settle "
        "(it cycled or ran out of passes)",
    )
    unserved_hours: int = Field(description="hours the dispatch rule could not serve in full")
    energy_balance_max_mw: float = Field(description="largest |generation - load - losses| of an hour's AC solution")
    stages: list[AnnualStageResult]
    sweep: list[SweepPoint]
    firm: FirmSize
    enabled: list[EnabledHeadroom]
    screening: ScreeningInfo
    assumptions: list[str]
    hourly_headroom_mw: list[float | None] = Field(
        default_factory=list, description="the POI's N-0 and N-1-secure headroom in every hour from first_hour (0.1 MW)"
    )
    duration_s: float
