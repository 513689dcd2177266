"""The study request: :class:`StudySpec` and its parts (site, stages, dispatch, analyses, criteria,
solver, environment), one pydantic model with a JSON schema."""

from __future__ import annotations

from grid_models.spec.annual import DEFAULT_CURTAILMENT_LIMITS_PERCENT, AnnualOptions, FacilityShape, ProfileSource, ReactiveLoad
from grid_models.spec.dispatch import DEFAULT_DISPATCHABLE_FUELS, DispatchOptions, DispatchRule
from grid_models.spec.environment import (
    CoalRank,
    CoolingKind,
    EgridSubregion,
    EmissionsOptions,
    GasTechnology,
    NoxControl,
    OnsiteGeneration,
    OnsiteUnits,
    OzoneClass,
)
from grid_models.spec.study import (
    AnalysesSpec,
    ContingencyOptions,
    Criteria,
    GridRef,
    HostingCapacityOptions,
    InitialVoltage,
    LoadLossOptions,
    PowerFlowOptions,
    SiteSpec,
    SolverOptions,
    StudyAreaMode,
    StudyAreaOptions,
    StudySpec,
)

__all__ = [
    "DEFAULT_CURTAILMENT_LIMITS_PERCENT",
    "DEFAULT_DISPATCHABLE_FUELS",
    "AnalysesSpec",
    "AnnualOptions",
    "CoalRank",
    "ContingencyOptions",
    "CoolingKind",
    "Criteria",
    "DispatchOptions",
    "DispatchRule",
    "EgridSubregion",
    "EmissionsOptions",
    "FacilityShape",
    "GasTechnology",
    "GridRef",
    "HostingCapacityOptions",
    "InitialVoltage",
    "LoadLossOptions",
    "NoxControl",
    "OnsiteGeneration",
    "OnsiteUnits",
    "OzoneClass",
    "PowerFlowOptions",
    "ProfileSource",
    "ReactiveLoad",
    "SiteSpec",
    "SolverOptions",
    "StudyAreaMode",
    "StudyAreaOptions",
    "StudySpec",
]
