"""Unusual but legitimate study specs (found by probing the engine): each gets a clear error or
an honest result, never a crash."""

from __future__ import annotations

from collections.abc import Callable

import pandapower as pp
import pandapower.networks as pn
import pytest
from pydantic import ValidationError

from grid_models.catalog.uploads import load_upload
from grid_models.errors import StudySpecError
from grid_models.grid import Grid
from grid_models.pipeline import run_study
from grid_models.report import render_report
from grid_models.results import Severity, StudyResult
from grid_models.spec import StudySpec


def _spec(**fields: object) -> StudySpec:
    base: dict[str, object] = {"grid": {"catalog": "activsg200"}, "site": {"bus_name": "CLINTON 1 0"}, "stages": [{"mw": 100}]}
    return StudySpec.model_validate(base | fields)


def test_a_voltage_floor_above_every_bus_is_refused_with_the_grids_highest(catalog_grid: Callable[[str], Grid]) -> None:
    spec = _spec(criteria={"monitored_min_kv": 500}, analyses={"load_loss": {}})
    with pytest.raises(StudySpecError, match=r"leaves no bus monitored.*230 kV"):
        run_study(spec, catalog_grid("activsg200"))


@pytest.mark.parametrize(
    "fields",
    [
        {"site": {"bus": 49}, "analyses": {"emissions": {}}},  # no stage has a solution
        {"solver": {"max_iterations": 1}, "onsite_generation": {"units": [{"count": 2}]}},  # nor the base case
    ],
)
def test_the_report_renders_when_nothing_solves(fields: dict[str, object], catalog_grid: Callable[[str], Grid]) -> None:
    result = run_study(_spec(**fields), catalog_grid("activsg200"))
    assert not (result.base_case.converged and all(stage.converged for stage in result.stages))
    assert "<html" in render_report(result)


def _hosting_texts(result: StudyResult) -> list[str]:
    return [finding.what for finding in result.findings if finding.category == "hosting_capacity"]


def test_a_nose_beyond_the_search_is_not_reported_as_one(catalog_grid: Callable[[str], Grid]) -> None:
    hosting = {"max_mw": 1000, "resolution_mw": 10}
    spec = _spec(stages=[{"mw": 100}, {"mw": 5000}], analyses={"hosting_capacity": hosting})
    result = run_study(spec, catalog_grid("activsg200"))
    assert result.stages[1].converged  # 5,000 MW solves: no collapse within 1,000 MW
    collapse = next(limit for limit in result.hosting_capacity.limits if limit.criterion.value == "voltage_collapse")
    assert not collapse.found_limit
    assert collapse.binding_kind is None
    assert "voltage collapse above 1,000 MW" in _hosting_texts(result)[0]
    assert "(nose)" not in _hosting_texts(result)[0]
    quiet = run_study(_spec(analyses={"hosting_capacity": hosting | {"collapse": False}}), catalog_grid("activsg200"))
    assert all(limit.criterion.value != "voltage_collapse" for limit in quiet.hosting_capacity.limits)


def test_an_n1_limit_bound_by_an_unsolvable_outage_says_so() -> None:
    """A site fed by two long 110 kV lines (ratings far above any flow): without one of them the
    other carries half the power a voltage collapse allows, so the N-1 limit is the outage with no
    AC solution, at half the N-0 one (hand check: the nose of one line is half that of two)."""
    net = pp.create_empty_network(sn_mva=100)
    source, site, town = (pp.create_bus(net, 110, name=name) for name in ("SOURCE", "SITE", "TOWN"))
    pp.create_ext_grid(net, source, vm_pu=1.0)
    for start, end, km in ((source, site, 80), (source, site, 80), (source, town, 20)):
        pp.create_line_from_parameters(net, start, end, km, r_ohm_per_km=0.05, x_ohm_per_km=0.4, c_nf_per_km=9, max_i_ka=5.0)
    pp.create_load(net, town, 20, 5)
    grid = load_upload(pp.to_json(net).encode(), grid_id="weak", filename="weak.json")
    low = {"vm_min_pu": 0.51, "post_contingency_vm_min_pu": 0.51}  # no voltage limit binds first
    spec = StudySpec.model_validate(
        {
            "grid": {"upload_id": "weak"},
            "site": {"bus_name": "SITE"},
            "stages": [{"mw": 10}],
            "criteria": low,
            "analyses": {"hosting_capacity": {"max_mw": 600, "resolution_mw": 5}},
        }
    )
    result = run_study(spec, grid)
    n0, n1 = (next(limit for limit in result.hosting_capacity.limits if limit.criterion.value == name) for name in ("n0", "n1"))
    assert n1.binding_kind == "no_solution"
    assert n1.binding_outage in ("line 0", "line 1")
    assert n1.max_mw == pytest.approx(n0.max_mw / 2, rel=0.05)  # type: ignore[operator]
    assert f"(no AC solution after the outage of {n1.binding_outage})" in _hosting_texts(result)[0]


