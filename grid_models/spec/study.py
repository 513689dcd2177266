"""The study request: one pydantic model with a JSON schema.

A study = grid model + site (point of interconnection) + growth stages + facility parameters +
dispatch rule + analyses + criteria + solver options; each optional analysis is a section of
:class:`AnalysesSpec` that runs when present.
"""

from __future__ import annotations

import hashlib
from enum import StrEnum
from typing import Annotated, Self

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, model_validator

from grid_models.facility import LENIENT, MAX_STAGE_MW, PRINTABLE, REQUEST_CONFIG, FacilityParameters, StageSpec, stage_load
from grid_models.spec.annual import AnnualOptions
from grid_models.spec.dispatch import DispatchOptions
from grid_models.spec.environment import EmissionsOptions, OnsiteGeneration

__all__ = [
    "AnalysesSpec",
    "ContingencyOptions",
    "Criteria",
    "GridRef",
    "HostingCapacityOptions",
    "InitialVoltage",
    "LoadLossOptions",
    "PowerFlowOptions",
    "SiteSpec",
    "SolverOptions",
    "StudyAreaMode",
    "StudyAreaOptions",
    "StudySpec",
]


class GridRef(BaseModel):
    """Which grid: a catalog id or an uploaded grid's id."""

    model_config = REQUEST_CONFIG

    catalog: str | None = Field(default=None, pattern=r"^[a-z0-9_]{1,40}$", examples=["activsg2000"])
    upload_id: str | None = Field(default=None, pattern=r"^[A-Za-z0-9_-]{1,64}$")

    @model_validator(mode="after")
    def _exactly_one(self) -> Self:
        if (self.catalog is None) == (self.upload_id is None):
            raise ValueError("give the grid as {'catalog': 'activsg2000'} or {'upload_id': '...'}, exactly one")
        return self

    @property
    def key(self) -> str:
        """``catalog:<id>`` or ``upload:<id>``."""
        return f"catalog:{self.catalog}" if self.catalog else f"upload:{self.upload_id}"


class SiteSpec(BaseModel):
    """The point of interconnection: a bus id, or an exact bus name."""

    model_config = REQUEST_CONFIG

    bus: int | None = Field(default=None, ge=0, le=10**9, description="bus id (MATPOWER bus number for catalog grids)")
    bus_name: str | None = Field(default=None, min_length=1, max_length=80, pattern=PRINTABLE, examples=["ABILENE 2 0"])

    @model_validator(mode="after")
    def _exactly_one(self) -> Self:
        if (self.bus is None) == (self.bus_name is None):
            raise ValueError("give the site as {'bus': 1234} or {'bus_name': 'ABILENE 2 0'}, exactly one")
        return self


class Criteria(BaseModel):
    """Planning criteria (REFERENCE.md section 2; every utility may override)."""

    model_config = REQUEST_CONFIG

    normal_loading_max_percent: float = Field(
        100.0, gt=0, le=300, description="N-0 thermal limit, % of normal rating (RATE_A); NERC TPL-001, FAC-008"
    )
    emergency_loading_max_percent: float = Field(
        100.0, gt=0, le=300, description="post-contingency limit, % of emergency rating (RATE_B/C, else RATE_A)"
    )
    normal_rating_set: int | None = Field(
        None,
        ge=1,
        le=12,
        description="which of the grid's rating sets is the normal rating: 1-3 are RATE_A-C of a MATPOWER case, 1-12 "
        "RATE1-RATE12 of a RAW v34/v35 file; default: set 1 (RATE_A); a pandapower grid has one rating only",
    )
    emergency_rating_set: int | None = Field(
        None,
        ge=1,
        le=12,
        description="which rating set is the emergency rating (post-contingency limits); where a branch has none, its "
        "normal rating; default: set 2 (RATE_B), else set 3, else the normal rating, or the normal set when only "
        "normal_rating_set is given",
    )
    vm_min_pu: float = Field(0.95, gt=0.5, lt=1.5, description="N-0 minimum voltage; ATC facility rating criteria")
    vm_max_pu: float = Field(1.05, gt=0.5, lt=1.5, description="N-0 maximum voltage; ATC facility rating criteria")
    post_contingency_vm_min_pu: float = Field(0.90, gt=0.5, lt=1.5, description="post-contingency minimum voltage; ATC criteria")
    post_contingency_vm_max_pu: float = Field(1.10, gt=0.5, lt=1.5, description="post-contingency maximum voltage; ATC criteria")
    monitored_min_kv: float = Field(
        100.0,
        ge=0,
        le=2000,
        description="only buses at or above this nominal voltage are checked; default: NERC TPL-001 applies to the Bulk "
        "Electric System, elements at 100 kV and above (NERC BES definition); 0 checks every bus",
    )
    monitor_generator_terminals: bool = Field(
        False,
        description="also check generator terminal buses (a bus with an in-service generator whose every in-service branch "
        "is its step-up transformer); they sit behind the unit's transformer and are excluded by default",
    )
    worsened_vm_pu: float = Field(
        0.005,
        ge=0,
        le=0.5,
        description="a voltage violation is attributed to the facility (new or worsened) when the facility moves the voltage "
        "at least this much further out of band (gridimpact default, not from a standard; 0 flags any change)",
    )
    worsened_loading_percent: float = Field(
        1.0,
        ge=0,
        le=100,
        description="an overload is attributed to the facility (new or worsened) when the loading rises by at least this many "
        "percentage points "
        "(gridimpact default, not from a standard; 0 flags any change)",
    )

    @model_validator(mode="after")
    def _bands(self) -> Self:
        if self.vm_min_pu >= self.vm_max_pu:
            raise ValueError("criteria.vm_min_pu must be below criteria.vm_max_pu")
        if self.post_contingency_vm_min_pu >= self.post_contingency_vm_max_pu:
            raise ValueError("criteria.post_contingency_vm_min_pu must be below post_contingency_vm_max_pu")
        return self


