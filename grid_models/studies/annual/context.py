"""Everything the hour blocks of an annual study share, built once from the plan (deterministic:
any process that plans the study builds the same context)."""

from __future__ import annotations

import numpy as np

from grid_models.catalog.profiles import LoadProfile
from grid_models.errors import StudySpecError
from grid_models.facility import StageLoad
from grid_models.solver.lightsim import LightSimBackend
from grid_models.solver.types import SolverSettings
from grid_models.spec.annual import AnnualOptions, FacilityShape
from grid_models.spec.study import ContingencyOptions, StudySpec
from grid_models.studies.annual.block import AnnualContext
from grid_models.studies.annual.dispatch import MeritOrder
from grid_models.studies.annual.loads import hourly_loads
from grid_models.studies.annual.screening import sensitivities
from grid_models.studies.n1.outages import response_weights
from grid_models.studies.n1.table import Contingency
from grid_models.studies.power_flow import DispatchContext, StageSolve

__all__ = ["annual_context", "facility_shape"]

_CAP_FACTOR = 2.0  # the hourly headroom search runs to twice the largest stage


def facility_shape(shape: FacilityShape | None, profile: LoadProfile) -> np.ndarray:
    """The facility's share of each stage's MW in every hour of the profile (1.0 when flat)."""
    if shape is None:
        return np.ones(profile.hours)
    weekly = np.asarray(shape.weekly, dtype=np.float64)
    stamps = profile.timestamps()
    return np.array([weekly[stamp.weekday(), stamp.hour] for stamp in stamps], dtype=np.float64)


def _area_exports(backend: LightSimBackend, base: StageSolve, case_p_mw: np.ndarray) -> dict[int, float]:
    """Each area's case generation minus its case load (losses included), MW."""
    prepared = backend.prepared
    load_area = prepared.bus_area[prepared.net.load.bus.to_numpy()[: prepared.facility_load]]
    gen_area = prepared.bus_area[prepared.gen_bus]
    gen = np.nan_to_num(base.solution.gen_p_mw)
    areas = sorted(set(load_area.tolist()) | set(gen_area.tolist()))
    return {int(a): float(gen[gen_area == a].sum() - case_p_mw[load_area == a].sum()) for a in areas}


def annual_context(
    *,
    spec: StudySpec,
    options: AnnualOptions,
    profile: LoadProfile,
    backend: LightSimBackend,
    settings: SolverSettings,
    base: StageSolve,
    dispatch: DispatchContext,
    poi: int,
    stages: list[StageLoad],
    contingencies: list[Contingency],
) -> AnnualContext:
    """The shared context of an annual study (see :class:`AnnualContext`).

    Raises:
        StudySpecError: the profile does not fit the grid, or asks for hours it does not have.
    """
    prepared = backend.prepared
    loads = hourly_loads(profile, prepared, reactive=options.reactive_load)
    first, last = options.hours if options.hours is not None else (0, profile.hours)
    if last > profile.hours:
        raise StudySpecError(f"annual.hours asks for hours up to {last}, the profile has {profile.hours}")
    case_mw = float(loads.case_p_mw.sum())
    merit = MeritOrder(
        prepared,
        spec.dispatch,
        loss_ratio=0.0,
        case_load_mw=case_mw,
        area_export_mw=_area_exports(backend, base, loads.case_p_mw),
    )
    sens = None
    if options.n1 and contingencies:
        response = response_weights(prepared, base.solution.gen_p_mw, dispatch.eligible)
        sens = sensitivities(prepared, backend.admittances, contingencies, response)
    largest = max((stage.p_mw for stage in stages), default=0.0)
    return AnnualContext(
        prepared=prepared,
        settings=settings,
        criteria=spec.criteria,
        options=options,
        contingency_options=spec.analyses.contingency or ContingencyOptions(),
        loads=loads,
        merit=merit,
        peak=base,
        poi=poi,
        power_factor=spec.facility.power_factor,
        stages=stages,
        shape=facility_shape(options.facility_shape, profile),
        contingencies=contingencies if options.n1 else [],
        eligible=dispatch.eligible,
        sens=sens,
        cap_mw=max(largest * _CAP_FACTOR, options.headroom_resolution_mw),
        first_hour=first,
        last_hour=last,
    )