def test_an_outage_that_cuts_the_site_off_does_not_bind_the_n1_limit(catalog_grid: Callable[[str], Grid]) -> None:
    """Bus 189 hangs on transformer 63 alone: its outage disconnects the campus (a load loss, not a
    grid without solution; it used to read "no AC solution after the outage of trafo 63")."""
    spec = _spec(site={"bus": 189}, analyses={"hosting_capacity": {"max_mw": 1500, "resolution_mw": 5}})
    result = run_study(spec, catalog_grid("activsg200"))
    n1 = next(limit for limit in result.hosting_capacity.limits if limit.criterion.value == "n1")
    assert n1.binding_outage != "trafo 63"
    assert n1.binding_kind == "thermal"


def test_a_limit_that_fails_at_the_first_step_is_reported_as_exceeded() -> None:
    grid = load_upload(pp.to_json(pn.case30()).encode(), grid_id="case30", filename="case30.json")
    spec = StudySpec.model_validate(
        {
            "grid": {"upload_id": "case30"},
            "site": {"bus": 7},
            "stages": [{"mw": 10}, {"mw": 60}],
            "dispatch": {"rule": "merit_order"},
            "analyses": {"hosting_capacity": {"max_mw": 100}},
        }
    )
    result = run_study(spec, grid)
    n0 = next(limit for limit in result.hosting_capacity.limits if limit.criterion.value == "n0")
    assert n0.max_mw is None  # fails already at the first step
    texts = _hosting_texts(result)
    assert "N-0 under 1 MW" in texts[0]
    assert any("exceeds the N-0 hosting capacity of the POI, under 1 MW, by 60 MW" in text for text in texts)


def test_summaries_name_the_largest_stage_not_the_last(catalog_grid: Callable[[str], Grid]) -> None:
    spec = _spec(stages=[{"mw": 400}, {"mw": 200}, {"mw": 100}], analyses={"contingency": {}})
    result = run_study(spec, catalog_grid("activsg200"))
    summaries = [finding.what for finding in result.findings if finding.stage_index is None]
    assert any(text.startswith("all 3 stages up to 400 MW") for text in summaries)
    assert any(text.startswith("every solved stage up to 400 MW is N-1 secure") for text in summaries)


def test_n1_violations_the_facility_barely_moved_are_warnings_listed_last(catalog_grid: Callable[[str], Grid]) -> None:
    spec = StudySpec.model_validate(
        {
            "grid": {"catalog": "activsg500"},
            "site": {"bus": 7},
            "stages": [{"mw": 300}],
            "dispatch": {"rule": "merit_order"},
            "analyses": {"contingency": {}},
        }
    )
    result = run_study(spec, catalog_grid("activsg500"))
    assert result.contingency is not None
    statuses = [violation.status for violation in result.contingency.stages[1].violations]
    assert "marginal" in statuses
    assert statuses.index("marginal") == sum(s != "marginal" for s in statuses)
    listed = [finding for finding in result.findings if finding.category == "contingency" and "outage of" in finding.what]
    assert all((finding.severity is Severity.WARNING) == finding.what.endswith("[marginal]") for finding in listed)


def test_unserved_demand_is_what_the_slack_carries_whatever_came_before(catalog_grid: Callable[[str], Grid]) -> None:
    """5,000 MW at CLINTON exhausts the dispatchable units; the shortfall reported was the first
    guess of the redispatch (from the previous stage's losses): 3,614-3,859 MW by path."""
    results = [
        run_study(_spec(stages=[{"mw": mw} for mw in path]), catalog_grid("activsg200")) for path in ([5000], [1000, 5000])
    ]
    last = [result.stages[-1] for result in results]
    assert last[0].unserved_mw == pytest.approx(last[1].unserved_mw, abs=0.01)
    placed = sum(f.delta_p_mw for f in last[0].dispatch_by_fuel if f.fuel != "nuclear")  # activsg200's slack unit is nuclear
    assert last[0].unserved_mw == pytest.approx(last[0].delta_generation_mw - placed, abs=0.1)


