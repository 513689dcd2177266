"""Three-winding transformers: a pandapower upload's ``trafo3w`` solves as pandapower's own model
of it (fast path and plain pandapower alike), and its outage is one N-1 contingency whose
post-contingency state is pandapower's own solve with the transformer out of service."""

from __future__ import annotations

import warnings

import numpy as np
import pandapower as pp
import pytest

from grid_models.catalog.uploads import load_upload
from grid_models.errors import GridValidationError
from grid_models.grid import Grid
from grid_models.solver.lightsim import LightSimBackend
from grid_models.solver.network import PreparedNetwork, prepare_network
from grid_models.solver.reference import PandapowerBackend
from grid_models.solver.types import OperatingPoint, SolverSettings
from grid_models.spec import ContingencyOptions, Criteria, DispatchOptions, InitialVoltage
from grid_models.studies.annual.screening import sensitivities
from grid_models.studies.evaluation import monitored_buses
from grid_models.studies.n1.outages import build_contingencies, run_contingencies
from grid_models.studies.power_flow import StageSolve, dispatch_context, solve_base_case
from grid_models.studies.study_area import StudyArea

SETTINGS = SolverSettings()


def _net(*, tie: bool = True) -> pp.pandapowerNet:
    """A 110 kV source feeding two three-winding transformers: T1 a standard type with its tap on
    the hv side, T2 by parameters with a tap on its mv winding, no-load losses and phase shifts;
    with ``tie`` lines join their mv and their lv sides (an outage of either then splits nothing)."""
    net = pp.create_empty_network(sn_mva=100)
    hv, hv2 = pp.create_bus(net, 110, name="HV"), pp.create_bus(net, 110, name="HV2")
    mv1, lv1 = pp.create_bus(net, 20, name="MV1"), pp.create_bus(net, 10, name="LV1")
    mv2, lv2 = pp.create_bus(net, 20, name="MV2"), pp.create_bus(net, 10, name="LV2")
    pp.create_ext_grid(net, hv, vm_pu=1.02)
    pp.create_line(net, hv, hv2, 10, "149-AL1/24-ST1A 110.0")
    pp.create_transformer3w(net, hv2, mv1, lv1, "63/25/38 MVA 110/20/10 kV", tap_pos=2, name="T1")
    pp.create_transformer3w_from_parameters(
        net, hv2, mv2, lv2, vn_hv_kv=110, vn_mv_kv=20, vn_lv_kv=10, sn_hv_mva=60, sn_mv_mva=30, sn_lv_mva=30,
        vk_hv_percent=10, vk_mv_percent=11, vk_lv_percent=9, vkr_hv_percent=0.3, vkr_mv_percent=0.35,
        vkr_lv_percent=0.3, pfe_kw=40, i0_percent=0.1, shift_mv_degree=0, shift_lv_degree=0, tap_side="mv",
        tap_neutral=0, tap_min=-9, tap_max=9, tap_step_percent=1.5, tap_pos=-3, tap_changer_type="Ratio", name="T2",
    )  # fmt: skip
    for bus, p_mw in ((mv1, 30.0), (lv1, 15.0), (mv2, 20.0), (lv2, 10.0)):
        pp.create_load(net, bus, p_mw=p_mw, q_mvar=p_mw / 3)
    if tie:
        pp.create_line(net, mv1, mv2, 5, "NA2XS2Y 1x240 RM/25 12/20 kV")
        pp.create_line(net, lv1, lv2, 2, "NA2XS2Y 1x240 RM/25 6/10 kV")
    return net


def _upload(net: pp.pandapowerNet) -> Grid:
    return load_upload(pp.to_json(net).encode(), grid_id="t3", filename="t3.json")


def _native(net: pp.pandapowerNet) -> pp.pandapowerNet:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        pp.runpp(net, calculate_voltage_angles=True, tolerance_mva=1e-10)
    return net


def _base(prepared: PreparedNetwork) -> tuple[LightSimBackend, StageSolve]:
    backend = LightSimBackend(prepared, SETTINGS)
    return backend, solve_base_case(backend, poi=0, initial=InitialVoltage.AUTO, settings=SETTINGS)


def test_an_upload_solves_as_pandapowers_own_model_of_its_three_winding_transformers() -> None:
    net = _net()
    native = _native(_net())
    grid = _upload(net)
    assert len(grid.net.trafo) == 6
    assert any("three-winding" in note for note in grid.notes)
    original = native.res_bus.index
    converted = _native(grid.net)  # plain pandapower on the converted net
    np.testing.assert_allclose(converted.res_bus.vm_pu.loc[original], native.res_bus.vm_pu, rtol=0, atol=1e-9)
    np.testing.assert_allclose(converted.res_bus.va_degree.loc[original], native.res_bus.va_degree, rtol=0, atol=1e-7)
    prepared = prepare_network(grid.net)
    _, base = _base(prepared)
    positions = [prepared.bus_position(int(b)) for b in original]
    np.testing.assert_allclose(base.solution.vm_pu[positions], native.res_bus.vm_pu, rtol=0, atol=1e-8)  # the fast path
    reference = PandapowerBackend(prepared, SETTINGS).solve(
        OperatingPoint(gen_p_mw=prepared.gen_p_mw.copy()), q_state=base.q_state, v_init=None
    )
    np.testing.assert_allclose(reference.vm_pu[positions], native.res_bus.vm_pu, rtol=0, atol=1e-7)


