"""RAW files turned into grids: activsg200 written as RAW v33 and read back is the MATPOWER upload
of the same case (every table, and the same AC solution); the hand-made case's three-winding
transformer, shunts, DC line and refusals, checked against hand calculations."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandapower as pp
import pytest

from grid_models.catalog.matpower_text import parse_matpower_text
from grid_models.catalog.psse_convert import raw_to_matpower
from grid_models.catalog.psse_text import parse_raw_text
from grid_models.catalog.registry import catalog_file
from grid_models.catalog.uploads import load_upload
from grid_models.errors import GridValidationError

from .raw_writer import base_kv, is_transformer, write_raw

CASES = Path(__file__).parents[2] / "cases" / "psse"


@pytest.fixture(scope="module")
def activsg200_text() -> str:
    return catalog_file("activsg200").read_text()


@pytest.mark.parametrize("version", [33, 34, 35])
def test_activsg200_as_raw_is_the_matpower_case(activsg200_text: str, version: int) -> None:
    case = parse_matpower_text(activsg200_text)
    raw = parse_raw_text(write_raw(case, version=version))
    assert raw.version == version
    converted = raw_to_matpower(raw).case
    np.testing.assert_allclose(converted.bus[:, :13], case.bus[:, :13], rtol=0, atol=1e-12)
    np.testing.assert_allclose(converted.gen[:, :10], case.gen[:, :10], rtol=0, atol=1e-12)
    kv = base_kv(case)
    lines = [row for row in case.branch if not is_transformer(case, row, kv)]
    transformers = [row for row in case.branch if is_transformer(case, row, kv)]
    expected = np.array(lines + transformers)[:, :11]
    expected[len(lines) :, 8] = np.where(expected[len(lines) :, 8] == 0, 1.0, expected[len(lines) :, 8])  # tap 0 means 1
    np.testing.assert_allclose(converted.branch[:, :11], expected, rtol=0, atol=1e-12)
    assert converted.bus_name == case.bus_name


@pytest.mark.slow  # a whole case through RAW and both readers, solved and compared bus by bus
def test_activsg200_as_raw_solves_as_the_matpower_upload(activsg200_text: str) -> None:
    raw = load_upload(write_raw(parse_matpower_text(activsg200_text)).encode(), grid_id="raw", filename="activsg200.raw")
    mat = load_upload(activsg200_text.encode(), grid_id="m", filename="activsg200.m")
    assert raw.source == "upload:psse_raw"
    for net in (raw.net, mat.net):
        pp.runpp(net, init="flat", tolerance_mva=1e-9, enforce_q_lims=True)
    np.testing.assert_allclose(raw.net.res_bus.vm_pu.to_numpy(), mat.net.res_bus.vm_pu.to_numpy(), atol=1e-9)
    np.testing.assert_allclose(raw.net.res_bus.va_degree.to_numpy(), mat.net.res_bus.va_degree.to_numpy(), atol=1e-7)
    # and both reproduce the solution stored in the case (an independent reference)
    assert np.abs(raw.net.res_bus.vm_pu.to_numpy() - raw.net.bus.vm_case_pu.to_numpy()).max() < 1e-3


def test_the_hand_made_case_against_hand_calculations() -> None:
    conversion = raw_to_matpower(parse_raw_text((CASES / "hand_v33.raw").read_text()))
    case = conversion.case
    bus = {int(row[0]): row for row in case.bus}
    assert sorted(bus) == [1, 2, 3, 4, 11]  # star bus at the next power of ten
    assert bus[3][5] == pytest.approx(20.0 + 10.0)  # fixed shunt + switched shunt at BINIT (one 10 Mvar block on)
    assert bus[2][2] == pytest.approx(100.0 + 200.0)  # the load, and the DC line's 200 MW drawn at its rectifier
    assert bus[3][2] == pytest.approx(-200.0)  # delivered at its inverter
    assert bus[1][5] == pytest.approx(0.0)
    legs = case.branch[case.branch[:, 1] == 11]
    assert legs.shape[0] == 3
    # R12 = R23 = R31 = 0.001 pu (CZ 1): each leg (R12 + R31 - R23) / 2 = 0.0005 pu
    np.testing.assert_allclose(legs[:, 2], [0.0005] * 3)
    np.testing.assert_allclose(legs[:, 3], [0.025] * 3)
    assert any("three-winding" in warning for warning in conversion.warnings)
    assert any("switched shunt" in warning for warning in conversion.warnings)
    assert any("DC line" in warning for warning in conversion.warnings)
    assert math.isclose(bus[11][7], 1.0)


def test_the_dc_line_becomes_fixed_injections() -> None:
    case = raw_to_matpower(
        parse_raw_text((CASES / "hand_v33.raw").read_text().replace("    2, 1,  90.00", "    4, 1,  90.00"))
    ).case
    bus = {int(row[0]): row for row in case.bus}
    assert bus[4][2] == pytest.approx(200.0)  # SETVL 200 MW drawn at the rectifier (MDC 1: power)
    assert bus[3][2] == pytest.approx(-200.0)  # delivered at the inverter


def test_zip_loads_and_unmodelled_devices_are_refused_with_their_lines() -> None:
    text = (CASES / "hand_v33.raw").read_text().replace("100.000,    30.000,     0.000", "100.000,    30.000,     5.000")
    with pytest.raises(GridValidationError) as refused:
        load_upload(text.encode(), grid_id="x", filename="case.raw")
    issue = refused.value.issues[0]
    assert (issue.element, issue.field, issue.ids) == ("load", "lines 9", [9])
    assert "constant power only" in issue.message


def test_a_v35_switching_device_is_a_bus_tie_and_ratings_are_the_first_three() -> None:
    conversion = raw_to_matpower(parse_raw_text((CASES / "hand_v35.raw").read_text()))
    branch = conversion.case.branch
    line, breaker = branch[0], branch[1]
    np.testing.assert_allclose(line[[3, 5, 6, 7]], [0.01, 100.0, 110.0, 120.0])  # RATE1-3 of v35's twelve
    np.testing.assert_allclose(breaker[[2, 3, 5, 6, 7, 10]], [0.0, 0.0002, 100.0, 110.0, 120.0, 1.0])
    assert any("switching device" in warning for warning in conversion.warnings)


def test_a_transformer_in_kv_and_on_its_winding_base() -> None:
    """CW 2 (ratios in kV) and CZ 2 (impedance in pu of the winding's 200 MVA): 345 kV / 138 kV
    windings on 345 kV / 138 kV buses are a nominal ratio, and 0.01 + j0.05 pu on 200 MVA are
    0.005 + j0.025 pu on the 100 MVA system base (hand calculation)."""
    text = (CASES / "hand_v33.raw").read_text()
    text = text.replace("    2,     3,     0,'1 ',1,1,1,", "    2,     3,     0,'1 ',2,2,1,")
    text = text.replace(" 0.00100, 0.05000,   100.00\n", " 0.01000, 0.05000,   200.00\n", 1)
    text = text.replace("1.00000,   0.000,   0.000,   200.00", "345.0,   0.000,   0.000,   200.00", 1)
    text = text.replace("\n1.00000,   0.000\n", "\n138.0,   0.000\n", 1)
    branch = raw_to_matpower(parse_raw_text(text)).case.branch
    two_winding = branch[(branch[:, 0] == 2) & (branch[:, 1] == 3)][0]
    np.testing.assert_allclose(two_winding[[2, 3, 8]], [0.005, 0.025, 1.0])


def test_remote_regulation_becomes_local_and_is_listed() -> None:
    text = (CASES / "hand_v33.raw").read_text().replace("1.02000,     0,   200.000", "1.02000,     2,   200.000")  # IREG 2
    conversion = raw_to_matpower(parse_raw_text(text))
    assert conversion.remote_regulation == [0]
    assert conversion.case.gen[0, 5] == pytest.approx(1.02)  # VS, now at its own bus 1
    assert any("remote bus" in warning for warning in conversion.warnings)


def test_bad_numbers_and_unknown_buses_are_each_listed_with_their_line() -> None:
    text = (CASES / "hand_v33.raw").read_text()
    text = text.replace("345.0000,3,   1,   1,   1,1.02000", "345.0000,3,   1,   1,   1,1.0x000")  # line 4: VM
    text = text.replace("    3,'1 ',1,     0.000,    20.000", "    9,'1 ',1,     0.000,    20.000")  # line 11: no bus 9
    with pytest.raises(GridValidationError) as refused:
        raw_to_matpower(parse_raw_text(text))
    found = {(issue.field, issue.message.split(":")[0]) for issue in refused.value.issues}
    assert ("line 4", "VM (field 8)") in found
    assert ("line 11", "shunt bus 9 is not a bus of the file") in found


def test_a_raw_three_winding_transformer_is_one_contingency_and_its_star_is_not_monitored() -> None:
    from grid_models.solver.network import prepare_network
    from grid_models.spec import ContingencyOptions, Criteria
    from grid_models.studies.evaluation import monitored_buses
    from grid_models.studies.n1.outages import build_contingencies
    from grid_models.studies.study_area import StudyArea

    grid = load_upload((CASES / "hand_v33.raw").read_bytes(), grid_id="hand", filename="hand_v33.raw")
    prepared = prepare_network(grid.net)
    outages = build_contingencies(prepared, StudyArea.whole_grid(prepared), ContingencyOptions(generators=False))
    three = [c for c in outages if c.kind == "trafo3w"]
    assert [(c.label, len(c.branches_out)) for c in three] == [("trafo3w 0", 3)]
    assert sum(prepared.branch_group >= 0) == 3  # the legs appear in no other contingency
    assert {p for c in outages for p in c.branches_out} == set(np.flatnonzero(prepared.branch_in_service))
    assert [prepared.bus_ids[s] for s in np.flatnonzero(prepared.bus_is_star)] == [grid.net.bus.index[-1]]
    assert not monitored_buses(prepared, Criteria(monitored_min_kv=0)).any(where=prepared.bus_is_star)


@pytest.mark.parametrize(("name", "version"), [("hand_v34.raw", 34), ("hand_v35_full.raw", 35)])
def test_the_hand_made_v34_and_v35_cases_against_hand_calculations(name: str, version: int) -> None:
    """Twelve ratings per branch and winding, a system switching device section, remote
    regulation, an out-of-service load, branch and bus, areas, zones and owners with quoted names,
    a three-winding transformer, a switched shunt and a DC line; v35 adds the column-header line,
    system-wide data, the generator's NREG, the winding's NODE and the switched shunt's ID and NREG."""
    raw = parse_raw_text((CASES / name).read_text())
    assert (raw.version, raw.warnings) == (version, [])
    assert [len(raw.records(name)) for name in ("area", "zone", "owner", "switched_shunt", "two_terminal_dc")] == [2, 2, 2, 1, 1]
    assert [record.lines[0][1] for record in raw.records("zone")] == ["ZONE ONE", "ZONE, TWO"]
    assert [record.lines[0][1] for record in raw.records("owner")] == ["OWNER ONE", 'OWNER "2"']
    conversion = raw_to_matpower(raw)
    case = conversion.case
    bus = {int(row[0]): row for row in case.bus}
    assert bus[3][2] == pytest.approx(-200.0)  # the DC line's inverter; the out-of-service 50 MW load is not there
    assert bus[3][5] == pytest.approx(30.0)  # fixed 20 Mvar + the switched shunt's block at BINIT
    assert (bus[3][6], bus[3][10]) == (2, 2)  # area, zone
    assert bus[5][1] == 4  # isolated
    expected = [[0.001, 0.01, 500, 550, 600, 1], [0.002, 0.02, 400, 440, 480, 0]]  # RATE1-3 of twelve; the spare is off
    np.testing.assert_allclose(case.branch[:2, [2, 3, 5, 6, 7, 10]], expected)
    legs = case.branch[case.branch[:, 1] == 11]
    np.testing.assert_allclose(legs[:, [2, 3, 5, 6, 7]], [[0.0005, 0.025, 200, 220, 250]] * 3)
    assert conversion.remote_regulation == [0]
    grid = load_upload((CASES / name).read_bytes(), grid_id="hand", filename=name)
    net = grid.net
    pp.runpp(net, init="flat", tolerance_mva=1e-9)
    assert net.converged


def test_a_file_without_generators_or_branches_is_refused_with_advice() -> None:
    text = (CASES / "hand_v33.raw").read_text()
    cut = text[: text.index("    1,'1 ',   150.000")] + "Q\n"  # ends after the fixed shunts: no generators, no branches
    with pytest.raises(GridValidationError) as refused:
        load_upload(cut.encode(), grid_id="x", filename="cut.raw")
    assert any("no rows" in issue.message and issue.element == "mpc.gen" for issue in refused.value.issues)


@pytest.mark.parametrize("grid_id", ["activsg200", "activsg2000"])
def test_the_activsg_cases_round_trip_through_raw_with_the_same_admittance_matrix(grid_id: str) -> None:
    """Written as RAW and read back: the same bus admittance matrix (1e-9 relative to its largest
    entry) as the MATPOWER upload, built by pandapower from each net, and the same solved case."""
    text = catalog_file(grid_id).read_text()
    nets = [
        load_upload(write_raw(parse_matpower_text(text)).encode(), grid_id="raw", filename=f"{grid_id}.raw").net,
        load_upload(text.encode(), grid_id="m", filename=f"{grid_id}.m").net,
    ]
    for net in nets:
        pp.runpp(net, init="flat", tolerance_mva=1e-9, enforce_q_lims=True)
    raw_y, mat_y = (net._ppc["internal"]["Ybus"] for net in nets)  # noqa: SLF001 (pandapower keeps it there)
    assert raw_y.shape == mat_y.shape
    assert abs(raw_y - mat_y).max() <= 1e-9 * abs(mat_y).max()
    np.testing.assert_allclose(nets[0].res_bus.vm_pu.to_numpy(), nets[1].res_bus.vm_pu.to_numpy(), rtol=0, atol=1e-9)


def test_every_rating_set_is_kept_and_criteria_choose_the_normal_and_emergency_ones() -> None:
    from grid_models.errors import StudySpecError
    from grid_models.solver.network import RatingChoice, prepare_network

    text = (CASES / "hand_v34.raw").read_text().replace("500.00,  550.00,  600.00, 0.0,", "500.00,  550.00,  600.00, 650.0,")
    net = load_upload(text.encode(), grid_id="v34", filename="hand_v34.raw").net
    line = net.line.index[net.line.name == "branch 1"][0]
    assert [net.line.at[line, f"rating_set_{k}_mva"] for k in (1, 2, 3, 4)] == [500.0, 550.0, 600.0, 650.0]
    assert np.isnan(net.line.at[line, "rating_set_12_mva"])

    def ratings(choice: RatingChoice) -> tuple[float, float]:
        prepared = prepare_network(net, ratings=choice)
        return float(prepared.rate_normal_mva[line]), float(prepared.rate_emergency_mva[line])

    assert ratings(RatingChoice()) == (500.0, 550.0)  # RATE1 normal, RATE2 emergency
    assert ratings(RatingChoice(normal=2, emergency=4)) == (550.0, 650.0)
    assert ratings(RatingChoice(normal=3)) == (600.0, 600.0)  # only the normal set chosen: it is the emergency one too
    assert ratings(RatingChoice(emergency=5)) == (500.0, 500.0)  # set 5 is empty here: the normal rating stands
    mat = load_upload(catalog_file("activsg200").read_bytes(), grid_id="m", filename="activsg200.m").net
    with pytest.raises(StudySpecError, match="no rating set 4"):
        prepare_network(mat, ratings=RatingChoice(emergency=4))


def test_a_raw_upload_summary_keeps_the_star_bus_out_of_the_voltage_levels() -> None:
    from grid_models.catalog.summary import summarize_grid

    summary = summarize_grid(load_upload((CASES / "hand_v33.raw").read_bytes(), grid_id="hand", filename="hand_v33.raw"))
    assert (summary.buses, summary.star_buses, summary.transformers, summary.three_winding_transformers) == (4, 1, 1, 1)
    assert 1.0 not in [level.vn_kv for level in summary.voltage_levels]  # the star bus's 1 kV base
