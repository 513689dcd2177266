"""Hosting capacity by bisection, cross-checked against a brute-force sweep of the demand."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest

from grid_models.facility import FacilityParameters, StageSpec, stage_load
from grid_models.grid import Grid
from grid_models.results import HostingCriterion
from grid_models.solver.lightsim import LightSimBackend
from grid_models.solver.network import prepare_network
from grid_models.solver.types import SolverSettings
from grid_models.spec import ContingencyOptions, Criteria, DispatchOptions, HostingCapacityOptions, InitialVoltage
from grid_models.studies.evaluation import evaluate_stage
from grid_models.studies.hosting.n1 import N1Inputs, N1Part, hosting_n1_part, run_hosting_capacity
from grid_models.studies.hosting.search import plan_hosting
from grid_models.studies.n1.outages import build_contingencies, run_contingencies
from grid_models.studies.n1.table import OutageTable
from grid_models.studies.n1.violations import attributable_mask
from grid_models.studies.power_flow import dispatch_context, solve_base_case, solve_stage
from grid_models.studies.study_area import select_study_area

SETTINGS = SolverSettings()
CRITERIA = Criteria()
PARAMS = FacilityParameters()


@pytest.fixture(scope="module")
def springfield(catalog_grid: Callable[[str], Grid]):  # type: ignore[no-untyped-def]
    prepared = prepare_network(catalog_grid("activsg200").net)
    backend = LightSimBackend(prepared, SETTINGS)
    poi = prepared.bus_position(
        int(catalog_grid("activsg200").net.bus.index[catalog_grid("activsg200").net.bus.name == "SPRINGFIELD 5 1"][0])
    )
    base = solve_base_case(backend, poi=poi, initial=InitialVoltage.AUTO, settings=SETTINGS)
    context = dispatch_context(prepared, base, DispatchOptions())
    options = ContingencyOptions()
    area = select_study_area(backend, base=base, context=context, options=options.study_area)
    contingencies = build_contingencies(prepared, area, options)
    base_table = run_contingencies(
        backend, stage=base, contingencies=contingencies, eligible=context.eligible, options=options, settings=SETTINGS
    )
    n1 = N1Inputs(contingencies, base_table, options)
    result = run_hosting_capacity(
        backend,
        base=base,
        context=context,
        options=HostingCapacityOptions(max_mw=1000.0),
        criteria=CRITERIA,
        params=PARAMS,
        settings=SETTINGS,
        largest_stage_mw=300.0,
        n1=n1,
    )
    return backend, base, context, n1, result


def _sweep(springfield, values: np.ndarray):  # type: ignore[no-untyped-def]
    """Solve each demand in order, each from the previous one (not the bisection's path)."""
    backend, base, context, _, _ = springfield
    previous, out = base, []
    for mw in values:
        stage = solve_stage(
            backend,
            index=1,
            load=stage_load(StageSpec(mw=float(mw)), PARAMS, index=1),
            previous=previous,
            context=context,
            settings=SETTINGS,
        )
        summary = evaluate_stage(backend.prepared, stage, base, criteria=CRITERIA, top_branches=0)
        out.append((float(mw), stage, summary))
        previous = stage if stage.converged else previous
    return out


def _limit(result, criterion: HostingCriterion):  # type: ignore[no-untyped-def]
    return next(limit for limit in result.limits if limit.criterion is criterion)


def test_n0_limit_matches_a_sweep(springfield) -> None:  # type: ignore[no-untyped-def]
    limit = _limit(springfield[4], HostingCriterion.N0)
    assert limit.found_limit
    assert limit.max_mw is not None
    coarse = _sweep(springfield, np.arange(10.0, limit.max_mw, 10.0))
    assert all(stage.converged and summary.new_violations == 0 for _, stage, summary in coarse)  # nothing fails below
    fine = _sweep(springfield, np.arange(np.floor(limit.max_mw) - 2, np.floor(limit.max_mw) + 4, 1.0))
    first_fail = next(mw for mw, stage, summary in fine if not stage.converged or summary.new_violations)
    assert limit.max_mw < first_fail <= limit.max_mw + 2 * springfield[4].resolution_mw
    assert limit.binding_element is not None
    assert limit.binding_kind in {"thermal", "low_voltage", "high_voltage"}


def test_collapse_limit_matches_a_sweep(springfield) -> None:  # type: ignore[no-untyped-def]
    limit = _limit(springfield[4], HostingCriterion.VOLTAGE_COLLAPSE)
    assert limit.found_limit
    assert limit.max_mw is not None
    sweep = _sweep(springfield, np.arange(np.floor(limit.max_mw) - 30, np.floor(limit.max_mw) + 10, 1.0))
    last_solved = max(mw for mw, stage, _ in sweep if stage.converged)
    assert abs(last_solved - limit.max_mw) <= 3.0


def test_n1_limit_matches_a_sweep(springfield) -> None:  # type: ignore[no-untyped-def]
    backend, _, context, n1, result = springfield
    limit = _limit(result, HostingCriterion.N1)
    n0 = _limit(result, HostingCriterion.N0)
    assert limit.found_limit
    assert limit.max_mw is not None
    assert limit.binding_outage is not None
    assert limit.max_mw <= _limit(result, HostingCriterion.VOLTAGE_COLLAPSE).max_mw  # type: ignore[operator]

    def secure(mw: float) -> bool:
        ((_, stage, _),) = _sweep(springfield, np.array([mw]))
        table = run_contingencies(
            backend, stage=stage, contingencies=n1.contingencies, eligible=context.eligible, options=n1.options, settings=SETTINGS
        )
        return not attributable_mask(table, n1.base_table, backend.prepared, CRITERIA).any()

    assert all(secure(mw) for mw in np.arange(25.0, limit.max_mw, 25.0))
    assert secure(np.floor(limit.max_mw))
    assert not secure(np.floor(limit.max_mw) + 2.0)
    assert n0.max_mw is not None


def test_curve_is_sorted_and_covers_the_search(springfield) -> None:  # type: ignore[no-untyped-def]
    result = springfield[4]
    curve = result.curve
    mw = [point.p_mw for point in curve]
    nose = _limit(result, HostingCriterion.VOLTAGE_COLLAPSE).max_mw
    assert mw == sorted(mw)
    assert mw[-1] > nose
    assert not curve[-1].converged
    solved = [point for point in curve if point.converged]
    assert all(point.worst_loading_percent is not None and point.min_vm_pu is not None for point in solved)


def test_stopping_each_trial_at_its_first_failure_changes_nothing(springfield) -> None:  # type: ignore[no-untyped-def]
    backend, base, context, n1, _ = springfield

    def part(*, early_exit: bool) -> N1Part:
        plan = plan_hosting(
            backend, base=base, context=context, options=HostingCapacityOptions(max_mw=1000.0), criteria=CRITERIA,
            params=PARAMS, settings=SETTINGS, largest_stage_mw=300.0, with_n1=True,
        )  # fmt: skip
        return hosting_n1_part(plan, n1, early_exit=early_exit)

    quick, full = part(early_exit=True), part(early_exit=False)
    assert not quick.secure
    assert quick.failure is not None
    assert (quick.low_mw, quick.high_mw, quick.failure) == (full.low_mw, full.high_mw, full.failure)
    assert [p.p_mw for p in quick.curve] == [p.p_mw for p in full.curve]


def test_a_stopped_run_holds_only_what_it_settled(springfield) -> None:  # type: ignore[no-untyped-def]
    backend, base, context, n1, _ = springfield
    seen: list[int] = []

    def stop_after_three(_table: OutageTable, rows: np.ndarray) -> bool:
        seen.extend(int(r) for r in rows)
        return len(seen) >= 3

    table = run_contingencies(
        backend, stage=base, contingencies=n1.contingencies, eligible=context.eligible, options=n1.options,
        settings=SETTINGS, batch=False, stop=stop_after_three,
    )  # fmt: skip
    assert seen == [0, 1, 2]
    assert table.converged[:3].all()
    assert not table.converged[3:].any()
