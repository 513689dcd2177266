"""N-1 contingency analysis: independent per-outage checks, solver-path independence, study area."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

import numpy as np
import pandapower as pp
import pandapower.networks
import pytest

from grid_models.facility import FacilityParameters, StageSpec, stage_load
from grid_models.grid import Grid
from grid_models.pipeline import plan_parts, plan_study, run_study, solve_part
from grid_models.results import ContingencyAnalysisResult, ContingencyStatus
from grid_models.solver.lightsim import LightSimBackend
from grid_models.solver.network import prepare_network
from grid_models.solver.reference import PandapowerBackend
from grid_models.solver.sweep import sweep_states
from grid_models.solver.types import OperatingPoint, SolverSettings
from grid_models.spec import ContingencyOptions, DispatchOptions, InitialVoltage, StudyAreaMode, StudyAreaOptions, StudySpec
from grid_models.studies.n1 import limit_passes
from grid_models.studies.n1.analysis import contingency_findings, evaluate_contingency_tables
from grid_models.studies.n1.limit_passes import solve_exact
from grid_models.studies.n1.outages import build_contingencies, response_weights, run_contingencies
from grid_models.studies.n1.table import Contingency, OutageTable
from grid_models.studies.power_flow import StageSolve, dispatch_context, solve_base_case, solve_stage
from grid_models.studies.study_area import StudyArea, select_study_area

SETTINGS = SolverSettings()


@dataclasses.dataclass
class Case:
    backend: LightSimBackend
    stage: StageSolve
    eligible: np.ndarray
    contingencies: list[Contingency]


def _case(grid: Grid, bus_name: str, mw: float) -> Case:
    prepared = prepare_network(grid.net)
    backend = LightSimBackend(prepared, SETTINGS)
    poi = prepared.bus_position(int(grid.net.bus.index[grid.net.bus.name == bus_name][0]))
    base = solve_base_case(backend, poi=poi, initial=InitialVoltage.AUTO, settings=SETTINGS)
    context = dispatch_context(prepared, base, DispatchOptions())
    load = stage_load(StageSpec(mw=mw), FacilityParameters(power_factor=0.98), index=1)
    stage = solve_stage(backend, index=1, load=load, previous=base, context=context, settings=SETTINGS)
    contingencies = build_contingencies(prepared, StudyArea.whole_grid(prepared), ContingencyOptions())
    return Case(backend, stage, context.eligible, contingencies)


def _outage_point(case: Case, contingency: Contingency) -> OperatingPoint:
    prepared, stage = case.backend.prepared, case.stage
    weights = response_weights(prepared, stage.solution.gen_p_mw, case.eligible)
    point = OperatingPoint(
        gen_p_mw=stage.solution.gen_p_mw,
        facility_bus=stage.poi,
        facility_p_mw=stage.load.p_mw if stage.load else 0.0,
        facility_q_mvar=stage.load.q_mvar if stage.load else 0.0,
        slack_weights=weights,
    )
    if contingency.kind == "gen":
        weights = weights.copy()
        weights[contingency.position] = 0.0
        return dataclasses.replace(point, gen_out=(contingency.position,), slack_weights=weights)
    return dataclasses.replace(point, branch_out=(contingency.position,))


@pytest.fixture(scope="module")
def clinton(catalog_grid: Callable[[str], Grid]) -> Case:
    return _case(catalog_grid("activsg200"), "CLINTON 1 0", 100.0)


def _run(case: Case, **keywords: Any) -> OutageTable:
    """Every outage of ``case`` with the default options."""
    return run_contingencies(
        case.backend,
        stage=case.stage,
        contingencies=case.contingencies,
        eligible=case.eligible,
        options=ContingencyOptions(),
        settings=SETTINGS,
        **keywords,
    )


@pytest.fixture(scope="module")
def clinton_table(clinton: Case) -> OutageTable:
    return _run(clinton)


def test_batch_and_one_by_one_paths_give_the_same_results(clinton: Case, clinton_table: OutageTable) -> None:
    fast, slow = clinton_table, _run(clinton, batch=False)
    assert fast.converged.all()
    assert slow.converged.all()
    assert 0 < fast.exact.sum() < len(clinton.contingencies)  # both paths were exercised
    np.testing.assert_array_equal(np.isnan(fast.vm_pu), np.isnan(slow.vm_pu))
    assert np.nanmax(np.abs(fast.vm_pu - slow.vm_pu)) <= 1e-6
    assert np.nanmax(np.abs(fast.loading_percent - slow.loading_percent)) <= 1e-3


@pytest.mark.slow  # 500 outages of activsg2000, batch and one by one: a full-grid solver comparison
def test_sweep_passes_give_the_one_by_one_results(catalog_grid: Callable[[str], Grid], monkeypatch: pytest.MonkeyPatch) -> None:
    """On activsg2000 many outages move reactive limits: the batch path settles them in sweeps
    (one analysis for many rows, several passes) and must land where one-by-one loops land, also
    for outages that cut buses off (200 of the 500 here)."""
    case = _case(catalog_grid("activsg2000"), "ABILENE 1 0", 300.0)
    branches = [c for c in case.contingencies if c.kind != "gen"]
    cuts = [c for c in branches if case.backend.islands.islanded((c.position,)).any()]
    case = dataclasses.replace(case, contingencies=[c for c in branches if c not in cuts][:300] + cuts[:200])
    swept: list[np.ndarray] = []

    def recording(*args: Any, **keywords: Any) -> Any:  # the real sweep, its rows recorded
        rows = sweep_states(*args, **keywords)
        swept.append(keywords["positions"][rows.converged])
        return rows

    monkeypatch.setattr(limit_passes, "sweep_states", recording)
    fast, slow = _run(case), _run(case, batch=False)
    swept_positions = set(np.concatenate(swept).tolist())
    assert len(swept) >= 3
    assert len(swept_positions) > 100
    assert len(swept_positions & {c.position for c in cuts[:200]}) > 50
    np.testing.assert_array_equal(fast.converged, slow.converged)
    np.testing.assert_array_equal(fast.islanded_buses, slow.islanded_buses)
    np.testing.assert_array_equal(np.isnan(fast.vm_pu), np.isnan(slow.vm_pu))
    assert np.nanmax(np.abs(fast.vm_pu - slow.vm_pu)) <= 1e-6
    assert np.nanmax(np.abs(fast.loading_percent - slow.loading_percent)) <= 1e-3


def test_a_sweep_lightsim2grid_refuses_leaves_its_rows_to_the_one_by_one_path(
    clinton: Case, clinton_table: OutageTable, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def refuse(*_args: Any, **_keywords: Any) -> Any:
        raise RuntimeError("remote voltage control is not supported")

    monkeypatch.setattr(limit_passes, "sweep_states", refuse)
    table = _run(clinton)
    assert "sweep_failed" in caplog.text
    np.testing.assert_array_equal(table.converged, clinton_table.converged)
    assert np.nanmax(np.abs(table.vm_pu - clinton_table.vm_pu)) <= 1e-6


def test_with_reactive_limits_off_no_path_switches_a_regulator(catalog_grid: Callable[[str], Grid]) -> None:
    """``enforce_q_limits: false``: the batch must not flag rows for switching (the one-by-one
    loop never switches), so both paths give the same answer."""
    settings = SolverSettings(enforce_q_limits=False)
    prepared = prepare_network(catalog_grid("activsg200").net)
    backend = LightSimBackend(prepared, settings)
    base = solve_base_case(backend, poi=0, initial=InitialVoltage.AUTO, settings=settings)
    eligible = dispatch_context(prepared, base, DispatchOptions()).eligible
    options = ContingencyOptions(generators=False)
    contingencies = build_contingencies(prepared, StudyArea.whole_grid(prepared), options)

    def run(batch: bool) -> OutageTable:
        return run_contingencies(
            backend, stage=base, contingencies=contingencies, eligible=eligible, options=options, settings=settings, batch=batch
        )

    fast, slow = run(True), run(False)
    assert not fast.exact.any()  # nothing to switch: every branch outage is settled by the batch
    np.testing.assert_array_equal(fast.converged, slow.converged)
    assert np.nanmax(np.abs(fast.vm_pu - slow.vm_pu)) <= 1e-6


def test_a_pandapower_net_with_an_external_grid_and_any_load_labels() -> None:
    """A pandapower case as uploaded: an ext_grid (converted to the slack machine, with its
    active limits and slack weight), load labels that are not positions (lightsim2grid addresses
    loads by position). Every outage is settled, the outage of the external grid included."""
    net = pandapower.networks.case30()
    net.load.index = net.load.index * 3 + 7
    prepared = prepare_network(net)
    assert prepared.gen_pmax_mw[-1] == 80.0  # the ext_grid's max_p_mw
    backend = LightSimBackend(prepared, SETTINGS)
    base = solve_base_case(backend, poi=5, initial=InitialVoltage.AUTO, settings=SETTINGS)
    context = dispatch_context(prepared, base, DispatchOptions())
    load = stage_load(StageSpec(mw=20.0), FacilityParameters(), index=1)
    stage = solve_stage(backend, index=1, load=load, previous=base, context=context, settings=SETTINGS)
    case = Case(
        backend, stage, context.eligible, build_contingencies(prepared, StudyArea.whole_grid(prepared), ContingencyOptions())
    )
    fast, slow = _run(case), _run(case, batch=False)
    assert fast.converged.sum() >= len(case.contingencies) - 2
    np.testing.assert_array_equal(fast.converged, slow.converged)
    assert np.nanmax(np.abs(fast.vm_pu - slow.vm_pu)) <= 1e-6
    facility_bus_load = prepared.net.load.loc[prepared.facility_load]
    assert facility_bus_load["name"] == "gridimpact facility"


def test_units_without_an_upper_limit_take_the_whole_response() -> None:
    prepared = SimpleNamespace(gen_pmax_mw=np.array([100.0, np.inf, 50.0]), slack_gen=0)
    weights = response_weights(prepared, np.array([50.0, 0.0, 10.0]), np.array([True, True, True]))  # type: ignore[arg-type]
    np.testing.assert_array_equal(weights, [0.0, 1.0, 0.0])
    finite = response_weights(prepared, np.array([50.0, 0.0, 10.0]), np.array([True, False, True]))  # type: ignore[arg-type]
    np.testing.assert_array_equal(finite, [50.0, 0.0, 40.0])


def test_rounding_residue_is_no_headroom() -> None:
    """Filling merit-order blocks leaves ~1e-13 MW of 'headroom' on full units; as slack weights
    that made lightsim2grid's pre-contingency solve overflow (the N-1 crashed). It counts as none,
    so the response falls back to sharing by Pmax."""
    prepared = SimpleNamespace(gen_pmax_mw=np.array([100.0, 300.0, 50.0]), slack_gen=0)
    full = np.array([100.0, 300.0, 50.0]) - 5e-13
    weights = response_weights(prepared, full, np.array([True, True, False]))  # type: ignore[arg-type]
    np.testing.assert_array_equal(weights, [100.0, 300.0, 0.0])


def test_merit_order_stage_beyond_the_units_headroom_runs_its_n1(catalog_grid: Callable[[str], Grid]) -> None:
    spec = StudySpec.model_validate(
        {
            "grid": {"catalog": "activsg200"},
            "site": {"bus_name": "CLINTON 1 0"},
            "stages": [{"mw": 1400}],
            "dispatch": {"rule": "merit_order"},
            "analyses": {"contingency": {}},
        }
    )
    result = run_study(spec, catalog_grid("activsg200"))
    assert result.stages[0].unserved_mw > 0  # the dispatchable units run out: the case that crashed
    stage = result.contingency.stages[1] if result.contingency is not None else None
    assert stage is not None
    assert stage.no_solution + stage.no_solution_pre_existing < stage.contingencies


def test_outages_match_plain_pandapower(clinton: Case, clinton_table: OutageTable) -> None:
    """Each outage solved again by pandapower's own Newton-Raphson (islands dropped by pandapower)."""
    table = clinton_table
    islanding = [i for i in range(len(table.contingencies)) if table.islanded_buses[i] > 0]
    generators = [i for i, c in enumerate(table.contingencies) if c.kind == "gen"]
    slack = next(i for i in generators if table.contingencies[i].position == clinton.backend.prepared.slack_gen)
    rows = sorted({*islanding[:12], *generators[::6], slack, *range(0, len(table.contingencies), 7)})
    reference = PandapowerBackend(clinton.backend.prepared, SETTINGS)
    for row in rows:
        contingency = table.contingencies[row]
        solution = solve_exact(reference, _outage_point(clinton, contingency), stage=clinton.stage, settings=SETTINGS)
        assert solution.converged, contingency.label
        np.testing.assert_array_equal(np.isnan(solution.vm_pu), np.isnan(table.vm_pu[row]), err_msg=contingency.label)
        assert np.nanmax(np.abs(solution.vm_pu - table.vm_pu[row])) <= 1e-5, contingency.label


