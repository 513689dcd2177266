"""Uploaded grids: valid files load; every bad file gets issues that say how to fix it."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import numpy as np
import pandapower as pp
import pandapower.networks as pn
import pytest

from grid_models.catalog.registry import catalog_file
from grid_models.catalog.uploads import UploadFormat, detect_format, load_upload
from grid_models.errors import GridValidationError
from grid_models.pipeline import run_study
from grid_models.spec import StudySpec

CASE3 = (Path(__file__).parents[2] / "cases" / "matpower" / "case3.m").read_text()


def _issues(content: bytes, **kwargs: object) -> list[str]:
    with pytest.raises(GridValidationError) as caught:
        load_upload(content, grid_id="u1", **kwargs)  # type: ignore[arg-type]
    assert caught.value.issues, "a rejected upload must list its problems"
    return [f"{i.element}.{i.field}: {i.message}" for i in caught.value.issues]


def _case9_json(mutate=None) -> bytes:  # type: ignore[no-untyped-def]
    net = pn.case9()
    if mutate:
        mutate(net)
    return pp.to_json(net).encode()


def test_pandapower_json_upload_runs_a_study() -> None:
    grid = load_upload(_case9_json(), grid_id="case9", filename="case9.json")
    assert len(grid.net.bus) == 9
    assert len(grid.net.ext_grid) == 1
    spec = StudySpec.model_validate({"grid": {"upload_id": "case9"}, "site": {"bus": 4}, "stages": [{"mw": 20}, {"mw": 60}]})
    result = run_study(spec, grid)
    assert all(stage.converged for stage in result.stages)
    assert result.stages[1].delta_generation_mw == pytest.approx(60 + result.stages[1].delta_losses_mw, abs=0.1)


def test_matpower_upload_matches_catalog() -> None:
    content = catalog_file("activsg200").read_bytes()
    grid = load_upload(content, grid_id="mp200", filename="case_ACTIVSg200.m")
    assert len(grid.net.bus) == 200
    assert grid.source == "upload:matpower"
    assert load_upload(CASE3.encode(), grid_id="c3").net.bus.name.tolist() == ["NORTH 0", "CENTER % not a comment", "SOUTH'S END"]


def test_format_detection() -> None:
    assert detect_format(b"  {", None) is UploadFormat.PANDAPOWER_JSON
    assert detect_format(b"function mpc", "x.m") is UploadFormat.MATPOWER
    assert detect_format(b"{", "grid.m") is UploadFormat.MATPOWER


@pytest.mark.parametrize(
    ("content", "fragment"),
    [
        (b"", "empty"),
        (b"\xff\xfe\x00garbage", "not UTF-8"),
        (b'{"_class": "pandapowerNet", "_object": ', "not valid JSON"),
        (b'{"_module": "os", "_class": "system", "_object": {}}', "not a pandapower network"),
        (b"[1, 2, 3]", "not a pandapower network"),
    ],
)
def test_malformed_files(content: bytes, fragment: str) -> None:
    assert any(fragment in issue for issue in _issues(content, filename="grid.json"))


def test_oversized_file_is_refused() -> None:
    assert any("limit" in issue for issue in _issues(b"{" + b" " * 2000, max_bytes=1000))


def test_named_classes_are_never_instantiated() -> None:
    """pandapower.from_json would import and call these; the upload reader treats them as data."""
    document = json.loads(_case9_json())
    document["_object"]["bus"] = {
        "_module": "builtins",
        "_class": "eval",
        "_object": "__import__('os').system('touch /tmp/pwned')",
    }
    issues = _issues(json.dumps(document).encode())
    assert any("bus._object" in issue for issue in issues)


def test_unsupported_elements_are_named() -> None:
    def add_switch(net: pp.pandapowerNet) -> None:
        pp.create_switch(net, bus=0, element=3, et="b")

    assert any("'switch' elements are not supported" in issue for issue in _issues(_case9_json(add_switch)))


def test_physical_and_reference_problems() -> None:
    def break_net(net: pp.pandapowerNet) -> None:
        net.line.loc[0, ["r_ohm_per_km", "x_ohm_per_km"]] = 0.0
        net.gen.loc[0, "vm_pu"] = 3.0
        pp.create_ext_grid(net, bus=1)

    issues = _issues(_case9_json(break_net))
    assert any("zero impedance" in issue for issue in issues)
    assert any("0.5-1.5 pu" in issue for issue in issues)
    assert any("exactly one reference machine" in issue for issue in issues)


def test_dangling_reference_and_island() -> None:
    def dangle(net: pp.pandapowerNet) -> None:
        net.load.loc[0, "bus"] = 77

    assert any("load.bus" in issue for issue in _issues(_case9_json(dangle)))

    def island(net: pp.pandapowerNet) -> None:
        pp.create_bus(net, vn_kv=345.0, name="lonely")

    assert any("not connected to the reference machine" in issue for issue in _issues(_case9_json(island)))


@pytest.mark.parametrize(
    ("edit", "fragment"),
    [
        (
            lambda t: t.replace("	3	2	0	0	0	0	1	1.01", "	2	2	0	0	0	0	1	1.01"),
            "appear more than once",
        ),
        (lambda t: t.replace("	2	3	0.017", "	2	9	0.017"), "not found in mpc.bus"),
        (lambda t: t.replace("	2	1	90	30", "	2	3	90	30"), "exactly one reference bus"),
        (
            lambda t: t.replace(
                "	2	1	90	30	0	0	1	1	0	230",
                "	2	1	90	30	0	0	1	1	0	-230",
            ),
            "nominal voltage must be > 0",
        ),
    ],
)
def test_bad_matpower_cases(edit, fragment: str) -> None:  # type: ignore[no-untyped-def]
    assert any(fragment in issue for issue in _issues(edit(CASE3).encode(), filename="bad.m"))


def test_pandapower_case14_with_all_null_columns_runs_a_study() -> None:
    """pandapower writes all-null columns (case14's trafo.tap_step_degree, sgen q limits) as JSON
    nulls; they must come back as NaN numbers, not Python objects lightsim2grid cannot read."""
    net = pn.case14()
    pp.create_sgen(net, 4, p_mw=5.0)
    net.sgen["min_q_mvar"], net.sgen["max_q_mvar"] = np.nan, np.nan
    grid = load_upload(pp.to_json(net).encode(), grid_id="case14", filename="case14.json")
    assert grid.net.trafo.tap_step_degree.dtype.kind == "f"
    assert grid.net.sgen.max_q_mvar.dtype.kind == "f"
    assert grid.net.load.name.dtype == object  # names stay text
    spec = StudySpec.model_validate({"grid": {"upload_id": "case14"}, "site": {"bus": 8}, "stages": [{"mw": 10}]})
    result = run_study(spec, grid)
    assert all(stage.converged for stage in result.stages)


def test_an_external_grid_without_active_limits_serves_the_facility() -> None:
    """An ext_grid usually has no max_p_mw: as the only dispatchable source it takes the whole
    demand (and the whole trip in the load-loss event), it is not 'out of headroom'."""
    net = pp.create_empty_network()
    source, sink = pp.create_bus(net, 110), pp.create_bus(net, 110)
    pp.create_ext_grid(net, source)
    pp.create_line_from_parameters(net, source, sink, 10, 0.1, 0.4, 10, 0.5)
    pp.create_load(net, sink, p_mw=5.0)
    grid = load_upload(pp.to_json(net).encode(), grid_id="two-bus", filename="two-bus.json")
    spec = StudySpec.model_validate(
        {"grid": {"upload_id": "two-bus"}, "site": {"bus": 1}, "stages": [{"mw": 10}], "analyses": {"load_loss": {}}}
    )
    result = run_study(spec, grid)
    assert result.stages[0].unserved_mw == 0.0
    assert result.stages[0].delta_generation_mw == pytest.approx(10 + result.stages[0].delta_losses_mw, abs=0.01)
    assert result.load_loss is not None
    assert all(stage.converged for stage in result.load_loss.stages)


def test_an_out_of_service_bus_stays_dead_with_its_branch_and_load() -> None:
    """pandapower's rule: a branch to an out-of-service bus and the load on it are out of service
    too (the bus must not be energised through the branch, nor make the grid unsolvable)."""
    net = pn.case9()
    dead = pp.create_bus(net, vn_kv=345, in_service=False)
    pp.create_line_from_parameters(net, 4, dead, 10, 0.05, 0.5, 10, 1.0)
    pp.create_load(net, dead, p_mw=50.0, q_mvar=10.0)
    reference = copy.deepcopy(net)
    pp.runpp(reference)
    grid = load_upload(pp.to_json(net).encode(), grid_id="case9-dead", filename="case9.json")
    spec = StudySpec.model_validate({"grid": {"upload_id": "case9-dead"}, "site": {"bus": 4}, "stages": [{"mw": 10}]})
    result = run_study(spec, grid)
    base = result.dataset.sel(stage=0)
    assert np.isnan(float(base.vm_pu.sel(bus=dead)))
    assert float(base.p_from_mw.values[-1]) == 0.0 or np.isnan(float(base.p_from_mw.values[-1]))
    generation = float(base.gen_p_mw.sum())
    assert generation == pytest.approx(reference.res_gen.p_mw.sum() + reference.res_ext_grid.p_mw.sum(), abs=0.5)


def test_a_grid_without_any_branch_is_refused_with_a_reason() -> None:
    net = pp.create_empty_network()
    bus = pp.create_bus(net, 110)
    pp.create_ext_grid(net, bus)
    pp.create_load(net, bus, p_mw=5.0)
    with pytest.raises(GridValidationError) as caught:
        load_upload(pp.to_json(net).encode(), grid_id="one-bus", filename="one-bus.json")
    assert any("no in-service line or transformer" in issue.message for issue in caught.value.issues)


@pytest.mark.parametrize(
    ("table", "column", "value"),
    [("load", "scaling", 0.5), ("load", "const_z_p_percent", 30.0), ("gen", "scaling", 0.5), ("shunt", "step", 2)],
)
def test_values_the_engine_would_ignore_are_refused_with_advice(table: str, column: str, value: float) -> None:
    """pandapower models these; lightsim2grid would silently ignore them (shunt.step alone moved
    case9 by 0.05 pu): the upload says what to do instead of answering a different grid."""

    def mutate(net: pp.pandapowerNet) -> None:
        if table == "shunt":
            pp.create_shunt(net, 4, q_mvar=-10.0)
        net[table].loc[net[table].index[0], column] = value

    with pytest.raises(GridValidationError) as caught:
        load_upload(_case9_json(mutate), grid_id="case9-x", filename="case9.json")
    assert any(
        issue.element == table and issue.field == column and "not modelled" in issue.message for issue in caught.value.issues
    )


def test_transformer_ratios_the_engine_would_model_differently_are_refused() -> None:
    def off_nominal(net: pp.pandapowerNet) -> None:
        net.trafo.loc[net.trafo.index[0], "vn_hv_kv"] = net.bus.vn_kv[net.trafo.hv_bus.iloc[0]] * 1.05

    def untyped_tap(net: pp.pandapowerNet) -> None:
        net.trafo.loc[net.trafo.index[0], ["tap_changer_type", "tap_pos", "tap_neutral"]] = [None, 2.0, 0.0]

    for mutate, field in ((off_nominal, "vn_hv_kv"), (untyped_tap, "tap_changer_type")):
        net = pn.case14()
        mutate(net)
        with pytest.raises(GridValidationError) as caught:
            load_upload(pp.to_json(net).encode(), grid_id="case14-x", filename="case14.json")
        assert ("trafo", field) in [(issue.element, issue.field) for issue in caught.value.issues]
    load_upload(pp.to_json(pn.case14()).encode(), grid_id="case14", filename="case14.json")  # nominal ratings pass


def _open_ring_without_switches() -> pp.pandapowerNet:
    """pandapower's 110/20 kV open ring (a transformer with iron losses and magnetising current,
    a 150 degree phase shift); the open switch becomes an out-of-service line (uploads refuse switches)."""
    net = pn.simple_mv_open_ring_net()
    for _, switch in net.switch.iterrows():
        if switch.et == "l" and not switch.closed:
            net.line.loc[switch.element, "in_service"] = False
    net.switch = net.switch.iloc[0:0]
    return net


@pytest.mark.parametrize("last_runpp_model", [None, "pi"])
def test_a_magnetising_transformer_is_solved_as_pandapower_solves_it(last_runpp_model: str | None) -> None:
    net = _open_ring_without_switches()
    if last_runpp_model is not None:  # the uploader's own last run left its options in the file
        pp.runpp(net, trafo_model=last_runpp_model)
    reference = copy.deepcopy(net)
    pp.runpp(reference, tolerance_mva=1e-10)  # pandapower's defaults: T-model transformer
    grid = load_upload(pp.to_json(net).encode(), grid_id="ring", filename="ring.json")
    spec = StudySpec.model_validate(
        {"grid": {"upload_id": "ring"}, "site": {"bus": 6}, "stages": [{"mw": 1}], "solver": {"tolerance_pu": 1e-10}}
    )
    base = run_study(spec, grid).dataset.sel(stage=0)
    assert np.abs(base.vm_pu.values - reference.res_bus.vm_pu.to_numpy()).max() < 1e-7  # was 2.5e-5 off


def test_findings_name_the_uploaders_elements() -> None:
    """case9's lines have no names and its slack is an ext_grid: findings say ``line 6`` (not
    ``line 6 ''``), and the external grid is outaged as ``ext_grid 0``, not as a generator
    index the uploader's gen table does not have."""
    grid = load_upload(_case9_json(), grid_id="case9", filename="case9.json")
    spec = StudySpec.model_validate(
        {
            "grid": {"upload_id": "case9"},
            "site": {"bus": 4},
            "stages": [{"mw": 100}],
            "analyses": {"contingency": {"study_area": {"mode": "whole_grid"}}, "hosting_capacity": {"n1": True}},
        }
    )
    result = run_study(spec, grid)
    labels = result.dataset.contingency.values.tolist()
    assert "ext_grid 0" in labels
    assert "gen 2" not in labels
    assert sorted(result.dataset.gen_label.values.tolist()) == ["ext_grid 0", "gen 0", "gen 1"]
    text = " ".join(f"{finding.what} {finding.where}" for finding in result.findings)
    assert "outage of line" in text
    assert "after the outage of" in text
    assert "''" not in text
    assert "'None'" not in text