class InitialVoltage(StrEnum):
    """Starting voltages of the no-facility base case."""

    AUTO = "auto"  # the grid's stored solution when it has one, then DC, then flat
    CASE = "case"
    DC = "dc"
    FLAT = "flat"


class SolverOptions(BaseModel):
    """Numerical options; the defaults are what planning tools use."""

    model_config = REQUEST_CONFIG

    enforce_q_limits: bool = Field(True, description="generators stop regulating voltage at their reactive limits")
    tolerance_pu: float = Field(
        1e-8, ge=1e-12, le=1e-3, description="Newton-Raphson mismatch tolerance, per unit (1e-12 to 1e-3)"
    )
    max_iterations: int = Field(30, ge=1, le=200)
    initial_voltage: Annotated[InitialVoltage, LENIENT] = InitialVoltage.AUTO


class PowerFlowOptions(BaseModel):
    """Staged N-0 AC power flow (always run)."""

    model_config = REQUEST_CONFIG

    top_branches: int = Field(10, ge=0, le=200, description="branches listed per stage by loading increase")


class StudyAreaMode(StrEnum):
    """Which elements the contingency analysis outages."""

    SENSITIVITY = "sensitivity"  # elements whose flow or voltage responds to the POI demand
    WHOLE_GRID = "whole_grid"


class StudyAreaOptions(BaseModel):
    """Automatic study-area selection: a finite-difference probe of the POI demand."""

    model_config = REQUEST_CONFIG

    mode: Annotated[StudyAreaMode, LENIENT] = StudyAreaMode.SENSITIVITY
    flow_sensitivity_min: float = Field(
        0.05,
        gt=0,
        le=1,
        description="a branch is in the study area when its active flow changes by at least this many MW per MW of facility "
        "demand (gridimpact default: the 5 % distribution-factor cut-off common in transmission planning; not from REFERENCE.md)",
    )
    voltage_sensitivity_min_pu_per_100mw: float = Field(
        0.005,
        gt=0,
        le=1,
        description="a bus is in the study area when its voltage moves at least this much per 100 MW (gridimpact default)",
    )
    probe_mw: float = Field(50.0, gt=0, le=2000, description="size of the demand step used to measure the sensitivities, MW")


class ContingencyOptions(BaseModel):
    """N-1 contingency analysis, NERC TPL-001 P1 style: single outages of lines, transformers, generators."""

    model_config = REQUEST_CONFIG

    study_area: StudyAreaOptions = Field(default_factory=StudyAreaOptions)
    branches: bool = Field(True, description="outage each line and transformer of the study area")
    generators: bool = Field(True, description="outage each generator of the study area")
    max_contingencies: int = Field(
        20_000, ge=1, le=200_000, description="refuse larger contingency lists instead of running for hours"
    )
    threads: int = Field(2, ge=1, le=64, description="threads of the batch solver")

    @model_validator(mode="after")
    def _something_to_outage(self) -> Self:
        if not (self.branches or self.generators):
            raise ValueError("branches and generators are both false: nothing to outage; set one true or drop the analysis")
        return self