def test_a_tap_at_the_star_point_and_a_transformer_out_of_service_convert_too() -> None:
    net = _net()
    net.trafo3w.loc[1, "tap_at_star_point"] = True
    native = _native(_net())
    native.trafo3w.loc[1, "tap_at_star_point"] = True
    _native(native)
    converted = _native(_upload(net).net)
    np.testing.assert_allclose(converted.res_bus.vm_pu.loc[native.res_bus.index], native.res_bus.vm_pu, rtol=0, atol=1e-9)
    net.trafo3w.loc[0, "in_service"] = False
    grid = _upload(net)
    assert not grid.net.trafo.in_service[grid.net.trafo.trafo3w == 0].any()


def test_a_three_winding_transformer_is_one_contingency_solved_as_pandapower_solves_it_out() -> None:
    grid = _upload(_net())
    prepared = prepare_network(grid.net)
    backend, base = _base(prepared)
    outages = build_contingencies(prepared, StudyArea.whole_grid(prepared), ContingencyOptions(generators=False))
    three = [c for c in outages if c.kind == "trafo3w"]
    assert [c.label for c in three] == ["trafo3w 0", "trafo3w 1"]
    assert all(len(c.branches_out) == 3 for c in three)
    assert len(outages) == 3 + 2  # the three lines, the two transformers (not their six legs)
    eligible = dispatch_context(prepared, base, DispatchOptions()).eligible
    for batch in (True, False):
        options = ContingencyOptions()
        table = run_contingencies(
            backend, stage=base, contingencies=outages, eligible=eligible, options=options, settings=SETTINGS, batch=batch
        )
        row = table.row("trafo3w 1")
        assert table.converged[row]
        assert np.isnan(table.loading_percent[row, list(three[1].branches_out)]).all()
        assert table.islanded_buses[row] == 0  # the star bus left alone is not a cut-off bus of the grid
        out = _net()
        out.trafo3w.loc[1, "in_service"] = False
        expected = _native(out).res_bus.vm_pu
        positions = [prepared.bus_position(int(b)) for b in expected.index]
        np.testing.assert_allclose(table.vm_pu[row, positions], expected, rtol=0, atol=1e-5)


def test_the_outage_of_a_radial_three_winding_transformer_cuts_off_its_two_buses_only() -> None:
    grid = _upload(_net(tie=False))
    prepared = prepare_network(grid.net)
    backend, base = _base(prepared)
    every = build_contingencies(prepared, StudyArea.whole_grid(prepared), ContingencyOptions())
    outages = [c for c in every if c.kind == "trafo3w"]
    eligible = dispatch_context(prepared, base, DispatchOptions()).eligible
    table = run_contingencies(
        backend, stage=base, contingencies=outages, eligible=eligible, options=ContingencyOptions(), settings=SETTINGS
    )
    row = table.row("trafo3w 1")
    assert table.islanded_buses[row] == 2  # MV2 and LV2, not the star bus
    assert table.islanded_load_mw[row] == pytest.approx(30.0)


def test_star_buses_are_not_monitored() -> None:
    prepared = prepare_network(_upload(_net()).net)
    stars = np.flatnonzero(prepared.bus_is_star)
    assert [prepared.bus_names[s] for s in stars] == ["STAR 0 (T1)", "STAR 1 (T2)"]
    assert not monitored_buses(prepared, Criteria(monitored_min_kv=0)).any(where=prepared.bus_is_star)


