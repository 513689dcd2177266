"""Which buses the criteria watch (the Bulk Electric System by default, generator terminals out),
findings that name their element, and emissions labelled in the tons they are computed in."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandapower as pp
import pytest

from grid_models.grid import Grid
from grid_models.pipeline import run_study
from grid_models.results import FindingCategory, Pollutant, StudyResult
from grid_models.solver.network import prepare_network
from grid_models.spec import StudySpec

ABILENE = {"grid": {"catalog": "activsg2000"}, "site": {"bus": 3088}}


def _run(catalog_grid: Callable[[str], Grid], **spec: object) -> StudyResult:
    return run_study(StudySpec.model_validate({**ABILENE, "stages": [{"mw": 1200}], **spec}), catalog_grid("activsg2000"))


@pytest.mark.parametrize(
    ("criteria", "monitored"),
    [
        ({}, 826 + 453 + 152 + 120),  # activsg2000 buses at 115, 161, 230 and 500 kV
        ({"monitored_min_kv": 0}, 2000 - 362),  # every bus but the 362 generator terminals
        ({"monitored_min_kv": 0, "monitor_generator_terminals": True}, 2000),
    ],
)
def test_the_criteria_watch_the_bulk_electric_system_by_default(
    catalog_grid: Callable[[str], Grid], criteria: dict[str, object], monitored: int
) -> None:
    result = _run(catalog_grid, criteria=criteria)
    assert result.monitoring is not None
    assert result.monitoring.buses_monitored == monitored
    assert int(result.dataset["bus_monitored"].sum()) == monitored
    watched = result.dataset["bus_monitored"].to_numpy().astype(bool)
    kv = result.dataset["bus_vn_kv"].to_numpy()
    checked = {v.bus_id for stage in (result.base_case, *result.stages) for v in stage.voltage_violations}
    assert checked, "the case must have voltage violations to show where they are looked for"
    bus_ids = result.dataset["bus"].to_numpy()
    assert checked <= set(bus_ids[watched].tolist())
    if not criteria:
        assert (kv[watched] >= 100).all()
    assert any(result.monitoring.text() in line for line in result.assumptions)


def test_a_generator_terminal_is_a_generator_bus_behind_its_step_up_only() -> None:
    net = pp.create_empty_network()
    hv = [pp.create_bus(net, vn_kv=138.0) for _ in range(3)]
    terminal, direct = pp.create_bus(net, vn_kv=13.8), hv[2]
    pp.create_ext_grid(net, hv[0])
    pp.create_line(net, hv[0], hv[1], length_km=10, std_type="149-AL1/24-ST1A 110.0")
    pp.create_line(net, hv[1], hv[2], length_km=10, std_type="149-AL1/24-ST1A 110.0")
    pp.create_transformer(net, hv[1], terminal, std_type="25 MVA 110/20 kV")
    pp.create_gen(net, terminal, p_mw=10, vm_pu=1.0)
    pp.create_gen(net, direct, p_mw=10, vm_pu=1.0)  # a generator on a transmission bus with a line: not a terminal
    prepared = prepare_network(net)
    flagged = {int(prepared.bus_ids[i]) for i in np.flatnonzero(prepared.generator_terminal)}
    assert flagged == {terminal}


def test_every_violation_finding_names_its_element(catalog_grid: Callable[[str], Grid]) -> None:
    result = _run(catalog_grid)
    violations = [f for f in result.findings if f.category in (FindingCategory.VOLTAGE, FindingCategory.THERMAL)]
    assert violations, "1,200 MW at ABILENE 1 0 must break an N-0 limit"
    for finding in violations:
        assert finding.where
        assert finding.where in finding.what
    assert any("bus 3050 'DEL RIO 0' (230 kV)" in f.what for f in violations)


def test_emissions_are_labelled_in_the_tons_they_are_computed_in(catalog_grid: Callable[[str], Grid]) -> None:
    result = _run(catalog_grid, analyses={"emissions": {}})
    assert result.environment is not None
    assert result.environment.grid_supply is not None
    main = next(m for m in result.environment.grid_supply.stages[0].methods if m.method == "dc_opf")
    short = main.added_tpy[Pollutant.CO2]
    assert main.added_co2_metric_t_per_year == pytest.approx(short * 2000 * 0.45359237 / 1000, rel=1e-12)
    emission = next(f for f in result.findings if f.category is FindingCategory.EMISSIONS)
    assert f"CO2 {short:,.0f} short tons/yr ({short * 0.90718474:,.0f} metric t)" in emission.what
    assert "t/yr" not in emission.what.replace("short tons/yr", "")
    assert emission.unit == "short ton CO2/yr"