def test_a_trip_first_drops_what_the_slack_carried_for_the_unserved_demand(catalog_grid: Callable[[str], Grid]) -> None:
    spec = _spec(stages=[{"mw": 1600}, {"mw": 2500}], analyses={"load_loss": {}})
    result = run_study(spec, catalog_grid("activsg200"))
    assert result.load_loss is not None
    for stage, trip in zip(result.stages, result.load_loss.stages, strict=True):
        assert stage.unserved_mw > 0
        assert trip.converged
        added = {f.fuel: f.delta_p_mw for f in stage.dispatch_by_fuel}
        dropped = trip.generation_reduction_by_fuel
        assert -dropped["coal"] <= added["coal"] * 1.01  # not pushed below where the stage found them
        assert -dropped["nuclear"] == pytest.approx(stage.unserved_mw, rel=0.01)


def test_emission_findings_say_what_they_do_not_count(catalog_grid: Callable[[str], Grid]) -> None:
    """An uploaded net's external grid has no emission factor, and demand beyond the dispatchable
    units' room is served by no counted unit: both made '0 t/yr' or a diluted marginal rate read
    as facts."""
    grid = load_upload(pp.to_json(pn.case9()).encode(), grid_id="case9", filename="case9.json")
    upload = StudySpec.model_validate(
        {"grid": {"upload_id": "case9"}, "site": {"bus": 4}, "stages": [{"mw": 50}], "analyses": {"emissions": {}}}
    )
    beyond = _spec(stages=[{"mw": 3000}], analyses={"emissions": {}})
    texts = [
        next(f.what for f in run_study(spec, grid).findings if f.category == "emissions")
        for spec, grid in ((upload, grid), (beyond, catalog_grid("activsg200")))
    ]
    assert "not counted: 51 MW of the added supply come from units without a CO2 factor" in texts[0]
    assert "MW are beyond the dispatchable units' room (unserved demand)" in texts[1]


def test_options_that_would_do_nothing_are_refused(catalog_grid: Callable[[str], Grid]) -> None:
    with pytest.raises(ValidationError, match="nothing to outage"):
        _spec(analyses={"contingency": {"branches": False, "generators": False}})
    nobody = _spec(dispatch={"dispatchable_fuels": ["hydrogen"]})
    with pytest.raises(StudySpecError, match=r"no generator can pick up the demand.*the grid's fuels: coal"):
        run_study(nobody, catalog_grid("activsg200"))


def test_a_sub_megawatt_stage_is_not_called_0_mw(catalog_grid: Callable[[str], Grid]) -> None:
    spec = _spec(stages=[{"mw": 0.5}], analyses={"hosting_capacity": {"max_mw": 0.5, "resolution_mw": 0.1, "n1": False}})
    result = run_study(spec, catalog_grid("activsg200"))
    assert any("(0.5 MW)" in finding.what for finding in result.findings)
    assert any("N-0 above 0.5 MW" in finding.what for finding in result.findings)
    assert not any(" 0 MW" in finding.what for finding in result.findings)


def test_a_poi_cut_off_from_the_network_is_refused() -> None:
    """A plain pandapower net is not validated like an upload: a POI on an energised bus without
    any branch read as 'beyond voltage collapse' or failed the N-1 probe."""
    net = pn.case30()
    island = pp.create_bus(net, vn_kv=135, name="ISO")
    spec = StudySpec.model_validate(
        {"grid": {"upload_id": "x"}, "site": {"bus": island}, "stages": [{"mw": 10}], "analyses": {"contingency": {}}}
    )
    with pytest.raises(StudySpecError, match=f"bus {island} is not connected to the main network"):
        run_study(spec, net)


@pytest.mark.parametrize(
    ("fields", "where"),
    [
        ({"stages": [{"mw": float("nan")}]}, "stages.0.mw"),
        ({"stages": [{"gpus": 1000, "gpu_model": "h100"}], "facility": {"server_kw_per_gpu": {"h100": float("nan")}}}, "h100"),
        ({"stages": [{"gpus": 1000, "gpu_model": "h100"}], "facility": {"server_kw_per_gpu": {"h100": -1}}}, "h100"),
        ({"onsite_generation": {"units": [{"count": 1}], "factor_overrides": {"turbines.ap42.co": float("inf")}}}, "co"),
        ({"dispatch": {"dispatchable_fuels": ["coal"] * 51}}, "dispatchable_fuels"),
        ({"solver": {"tolerance_pu": 1e-300}}, "tolerance_pu"),
        ({"stages": [{"gpus": 20_000_000, "gpu_model": "b300"}]}, "at most 50,000 MW"),  # MW stages were capped, GPU ones not
    ],
)
def test_values_no_study_can_use_are_refused_by_the_spec(fields: dict[str, object], where: str) -> None:
    """JSON bodies may carry NaN and Infinity (Python's parser reads them): a NaN GPU power failed
    the study after it was queued, a NaN emission factor 'succeeded' with 'nan' in the findings."""
    with pytest.raises(ValidationError, match=where):
        _spec(**fields)
