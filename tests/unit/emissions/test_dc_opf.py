"""The DC optimal power flow against independent references: pandapower's DC power flow for the
network model, a three-bus case solved by hand for congestion, and pandapower's own DC OPF."""

from __future__ import annotations

import copy
import math
from collections.abc import Callable

import numpy as np
import pandapower as pp
import pytest

from grid_models.emissions.dc_opf import dc_network, dc_opf
from grid_models.grid import Grid
from grid_models.solver.network import prepare_network

LIMIT_MW = 80.0


def three_bus() -> pp.pandapowerNet:
    """Two generators (10 and 50 $/MWh) feed 150 MW through a triangle of identical lines; the
    line from the cheap unit to the load is limited to 80 MW.

    By hand: the cheap unit's injection splits 2/3 on the direct line and 1/3 around, the dear
    one's 1/3 onto it, so flow(0-2) = 2/3 P0 + 1/3 (150 - P0) = 50 + P0 / 3 <= 80: P0 = 90 MW,
    P1 = 60 MW, cost 90 x 10 + 60 x 50 = 3,900 $/h (without the limit: P0 = 150, 1,500 $/h)."""
    net = pp.create_empty_network(sn_mva=100.0)
    buses = [pp.create_bus(net, vn_kv=110.0, name=f"b{i}") for i in range(3)]
    for a, b in ((0, 1), (0, 2), (1, 2)):
        limit_ka = LIMIT_MW / (math.sqrt(3) * 110.0) if (a, b) == (0, 2) else 10.0
        pp.create_line_from_parameters(
            net, buses[a], buses[b], length_km=10.0, r_ohm_per_km=0.0, x_ohm_per_km=0.4, c_nf_per_km=0.0, max_i_ka=limit_ka
        )
    pp.create_gen(net, buses[0], p_mw=75.0, vm_pu=1.0, slack=True, min_p_mw=0.0, max_p_mw=200.0, controllable=True)
    pp.create_gen(net, buses[1], p_mw=75.0, vm_pu=1.0, min_p_mw=0.0, max_p_mw=200.0, controllable=True)
    pp.create_load(net, buses[2], p_mw=150.0)
    pp.create_poly_cost(net, 0, "gen", cp1_eur_per_mw=10.0)
    pp.create_poly_cost(net, 1, "gen", cp1_eur_per_mw=50.0)
    return net


def test_congestion_moves_the_dispatch_as_computed_by_hand() -> None:
    prepared = prepare_network(three_bus())
    network = dc_network(prepared)
    dispatch = dc_opf(network, prepared, schedule_mw=prepared.gen_p_mw, movable=np.array([True, True]))
    np.testing.assert_allclose(dispatch.p_mw, [90.0, 60.0], atol=1e-6)
    assert dispatch.cost_per_h == pytest.approx(3900.0, abs=0.01)
    limited = int(np.flatnonzero(np.isclose(network.rate_mw, LIMIT_MW))[0])
    assert dispatch.flow_mw[limited] == pytest.approx(LIMIT_MW, abs=1e-6)
    assert list(dispatch.congested(network)) == [limited]
    stuck = dc_opf(network, prepared, schedule_mw=np.zeros(2), movable=np.array([True, False]))  # the dear unit stays off
    assert stuck.p_mw[0] == pytest.approx(150.0)
    assert stuck.overload_mw[limited] == pytest.approx(100.0 - LIMIT_MW, abs=1e-6)


def test_the_same_case_in_pandapowers_dc_opf() -> None:
    net = three_bus()
    net.line["max_loading_percent"] = 100.0
    pp.rundcopp(net)
    ours = dc_opf(
        network := dc_network(prepare_network(net)), prepare_network(net), schedule_mw=np.zeros(2), movable=np.ones(2, bool)
    )
    np.testing.assert_allclose(ours.p_mw, net.res_gen.p_mw.to_numpy(), atol=1e-3)
    assert network.rate_mw[1] == pytest.approx(LIMIT_MW)


@pytest.mark.parametrize("grid_id", ["activsg200", "activsg2000"])
def test_dc_flows_are_pandapowers(grid_id: str, catalog_grid: Callable[[str], Grid]) -> None:
    prepared = prepare_network(catalog_grid(grid_id).net)
    network = dc_network(prepared)
    reference = copy.deepcopy(prepared.net)
    pp.rundcpp(reference)
    gen_bus = network.bus_of_position[prepared.gen_bus]
    injection = (
        np.bincount(gen_bus, weights=reference.res_gen.p_mw.to_numpy(), minlength=network.b_bus.shape[0]) - network.demand_mw
    )
    flows = network.solver.flows(injection)
    expected = np.concatenate([reference.res_line.p_from_mw.to_numpy(), reference.res_trafo.p_hv_mw.to_numpy()])
    np.testing.assert_allclose(flows, expected, atol=1e-6)


def test_the_increment_is_energy_balanced_and_the_optimum_is_feasible(catalog_grid: Callable[[str], Grid]) -> None:
    prepared = prepare_network(catalog_grid("activsg2000").net)
    network = dc_network(prepared)
    movable = np.array([f in ("coal", "ng") for f in prepared.gen_fuel]) & np.isfinite(prepared.gen_cost[:, 1])
    base = dc_opf(network, prepared, schedule_mw=prepared.gen_p_mw, movable=movable, losses_mw=30.0)
    poi = int(prepared.gen_bus[0])
    stage = dc_opf(
        network, prepared, schedule_mw=prepared.gen_p_mw, movable=movable, losses_mw=30.0, extra_demand_mw=700.0, extra_bus=poi
    )
    assert (stage.p_mw - base.p_mw).sum() == pytest.approx(700.0, abs=1e-6)
    assert stage.unserved_mw == 0
    assert stage.spilled_mw == 0
    rate = np.nan_to_num(network.rate_mw, nan=np.inf)
    assert np.all(np.abs(stage.flow_mw) <= rate + 1e-3 + stage.overload_mw)
    assert np.all(stage.p_mw[movable] >= prepared.gen_pmin_mw[movable] - 1e-9)
    assert np.all(stage.p_mw[movable] <= prepared.gen_pmax_mw[movable] + 1e-9)
    np.testing.assert_allclose(stage.p_mw[~movable], prepared.gen_p_mw[~movable])