def test_the_screening_estimate_of_a_three_winding_outage_is_the_dc_solve_without_it() -> None:
    """The multi-branch LODF, checked against a direct DC solve with the three legs removed."""
    prepared = prepare_network(_upload(_net()).net)
    backend = LightSimBackend(prepared, SETTINGS)
    outages = build_contingencies(prepared, StudyArea.whole_grid(prepared), ContingencyOptions(generators=False))
    response = np.ones(len(prepared.gen_ids))
    sens = sensitivities(prepared, backend.admittances, outages, response)
    b = -np.imag(backend.admittances.y12)
    f, t, n = prepared.branch_from, prepared.branch_to, prepared.n_bus
    injection = np.zeros(n)
    injection[[prepared.bus_position(b) for b in (2, 3, 4, 5)]] = [-30.0, -15.0, -20.0, -10.0]
    injection[prepared.slack_bus] = -injection.sum()

    def dc_flows(on: np.ndarray) -> np.ndarray:
        matrix = np.zeros((n, n))
        for k in np.flatnonzero(on):
            matrix[f[k], f[k]] += b[k]
            matrix[t[k], t[k]] += b[k]
            matrix[f[k], t[k]] -= b[k]
            matrix[t[k], f[k]] -= b[k]
        keep = [i for i in range(n) if i != prepared.slack_bus and matrix[i, i] != 0]
        theta = np.zeros(n)
        theta[keep] = np.linalg.solve(matrix[np.ix_(keep, keep)], injection[keep])
        return np.where(on, b * (theta[f] - theta[t]), 0.0)

    before = dc_flows(prepared.branch_in_service)
    for column, outage in enumerate(outages):
        if outage.kind != "trafo3w":
            continue
        on = prepared.branch_in_service.copy()
        on[list(outage.branches_out)] = False
        estimate = sens.post_outage_p_mw(before, np.zeros(len(prepared.gen_ids)))[:, column]
        np.testing.assert_allclose(estimate, dc_flows(on), rtol=0, atol=1e-9)


def test_bad_three_winding_transformers_are_listed() -> None:
    net = _net()
    net.trafo3w.loc[0, "lv_bus"] = 99
    net.trafo3w.loc[1, "sn_lv_mva"] = float("nan")
    with pytest.raises(GridValidationError) as refused:
        _upload(net)
    found = {(issue.element, issue.field, tuple(issue.ids or ())) for issue in refused.value.issues}
    assert found == {("trafo3w", "lv_bus", (0,)), ("trafo3w", "sn_lv_mva", (1,))}
    net = _net()
    net.trafo3w.loc[1, "vk_mv_percent"] = 0.0
    net.trafo3w.loc[0, "vn_mv_kv"] = 21.0
    net.trafo3w.loc[1, "tap_changer_type"] = None  # pandapower would ignore its tap at -3
    with pytest.raises(GridValidationError) as refused:
        _upload(net)
    fields = {(issue.field, tuple(issue.ids or ())) for issue in refused.value.issues}
    assert fields == {("vk_mv_percent", (1,)), ("vn_mv_kv", (0,)), ("tap_changer_type", (1,))}


def test_the_upload_summary_counts_three_winding_transformers_and_keeps_star_buses_apart() -> None:
    from grid_models.catalog.summary import summarize_grid

    summary = summarize_grid(_upload(_net()))
    assert (summary.buses, summary.star_buses) == (6, 2)
    assert (summary.transformers, summary.three_winding_transformers) == (0, 2)
    assert sorted(level.vn_kv for level in summary.voltage_levels) == [10.0, 20.0, 110.0]


def test_an_outage_that_cuts_the_site_off_is_solved_without_the_facility_on_both_paths() -> None:
    """The facility at LV2, behind T2: T2's outage cuts the site off. The one-by-one path used to
    leave the facility's load on the dead bus and report no AC solution; it now agrees with the batch."""
    from grid_models.facility import FacilityParameters, StageSpec, stage_load
    from grid_models.studies.n1.table import Contingency
    from grid_models.studies.power_flow import solve_stage

    prepared = prepare_network(_upload(_net(tie=False)).net)
    backend = LightSimBackend(prepared, SETTINGS)
    poi = prepared.bus_position(5)
    base = solve_base_case(backend, poi=poi, initial=InitialVoltage.AUTO, settings=SETTINGS)
    context = dispatch_context(prepared, base, DispatchOptions())
    load = stage_load(StageSpec(mw=5), FacilityParameters(power_factor=0.98), index=1)
    stage = solve_stage(backend, index=1, load=load, previous=base, context=context, settings=SETTINGS)
    three = next(
        c for c in build_contingencies(prepared, StudyArea.whole_grid(prepared), ContingencyOptions()) if c.label == "trafo3w 1"
    )
    hv_leg = Contingency("trafo", three.position, 0, "T2 (hv)")  # one leg: a single-branch outage the batch can solve
    tables = [
        run_contingencies(
            backend,
            stage=stage,
            contingencies=outages,
            eligible=context.eligible,
            options=ContingencyOptions(),
            settings=SETTINGS,
            batch=batch,
        )
        for outages, batch in (([three], False), ([hv_leg], True), ([hv_leg], False))
    ]
    for table in tables:
        assert table.converged[0]
        assert table.islanded_load_mw[0] == pytest.approx(30.0 + 5.0)  # MV2 and LV2's loads and the facility
    np.testing.assert_allclose(tables[1].vm_pu[0], tables[2].vm_pu[0], rtol=0, atol=1e-6, equal_nan=True)
    np.testing.assert_allclose(tables[0].vm_pu[0, :6], tables[2].vm_pu[0, :6], rtol=0, atol=1e-6, equal_nan=True)