def test_islanding_outage_reports_what_it_cuts_off(clinton: Case, clinton_table: OutageTable) -> None:
    table = clinton_table
    prepared = clinton.backend.prepared
    # a generator step-up transformer: its outage strands the generator bus
    gsu = next(
        i
        for i, c in enumerate(table.contingencies)
        if c.kind == "trafo" and table.islanded_buses[i] == 1 and table.islanded_generation_mw[i] > 0
    )
    cut_off = np.flatnonzero(np.isnan(table.vm_pu[gsu]))
    assert len(cut_off) == 1
    generators = np.flatnonzero(prepared.gen_bus == cut_off[0])
    assert table.islanded_generation_mw[gsu] == pytest.approx(clinton.stage.solution.gen_p_mw[generators].sum())


def test_outage_without_solution_is_reported(catalog_grid: Callable[[str], Grid]) -> None:
    spec = StudySpec.model_validate(
        {
            "grid": {"catalog": "activsg200"},
            "site": {"bus_name": "SPRINGFIELD 5 1"},
            "stages": [{"mw": 300}],
            "analyses": {"contingency": {"study_area": {"mode": "whole_grid"}}},
        }
    )
    result = run_study(spec, catalog_grid("activsg200"))
    assert result.contingency is not None
    stage = result.contingency.stages[-1]
    failed = [e for e in stage.events if e.status is ContingencyStatus.NO_SOLUTION]
    assert [e.contingency for e in failed] == ["line 25"]
    assert any(f.severity.value == "critical" and "line 25" in f.what for f in result.findings)
    # pandapower cannot solve that outage either
    case = _case(catalog_grid("activsg200"), "SPRINGFIELD 5 1", 300.0)
    line = next(c for c in case.contingencies if c.label == "line 25")
    assert not solve_exact(
        PandapowerBackend(case.backend.prepared, SETTINGS), _outage_point(case, line), stage=case.stage, settings=SETTINGS
    ).converged


