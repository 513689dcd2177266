"""The MATPOWER -> pandapower conversion, checked against MATPOWER's own branch model.

The reference is ``makeYbus`` (MATPOWER's formulas, as ported in pandapower.pypower) applied to
the raw case arrays; the converted net's admittance matrix, built by pandapower from lines and
transformers, must be the same matrix. activsg10k covers off-nominal taps on the low-voltage
side, phase shifters and negative reactances.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandapower as pp
import pytest
from pandapower.pypower.idx_brch import branch_cols
from pandapower.pypower.idx_bus import bus_cols
from pandapower.pypower.makeYbus import makeYbus

from grid_models.catalog.convert import matpower_to_net
from grid_models.catalog.matpower_text import parse_matpower_text
from grid_models.catalog.registry import catalog_file
from grid_models.grid import Grid


def _matpower_ybus(grid_id: str):  # type: ignore[no-untyped-def]
    case = parse_matpower_text(catalog_file(grid_id).read_text())
    bus = np.zeros((len(case.bus), bus_cols))
    bus[:, :13] = case.bus[:, :13]
    position = {int(b): i for i, b in enumerate(case.bus[:, 0])}
    branch = np.zeros((len(case.branch), branch_cols))
    branch[:, :13] = case.branch[:, :13]
    branch[:, 0] = [position[int(b)] for b in case.branch[:, 0]]
    branch[:, 1] = [position[int(b)] for b in case.branch[:, 1]]
    bus[:, 0] = np.arange(len(bus))
    ybus, _, _ = makeYbus(case.base_mva, bus, branch[branch[:, 10] > 0])
    return case, ybus


@pytest.mark.parametrize("grid_id", ["activsg200", "activsg2000", "activsg10k"])
def test_admittance_matrix_equals_matpower(grid_id: str) -> None:
    case, expected = _matpower_ybus(grid_id)
    net, report = matpower_to_net(case, name=grid_id)
    pp.runpp(net, lightsim2grid=False, trafo_model="pi", init="flat", max_iteration=1, tolerance_mva=1e12, numba=False)
    ybus = net._ppc["internal"]["Ybus"]  # noqa: SLF001 - pandapower keeps the solved internal case only here
    order = net._pd2ppc_lookups["bus"][net.bus.index.to_numpy()]  # noqa: SLF001 - pandapower keeps the solved internal case only here
    difference = abs(ybus[order][:, order] - expected).max()
    assert difference <= 1e-9 * abs(expected).max()
    assert report.lines + report.transformers == len(case.branch)
    assert len(net.impedance) == 0  # nothing lightsim2grid would refuse


def test_conversion_keeps_metadata(catalog_grid: Callable[[str], Grid]) -> None:
    grid = catalog_grid("activsg2000")
    net = grid.net
    assert {"area", "vm_case_pu", "va_case_degree"} <= set(net.bus.columns)
    assert net.bus.loc[3088, "name"] == "ABILENE 1 0"
    assert set(net.gen.fuel) >= {"ng", "coal", "wind", "nuclear"}
    assert int(net.gen.slack.sum()) == 1
    assert len(net.poly_cost) == len(net.gen)
    # RATE_B and RATE_C are zero in the ACTIVSg files: the emergency rating falls back to RATE_A
    for table in (net.line, net.trafo):
        np.testing.assert_array_equal(table.rate_emergency_mva.to_numpy(), table.rate_a_mva.to_numpy())
    # 112 of 544 generators are out of service in the file and dropped
    assert len(net.gen) == 544 - 112
    assert any("out-of-service" in note for note in grid.notes)


def test_every_in_service_generator_regulates() -> None:
    """Unlike from_mpc, a second generator at a bus keeps its reactive range (a gen, not an sgen)."""
    case = parse_matpower_text(catalog_file("activsg2000").read_text())
    net, _ = matpower_to_net(case)
    on = case.gen[:, 7] > 0
    assert len(net.gen) == int(on.sum())
    assert len(net.sgen) == 0
    assert net.gen.max_q_mvar.sum() == pytest.approx(case.gen[on, 3].sum())