class HostingCapacityOptions(BaseModel):
    """Largest demand the POI can take before the first N-0 violation, N-1 violation and voltage collapse."""

    model_config = REQUEST_CONFIG

    max_mw: float = Field(5000.0, gt=0, le=50_000, description="upper end of the search")
    resolution_mw: float = Field(1.0, ge=0.1, le=100, description="bisection stops when the bracket is this narrow")
    n1: bool = Field(True, description="also search the N-1-secure limit (runs the study-area contingencies at each step)")
    collapse: bool = Field(True, description="also search the voltage-collapse (nose) point")


class LoadLossOptions(BaseModel):
    """Sudden loss of the whole facility (cf. 10 Jul 2024, Virginia, ~1,500 MW)."""

    model_config = REQUEST_CONFIG


class AnalysesSpec(BaseModel):
    """Which analyses run, with their options (an omitted optional analysis does not run)."""

    model_config = REQUEST_CONFIG

    power_flow: PowerFlowOptions = Field(default_factory=PowerFlowOptions)
    contingency: ContingencyOptions | None = None
    hosting_capacity: HostingCapacityOptions | None = None
    load_loss: LoadLossOptions | None = None
    emissions: EmissionsOptions | None = Field(
        None, description="grid-supply emissions (merit order, DC OPF, eGRID rates) and water of each stage"
    )
    annual: AnnualOptions | None = Field(
        None,
        description="a year hour by hour: N-0 and screened N-1 every hour, the POI's hourly headroom, the curtailment a "
        "flexible campus needs, and hourly emissions",
    )


def _plain(value: object) -> object:
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(item) for item in value]
    if isinstance(value, np.generic):
        return value.item()
    return value


class StudySpec(BaseModel):
    """A complete study request."""

    model_config = ConfigDict(
        **REQUEST_CONFIG,
        json_schema_extra={
            "examples": [
                {
                    "name": "Stargate-like campus, Abilene",
                    "grid": {"catalog": "activsg2000"},
                    "site": {"bus_name": "ABILENE 2 0"},
                    "stages": [{"label": "Phase 1", "mw": 200}, {"label": "Phase 2", "mw": 600}],
                }
            ]
        },
    )

    name: str = Field("", max_length=120, pattern=PRINTABLE)
    description: str = Field("", max_length=2000, pattern=PRINTABLE)
    grid: GridRef
    site: SiteSpec
    stages: list[StageSpec] = Field(min_length=1, max_length=24)
    facility: FacilityParameters = Field(default_factory=FacilityParameters)
    dispatch: DispatchOptions = Field(default_factory=DispatchOptions)
    analyses: AnalysesSpec = Field(default_factory=AnalysesSpec)
    criteria: Criteria = Field(default_factory=Criteria)
    solver: SolverOptions = Field(default_factory=SolverOptions)
    onsite_generation: OnsiteGeneration | None = Field(
        None, description="gas turbines on the campus: potential to emit and Clean Air Act screening per stage"
    )

    @model_validator(mode="before")
    @classmethod
    def _plain_numbers(cls, data: object) -> object:
        """NumPy scalars (``pp.create_bus`` returns an ``int64``) become Python numbers; the fields
        are otherwise strict, so that JSON's true or "100" is never read as a number."""
        return _plain(data)

    @model_validator(mode="after")
    def _gpu_stages_within_the_mw_limit(self) -> Self:
        """A GPU stage may not exceed what a MW stage may (50,000 MW): 20 million GPUs at 20 kW were 2.4 TW."""
        for number, stage in enumerate(self.stages, start=1):
            p_mw = stage_load(stage, self.facility, index=number).p_mw
            if stage.gpus is not None and p_mw > MAX_STAGE_MW:
                raise ValueError(f"stages[{number - 1}] draws {p_mw:,.0f} MW; a stage may draw at most {MAX_STAGE_MW:,.0f} MW")
        return self

    @model_validator(mode="after")
    def _onsite_stages_exist(self) -> Self:
        for number, units in enumerate(self.onsite_generation.units if self.onsite_generation else [], start=1):
            if units.from_stage > len(self.stages):
                raise ValueError(
                    f"onsite_generation.units[{number - 1}] starts at stage {units.from_stage}, but the study has "
                    f"{len(self.stages)} stages; set from_stage between 1 and {len(self.stages)}"
                )
        return self

    def input_hash(self) -> str:
        """SHA-256 of the canonical JSON of the fully-defaulted spec (identical studies, same hash)."""
        return hashlib.sha256(self.model_dump_json(exclude={"name", "description"}).encode()).hexdigest()