def _two_area_net() -> pp.pandapowerNet:
    """Area 1: a meshed triangle with the only dispatchable unit and the POI; area 2, behind a tie
    line: a radial feeder with wind and load. Demand at the POI is served from area 1, so by
    construction only area 1's lines carry it."""
    net = pp.create_empty_network(sn_mva=100.0, f_hz=60.0)
    a1, a2, a3, b1, b2, b3 = (pp.create_bus(net, 230.0, name=n) for n in ("A1", "A2", "A3", "B1", "B2", "B3"))
    net.bus["area"] = [1, 1, 1, 2, 2, 2]
    line = {"length_km": 50.0, "r_ohm_per_km": 0.05, "x_ohm_per_km": 0.4, "c_nf_per_km": 9.0, "max_i_ka": 1.0}
    for f, t in ((a1, a2), (a2, a3), (a1, a3), (a2, b1), (b1, b2), (b2, b3)):
        pp.create_line_from_parameters(net, f, t, **line)
    pp.create_gen(net, a1, p_mw=150.0, vm_pu=1.02, slack=True, max_p_mw=900.0, min_p_mw=0.0, min_q_mvar=-300, max_q_mvar=300)
    pp.create_gen(net, b3, p_mw=40.0, vm_pu=1.01, max_p_mw=40.0, min_p_mw=0.0, min_q_mvar=-20, max_q_mvar=20)
    net.gen["fuel"] = ["ng", "wind"]
    pp.create_load(net, a3, p_mw=100.0, q_mvar=20.0)
    pp.create_load(net, b2, p_mw=60.0, q_mvar=10.0)
    return net


