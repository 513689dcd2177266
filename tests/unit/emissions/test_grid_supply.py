"""Grid-supply emissions and water of the Abilene stages, checked by hand with REFERENCE.md's
numbers written out here (not read from the tables):

gas CO2 117.0 lb/MMBtu x 7.740 MMBtu/MWh = 905.58 lb/MWh; coal (subbituminous) 212.7 x 10.689 =
2,273.55 lb/MWh; gas CC NOx 0.020 x 7.740 = 0.1548, CT 0.140 x 7.740 = 1.0836 lb/MWh; coal NOx
0.190 x 10.689 = 2.0309 lb/MWh; tons/yr = lb/h x 8,760 / 2,000. eGRID ERCT non-baseload 1,264.9
lb/MWh. Water: WUE 1.8 L/kWh of IT energy (facility / PUE 1.2), 3.785411784 L/gal; gas CC 198 and
coal 687 gal/MWh with cooling towers.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from grid_models.emissions.grid_supply import SupplyInputs, run_grid_supply
from grid_models.grid import Grid
from grid_models.pipeline.plan import StudyPlan, plan_study
from grid_models.results import GridSupplyResult, MethodEmissions, Pollutant
from grid_models.spec import EmissionsOptions, StudySpec

EXAMPLE = Path(__file__).parents[3] / "examples" / "abilene_stargate.json"
LB_PER_MWH = {
    "ng": {Pollutant.CO2: 117.0 * 7.740, Pollutant.NOX: 0.020 * 7.740, Pollutant.SO2: 0.0033 * 7.740},
    "coal": {Pollutant.CO2: 212.7 * 10.689, Pollutant.NOX: 0.190 * 10.689, Pollutant.SO2: 0.200 * 10.689},
    "nuclear": dict.fromkeys((Pollutant.CO2, Pollutant.NOX, Pollutant.SO2), 0.0),  # the slack unit settles within tolerance
}
TONS = 8760 / 2000


@pytest.fixture(scope="module")
def plan(catalog_grid: Callable[[str], Grid]) -> StudyPlan:
    spec = json.loads(EXAMPLE.read_text())
    spec["analyses"] = {}
    return plan_study(StudySpec.model_validate(spec), catalog_grid("activsg2000"), progress=lambda _f, _s: None)


def _run(plan: StudyPlan, **options: object) -> GridSupplyResult:
    inputs = SupplyInputs(
        prepared=plan.prepared,
        context=plan.context,  # type: ignore[arg-type]
        solves=plan.solves,
        options=EmissionsOptions.model_validate(options),
        facility=plan.spec.facility,
        grid_id="activsg2000",
    )
    return run_grid_supply(inputs)


@pytest.fixture(scope="module")
def result(plan: StudyPlan) -> GridSupplyResult:
    return _run(plan)


def _by_hand(method: MethodEmissions, pollutant: Pollutant) -> float:
    return sum(mw * LB_PER_MWH[fuel][pollutant] for fuel, mw in method.by_fuel_mw.items()) * TONS


def test_every_method_serves_the_demand_plus_the_added_losses(plan: StudyPlan, result: GridSupplyResult) -> None:
    assert result.egrid_subregion == "ERCT"
    assert result.main_method == "dc_opf"
    assert len(result.stages) == len(plan.solves) - 1 >= 1
    for stage, solve in zip(result.stages, plan.solves[1:], strict=True):
        assert solve.load is not None
        added = solve.load.p_mw + stage.delta_losses_mw
        assert {m.method for m in stage.methods} == {"power_flow", "merit_order", "dc_opf"}
        for method in stage.methods:
            assert method.delta_generation_mw == pytest.approx(added, abs=1e-6), method.method
            assert sum(method.by_fuel_mw.values()) == pytest.approx(added, abs=0.05)
            assert method.unserved_mw == 0


def test_tons_follow_the_reference_rates_by_hand(result: GridSupplyResult) -> None:
    assert result.stages
    for stage in result.stages:
        assert stage.methods
        for method in stage.methods:
            assert method.by_fuel_mw, f"{method.method} moved no unit: nothing to check by hand"
            assert set(method.by_fuel_mw) <= set(LB_PER_MWH), method.by_fuel_mw
            for pollutant in (Pollutant.CO2, Pollutant.NOX, Pollutant.SO2):
                assert method.added_tpy[pollutant] == pytest.approx(_by_hand(method, pollutant), rel=1e-9), (
                    method.method,
                    pollutant,
                )
            co2_lb_per_h = method.added_tpy[Pollutant.CO2] / TONS
            assert method.marginal_lb_per_mwh[Pollutant.CO2] == pytest.approx(co2_lb_per_h / stage.facility_p_mw)
            coal = method.by_fuel_mw.get("coal", 0.0)
            assert method.uncovered_mw.get(Pollutant.PM25, 0.0) == pytest.approx(abs(coal), abs=0.05)  # no coal PM2.5 factor


def test_egrid_rates_and_the_gas_range(result: GridSupplyResult) -> None:
    last = result.stages[-1]
    assert last.egrid_nonbaseload_co2_tpy == pytest.approx(1200 * 8760 * 1264.9 / 2000)
    assert last.egrid_average_co2e_tpy == pytest.approx(1200 * 8760 * 740.8 / 2000)
    main = last.methods[-1]
    low, high = last.gas_range_nox_tpy
    assert low == pytest.approx(main.added_tpy[Pollutant.NOX], rel=1e-9)  # the default is combined cycle
    gas = main.by_fuel_mw.get("ng", 0.0)
    assert high - low == pytest.approx(gas * (0.140 - 0.020) * 7.740 * TONS, rel=1e-9)


def test_water_by_hand(result: GridSupplyResult) -> None:
    stage = result.stages[0]
    water = stage.water
    assert water.it_mw == pytest.approx(200 / 1.2)
    assert water.onsite_gal_per_day == pytest.approx(200 / 1.2 * 1000 * 24 * 1.8 / 3.785411784)
    assert water.onsite_range_gal_per_day[0] == pytest.approx(water.onsite_gal_per_day * 0.27 / 1.8)
    main = stage.methods[-1]
    by_hand = (main.by_fuel_mw.get("ng", 0.0) * 198 + main.by_fuel_mw.get("coal", 0.0) * 687) * 24
    assert water.upstream_gal_per_day == pytest.approx(by_hand, rel=1e-6)


def test_options_change_what_they_say(plan: StudyPlan, result: GridSupplyResult) -> None:
    lignite = _run(
        plan, coal_rank="lignite", dc_opf=False, load_factor=0.5, factor_overrides={"technology_rates.gas_cc.nox": 0.01}
    )
    assert lignite.main_method == "merit_order"
    assert len(lignite.stages[0].methods) == 2
    merit = lignite.stages[-1].methods[-1]
    reference = next(m for m in result.stages[-1].methods if m.method == "merit_order")
    coal = merit.by_fuel_mw.get("coal", 0.0)
    gas = merit.by_fuel_mw.get("ng", 0.0)
    expected_co2 = (gas * 117.0 * 7.740 + coal * 215.4 * 10.689) * 8760 * 0.5 / 2000
    assert merit.added_tpy[Pollutant.CO2] == pytest.approx(expected_co2, rel=1e-9)
    assert merit.added_tpy[Pollutant.NOX] < reference.added_tpy[Pollutant.NOX]
    assert any("load factor 0.5" in line for line in lignite.assumptions)


def test_mix_text_lists_the_fuels_that_moved(result: GridSupplyResult) -> None:
    method = result.stages[-1].methods[0].model_copy(update={"by_fuel_mw": {"ng": 120.4, "coal": -30.0, "wind": 0.2}})
    assert method.mix_text() == "ng +120 MW, coal -30 MW"
    assert method.mix_text(unit="", nothing="") == "ng +120, coal -30"
    assert method.model_copy(update={"by_fuel_mw": {"ng": 0.1}}).mix_text() == "no unit moved"