def _edited_case9(table: str, edit) -> bytes:  # type: ignore[no-untyped-def]
    """case9 as pandapower JSON with one table's 'split' body edited in place (for files
    pandapower itself would not write)."""
    document = json.loads(pp.to_json(pn.case9()))
    body = json.loads(document["_object"][table]["_object"])
    edit(body)
    document["_object"][table]["_object"] = json.dumps(body)
    return json.dumps(document).encode()


def _set(column: str, value: object, row: int = 0):  # type: ignore[no-untyped-def]
    def edit(body: dict) -> None:  # type: ignore[type-arg]
        body["data"][row][body["columns"].index(column)] = value

    return edit


@pytest.mark.parametrize(
    ("table", "edit", "field"),
    [
        ("line", lambda b: b["columns"].__setitem__(1, "name"), "columns"),  # a column named twice: was a 500
        ("gen", lambda b: b["index"].__setitem__(0, "x"), "index"),  # text index: the study crashed later
        ("line", lambda b: b["index"].__setitem__(1, b["index"][0]), "index"),  # two 'line 0' in the results
        ("load", _set("bus", 10**30), "bus"),  # silently became bus 0
        ("gen", _set("max_p_mw", "lots"), "max_p_mw"),  # was a TypeError, a 500
        ("line", _set("in_service", "abc"), "in_service"),
        ("line", _set("max_i_ka", 0.0), "max_i_ka"),  # loading NaN, silently unmonitored
        ("ext_grid", _set("vm_pu", 0.0), "vm_pu"),  # 'no AC solution, check the grid data' later
        ("ext_grid", _set("max_q_mvar", 1e30), "max_q_mvar"),
    ],
)
def test_values_no_study_can_use_are_refused_at_upload(table: str, edit, field: str) -> None:  # type: ignore[no-untyped-def]
    issues = _issues(_edited_case9(table, edit), filename="case9.json")
    assert any(issue.startswith(f"{table}.{field}:") for issue in issues), issues