def test_study_area_is_what_the_construction_says() -> None:
    prepared = prepare_network(_two_area_net())
    backend = LightSimBackend(prepared, SETTINGS)
    poi = prepared.bus_position(2)  # A3
    base = solve_base_case(backend, poi=poi, initial=InitialVoltage.FLAT, settings=SETTINGS)
    context = dispatch_context(prepared, base, DispatchOptions())
    area = select_study_area(backend, base=base, context=context, options=StudyAreaOptions())
    assert area.branches.tolist() == [True, True, True, False, False, False]
    assert area.generators.tolist() == [True, False]
    np.testing.assert_allclose(area.flow_sensitivity[3:], 0.0, atol=0.02)  # only second-order loss effects
    whole = select_study_area(backend, base=base, context=context, options=StudyAreaOptions(mode=StudyAreaMode.WHOLE_GRID))
    assert whole.branches.all()


def test_study_reports_n1_with_attribution(catalog_grid: Callable[[str], Grid]) -> None:
    spec = StudySpec.model_validate(
        {
            "grid": {"catalog": "activsg200"},
            "site": {"bus_name": "SPRINGFIELD 5 1"},
            "stages": [{"mw": 100}, {"mw": 400}],
            "analyses": {"contingency": {}},
        }
    )
    result = run_study(spec, catalog_grid("activsg200"))
    n1 = result.contingency
    assert n1 is not None
    assert n1.study_area.mode == "sensitivity"
    assert [s.stage_index for s in n1.stages] == [0, 1, 2]
    assert all(s.contingencies == n1.contingencies for s in n1.stages)
    base, small, large = n1.stages
    assert base.with_violations == 0  # nothing is attributable without the facility
    assert large.with_violations >= small.with_violations
    for violation in large.violations:
        assert violation.status in {"new", "worsened", "marginal"}
        if violation.kind == "thermal":
            assert violation.value > violation.limit
    data = result.dataset
    assert data.sizes["contingency"] == n1.contingencies
    assert data.n1_converged.sel(stage=0).sum() == n1.contingencies - base.no_solution


