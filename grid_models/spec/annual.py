"""The annual part of a study request: ``analyses.annual``, a year hour by hour.

Where the hourly load comes from (the grid's own scenarios, an uploaded profile, or, only when
named, another grid's profile as a proxy), how reactive load follows, the facility's hourly shape,
the screened N-1, the hourly headroom's resolution and the curtailment limits to report.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Self

from pydantic import BaseModel, Field, model_validator

from grid_models.facility import LENIENT, REQUEST_CONFIG

__all__ = ["DEFAULT_CURTAILMENT_LIMITS_PERCENT", "AnnualOptions", "FacilityShape", "ProfileSource", "ReactiveLoad"]


# Norris et al., "Rethinking Load Growth", Duke Nicholas Institute (Feb 2025): 0.25 / 0.5 / 1 % of the load's
# annual energy (REFERENCE.md section 7); 5 % added for a wider view
DEFAULT_CURTAILMENT_LIMITS_PERCENT = (0.25, 0.5, 1.0, 5.0)


class ReactiveLoad(StrEnum):
    """What the hourly profile does to reactive load (the scenario files scale active power only)."""

    FOLLOW_ACTIVE = "follow_active"  # each load keeps its power factor; shunt capacitors follow their area's load
    AS_CASE = "as_case"  # MATPOWER's apply_changes for CT_LOAD_ALL_P: reactive load and shunts stay as in the case


class ProfileSource(BaseModel):
    """Where the hourly load comes from: the grid's own scenarios (``catalog``: ACTIVSg2000 and
    ACTIVSg200 ship them), a profile the tenant uploaded (``upload_id``), or, as an explicit proxy
    that the result flags with a warning, another catalog grid's system profile (``proxy``)."""

    model_config = REQUEST_CONFIG

    catalog: bool = Field(False, description="the grid's own hourly scenarios (catalog grids that ship them)")
    upload_id: str | None = Field(None, pattern=r"^[A-Za-z0-9_-]{1,64}$", description="an uploaded profile (POST /v1/profiles)")
    proxy: str | None = Field(
        None, pattern=r"^[a-z0-9_]{1,40}$", description="another catalog grid whose system profile shapes this grid's load"
    )

    @model_validator(mode="after")
    def _exactly_one(self) -> Self:
        if sum((self.catalog, self.upload_id is not None, self.proxy is not None)) != 1:
            raise ValueError(
                "give the profile as {'catalog': true} (the grid's own scenarios), {'upload_id': '...'} or "
                "{'proxy': 'activsg2000'}, exactly one"
            )
        return self


class FacilityShape(BaseModel):
    """The facility's hourly demand as a share of each stage's MW: a week of 24 x 7 values
    (Monday first, hour 0-23 of the day) repeated over the year; flat (1.0) when omitted."""

    model_config = REQUEST_CONFIG

    weekly: list[Annotated[list[Annotated[float, Field(ge=0.0, le=1.0)]], Field(min_length=24, max_length=24)]] = Field(
        min_length=7, max_length=7, description="7 days x 24 hours, per unit of the stage's MW"
    )


class AnnualOptions(BaseModel):
    """A year hour by hour: re-dispatch, N-0 with and without the facility, screened N-1, the POI's
    hourly headroom, the curtailment a flexible campus needs, and hourly emissions."""

    model_config = REQUEST_CONFIG

    profile: ProfileSource = Field(default_factory=lambda: ProfileSource(catalog=True))
    reactive_load: Annotated[ReactiveLoad, LENIENT] = ReactiveLoad.FOLLOW_ACTIVE
    facility_shape: FacilityShape | None = None
    n1: bool = Field(True, description="screen every hour's study-area outages and confirm flagged ones in AC")
    screening_margin_percent: float = Field(
        50.0,
        ge=0.0,
        le=500.0,
        description="an (hour, outage) pair is solved in AC when its estimated post-outage loading or voltage, with the "
        "outage's estimated effect widened by this share (plus 2 loading points), reaches a limit",
    )
    screening_margin_pu: float = Field(0.01, ge=0.0, le=0.5, description="the voltage estimate's absolute margin")
    headroom_resolution_mw: float = Field(5.0, ge=0.5, le=100.0, description="exact hourly headroom to this many MW")
    curtailment_limits_percent: list[Annotated[float, Field(gt=0.0, le=50.0)]] = Field(
        default_factory=lambda: list(DEFAULT_CURTAILMENT_LIMITS_PERCENT),
        min_length=1,
        max_length=10,
        description="curtailment-enabled headroom at these shares of the load's annual energy",
    )
    size_sweep_points: int = Field(12, ge=2, le=100, description="facility sizes swept from 0 to the largest stage")
    max_exact_hours: int = Field(
        500,
        ge=0,
        le=8784,
        description="hours whose headroom is searched exactly in AC at most, lowest estimates first (the rest are estimates)",
    )
    window_hours: int = Field(
        168,
        ge=24,
        le=8784,
        description="hours screened and budgeted together, counted from the first studied hour (a week): each window "
        "picks its own screening reference hours and gets its share of max_exact_hours, so a result does not depend on "
        "how the year is cut into parts",
    )
    onsite_backup: bool = Field(False, description="curtailed energy is served by the on-site turbines (needs onsite_generation)")
    hours: Annotated[tuple[int, int], LENIENT] | None = Field(
        None, description="only hours [start, stop) of the profile (0-based), for a quick look; the whole year by default"
    )

    @model_validator(mode="after")
    def _hours(self) -> Self:
        if self.hours is not None and not 0 <= self.hours[0] < self.hours[1] <= 8784:
            raise ValueError("annual.hours must be [start, stop) with 0 <= start < stop <= 8784")
        return self
