"""Checks of a study spec against the grid's stored index and the tenant's profiles, made before
the 202: whatever the spec and the index can decide is a 422 now, not a failed study later.

What needs the solved grid (the study area's outage count, a same-area dispatch's fuels, an
islanded POI) is still decided by the worker's plan and fails the study with the same message.
"""

from __future__ import annotations

import json

from sqlalchemy.orm import Session

from grid_models.spec import StudySpec
from impact_service.errors import UnprocessableEntity
from impact_service.store import repository as repo
from impact_service.store.models import GridIndex

__all__ = ["SCENARIO_HOURS", "check_dispatch", "check_monitoring", "check_profile"]

# The catalog grids that ship hourly scenarios and their lengths: scenarios_ACTIVSg2000.m covers 2016
# (a leap year, 8,784 hours), scenarios_ACTIVSg200.m 2017 (8,760 hours)
SCENARIO_HOURS = {"activsg2000": 8784, "activsg200": 8760}

_BUS_VN_KV, _BUS_AREA, _BUS_LOAD_MW = 2, 3, 4  # columns of the index's bus table


def check_dispatch(index: GridIndex, spec: StudySpec) -> None:
    """The dispatchable fuels must name at least one of the grid's (the same-area choice is the plan's)."""
    options = spec.dispatch
    if options.same_area_only:
        return
    by_fuel = index.summary.get("generation_by_fuel")
    grid_fuels = sorted({str(row["fuel"]) for row in by_fuel if isinstance(row, dict)}) if isinstance(by_fuel, list) else []
    wanted = {fuel.lower() for fuel in options.dispatchable_fuels}
    if grid_fuels and not wanted & {fuel.lower() for fuel in grid_fuels}:
        raise UnprocessableEntity(
            f"no generator can pick up the demand: dispatch.dispatchable_fuels {sorted(wanted)} matches none of them "
            f"(the grid's fuels: {', '.join(grid_fuels)}); list theirs, e.g. "
            f'"dispatch": {{"dispatchable_fuels": {json.dumps(grid_fuels)}}}',
            code="invalid_request",
        )


def check_monitoring(index: GridIndex, spec: StudySpec) -> None:
    """At least one bus must be at or above ``criteria.monitored_min_kv``."""
    highest = max((_number(row[_BUS_VN_KV]) for row in index.buses), default=0.0)
    if index.buses and spec.criteria.monitored_min_kv > highest:
        raise UnprocessableEntity(
            f"criteria.monitored_min_kv = {spec.criteria.monitored_min_kv:g} kV leaves no bus monitored: the grid's highest "
            f"nominal voltage is {highest:g} kV; lower it (0 monitors every bus)",
            code="invalid_request",
        )


def check_profile(session: Session, index: GridIndex, *, tenant_id: str, spec: StudySpec) -> None:
    """An annual study's profile must exist, cover the hours asked for and name the grid's areas."""
    annual = spec.analyses.annual
    if annual is None:
        return
    source = annual.profile
    hours: int | None = None
    if source.upload_id is not None:
        row = repo.get_profile(session, profile_id=source.upload_id, tenant_id=tenant_id)
        if row is None:
            raise UnprocessableEntity(
                f"no profile {source.upload_id!r} for this tenant; upload it with POST /v1/profiles", code="profile_not_found"
            )
        hours = row.hours
        _check_areas(index, row.summary)
    elif source.proxy is not None:
        if source.proxy not in SCENARIO_HOURS:
            raise UnprocessableEntity(
                f"catalog grid {source.proxy!r} ships no hourly profile to borrow; use one of {', '.join(SCENARIO_HOURS)}",
                code="invalid_request",
            )
        hours = SCENARIO_HOURS[source.proxy]
    elif spec.grid.catalog not in SCENARIO_HOURS:
        raise UnprocessableEntity(
            f"grid {spec.grid.catalog or spec.grid.upload_id!r} ships no hourly load profile: upload one (POST /v1/profiles) "
            "and name it as analyses.annual.profile.upload_id, or borrow a shape with analyses.annual.profile.proxy",
            code="invalid_request",
        )
    else:
        hours = SCENARIO_HOURS[spec.grid.catalog]
    if annual.hours is not None and hours is not None and annual.hours[1] > hours:
        raise UnprocessableEntity(
            f"analyses.annual.hours asks for hours up to {annual.hours[1]:,}; the profile has {hours:,}", code="invalid_request"
        )


def _check_areas(index: GridIndex, summary: dict[str, object]) -> None:
    """An area profile's columns must be areas of the grid that hold load."""
    numbers = summary.get("column_numbers")
    if summary.get("columns") != "area" or not isinstance(numbers, list):
        return
    loaded = {int(_number(row[_BUS_AREA])) for row in index.buses if _number(row[_BUS_LOAD_MW]) > 0}
    missing = [int(_number(n)) for n in numbers if int(_number(n)) not in loaded]
    if missing:
        raise UnprocessableEntity(
            f"the profile's area column(s) {', '.join(str(n) for n in missing[:20])} hold no load of this grid (its areas "
            f"with load: {', '.join(str(a) for a in sorted(loaded)[:40])}); name the grid's areas or send one 'system' column",
            code="invalid_request",
        )


def _number(value: object) -> float:
    """A number of the stored JSON tables (None and text that is not a number read as 0)."""
    try:
        return float(str(value))
    except ValueError:
        return 0.0