def test_a_raising_check_stops_the_run_after_the_first_batch_chunk(clinton: Case, monkeypatch: pytest.MonkeyPatch) -> None:
    """The check runs after the batch, before any one-by-one solve (the generator outages here)."""

    def no_exact_solve(*_args: object, **_kwargs: object) -> None:
        raise AssertionError("an exact solve ran before the first check")

    monkeypatch.setattr(limit_passes, "_exact_row", no_exact_solve)
    calls = 0

    class Stop(Exception):
        pass

    def check() -> None:
        nonlocal calls
        calls += 1
        raise Stop

    with pytest.raises(Stop):
        _run(clinton, check=check)
    assert calls == 1


def test_an_outage_without_solution_before_the_facility_too_is_pre_existing(catalog_grid: Callable[[str], Grid]) -> None:
    """Line 25 of activsg200 has no solution at 300 MW at Springfield but has one without the
    facility; marked unsolvable in the base case too, it must stop being blamed on the facility."""
    spec = StudySpec.model_validate(
        {
            "grid": {"catalog": "activsg200"},
            "site": {"bus_name": "SPRINGFIELD 5 1"},
            "stages": [{"mw": 300}],
            "analyses": {"contingency": {"study_area": {"mode": "whole_grid"}}},
        }
    )
    plan = plan_study(spec, catalog_grid("activsg200"), progress=lambda _fraction, _step: None)
    tables = {item.stage_index: solve_part(plan, item).table for item in plan_parts(plan)}
    options = spec.analyses.contingency
    assert plan.area is not None
    assert options is not None

    def evaluate() -> ContingencyAnalysisResult:
        run = evaluate_contingency_tables(
            plan.prepared, area=plan.area, contingencies=plan.contingencies, tables=tables, solves=plan.solves,
            options=options, criteria=spec.criteria,
        )  # fmt: skip
        return run.result

    def line_25(result: ContingencyAnalysisResult) -> ContingencyStatus:
        return next(e.status for e in result.stages[1].events if e.contingency == "line 25")

    blamed = evaluate()
    assert line_25(blamed) is ContingencyStatus.NO_SOLUTION
    assert blamed.stages[1].no_solution == 1
    assert any(f.severity.value == "critical" and "line 25" in f.what for f in contingency_findings(blamed))
    row = tables[0].row("line 25")
    tables[0].converged[row], tables[0].vm_pu[row], tables[0].loading_percent[row] = False, np.nan, np.nan
    before = evaluate()
    assert line_25(before) is ContingencyStatus.NO_SOLUTION_PRE_EXISTING
    assert (before.stages[1].no_solution, before.stages[1].no_solution_pre_existing) == (0, 1)
    findings = contingency_findings(before)
    assert not any(f.severity.value == "critical" and "line 25" in f.what for f in findings)
    assert any("1 more has none without the facility either" in f.what for f in findings)