def test_a_pandapower_file_with_absurd_net_values_or_nesting_is_refused() -> None:
    document = json.loads(pp.to_json(pn.case9()))
    document["_object"]["f_hz"] = -50
    assert any("f_hz and sn_mva" in issue for issue in _issues(json.dumps(document).encode(), filename="n.json"))
    deep = b"[" * 200_000 + b"]" * 200_000  # was a RecursionError, a 500
    assert any("nested too deeply" in issue for issue in _issues(deep, filename="deep.json"))
    huge = b'{"_class":"pandapowerNet","_object":{"f_hz":' + b"9" * 5000 + b',"sn_mva":1}}'  # was a ValueError, a 500
    assert any("5,000 characters long" in issue for issue in _issues(huge, filename="huge.json"))
    table = json.loads(pp.to_json(pn.case9()))
    table["_object"]["bus"]["_object"] = table["_object"]["bus"]["_object"].replace("345.0", "3" * 5000, 1)
    assert any(issue.startswith("bus._object:") for issue in _issues(json.dumps(table).encode(), filename="t.json"))


@pytest.mark.parametrize(
    ("old", "new", "field"),
    [
        ("\t1\t0\t0\t300\t-300\t1.02\t100\t1\t250\t10;\n\t3\t80\t0\t300\t-300\t1.01\t100\t1\t270\t10;\n", "", "count"),
        ("\t2\t1\t90\t30", "\t2\t1.5\t90\t30", "BUS_TYPE"),
        ("\t100\t1\t250\t10;", "\t100\t1\t1e20\t10;", "PMAX"),  # overflowed the merit-order blocks
        ("\t0\t0\t1\t-360\t360;", "\t0\t0\t1.5\t-360\t360;", "BR_STATUS"),
        ("\t250\t250\t250\t0", "\t1e-320\t250\t250\t0", "RATE_A"),  # infinite loadings, an unrenderable report
    ],
)
def test_bad_matpower_values_are_refused_at_upload(old: str, new: str, field: str) -> None:
    assert old in CASE3, "the edit must apply"
    issues = _issues(CASE3.replace(old, new, 1).encode(), filename="case3.m")
    assert any(field in issue for issue in issues), issues
