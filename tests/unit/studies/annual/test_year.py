"""The year hour by hour on activsg200 (its own 2017 zonal scenarios), a 450 MW campus at CLINTON
1 0: energy balance in every hour, the same result twice, the screened N-1 against an exhaustive
AC N-1, and the exact hourly headroom against a brute-force sweep of the demand."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import numpy as np
import pytest

from grid_models.errors import InternalError
from grid_models.grid import Grid
from grid_models.pipeline import StudyPlan, plan_study
from grid_models.results import ViolationStatus
from grid_models.spec import StudySpec
from grid_models.studies.annual.block import AnnualContext, BlockRun, HourBlock, HourState, solve_block
from grid_models.studies.n1.table import Contingency
from grid_models.studies.n1.violations import evaluate_contingencies

_COMPARED = ("headroom_mw", "headroom_n0_mw", "headroom_exact", "n1_violations", "gen_stage_mw", "balance_mw", "pairs_flagged")
SPEC = {
    "grid": {"catalog": "activsg200"},
    "site": {"bus_name": "CLINTON 1 0"},
    "stages": [{"label": "campus", "mw": 450}],
    "analyses": {"annual": {"hours": [0, 8760]}},
}


@pytest.fixture(scope="module")
def plan(catalog_grid: Callable[[str], Grid]) -> StudyPlan:
    return plan_study(StudySpec.model_validate(SPEC), catalog_grid("activsg200"), progress=lambda _f, _s: None, hosting=False)


@pytest.fixture(scope="module")
def context(plan: StudyPlan) -> AnnualContext:
    assert plan.annual is not None
    return plan.annual


@pytest.fixture(scope="module")
def two_days(context: AnnualContext) -> HourBlock:
    return solve_block(context, 3024, 3072)  # two days, from a (one-week) screening window's start


def test_every_hour_solves_and_balances(two_days: HourBlock) -> None:
    assert two_days.base_converged.all()
    assert two_days.stage_converged.all()
    assert np.nanmax(np.abs(two_days.balance_mw)) < 1e-3  # generation - load - losses, MW
    assert (two_days.unserved_mw < 1e-6).all()
    campus = two_days.gen_stage_mw[0].sum(axis=1) - two_days.gen_base_mw.sum(axis=1)
    np.testing.assert_allclose(campus, 450.0, rtol=0.03)  # the units serve the campus, plus its losses


def test_the_same_inputs_give_the_same_result(context: AnnualContext, two_days: HourBlock) -> None:
    again = solve_block(context, 3024, 3072)
    for name in _COMPARED:
        np.testing.assert_array_equal(getattr(again, name), getattr(two_days, name), err_msg=name)


def test_the_result_does_not_depend_on_the_cut_into_parts(context: AnnualContext) -> None:
    daily = dataclasses.replace(context, options=context.options.model_copy(update={"window_hours": 24}))
    whole = solve_block(daily, 3024, 3072)
    halves = HourBlock.concat([solve_block(daily, 3024, 3048), solve_block(daily, 3048, 3072)])
    for name in _COMPARED:
        np.testing.assert_array_equal(getattr(halves, name), getattr(whole, name), err_msg=name)
    with pytest.raises(InternalError, match="screening window"):
        solve_block(daily, 3030, 3048)


def _window_run(context: AnnualContext, runs: dict[int, BlockRun], hour: int) -> BlockRun:
    """The hour's screening window as the study solves it (its own reference hours)."""
    size = context.options.window_hours
    start = context.first_hour + (hour - context.first_hour) // size * size
    if start not in runs:
        runs[start] = BlockRun(context, start, min(start + size, context.last_hour), None)
        runs[start].reference_effects()
    return runs[start]


def _attributable(run: BlockRun, hour: HourState, outages: list[Contingency]) -> set[tuple[str, str, str]]:
    """Every (outage, element, kind) with a violation attributable to the campus, solved in AC."""
    if not outages:
        return set()
    solve = hour.stages[0]
    base = run.tables(hour.base.stage, outages)
    table = run.tables(solve.stage, outages)
    result = evaluate_contingencies(run.ctx.prepared, table, base_table=base, stage=solve.stage, criteria=run.ctx.criteria)
    assert result.violations_truncated == 0
    counted = (ViolationStatus.NEW, ViolationStatus.WORSENED)
    return {(v.contingency, v.monitored, v.kind.value) for v in result.violations if v.status in counted}


def _sampled_hours(context: AnnualContext, count: int, stressed: int) -> list[int]:
    system = context.loads.system_mw()
    order = np.argsort(-system, kind="stable")
    chosen = order[:stressed].tolist()
    rest = np.random.default_rng(7).choice(order[stressed:], size=count - stressed, replace=False).tolist()
    return sorted(chosen + rest)


@pytest.mark.slow  # 200 hours, every study-area outage in AC with and without the campus (about a minute)
def test_the_screen_misses_no_violation_the_exhaustive_n1_finds(context: AnnualContext) -> None:
    runs: dict[int, BlockRun] = {}
    hours = _sampled_hours(context, 200, 50)
    compared = violating = 0
    for number in hours:
        run = _window_run(context, runs, number)
        hour = run.load_hour(number)
        solve = hour.stages[0]
        if not (hour.base.converged and solve.converged) or run.n0_count(solve, hour):
            continue  # N-1 is judged where the size passes N-0 (an hour that fails N-0 is insecure already)
        flagged = [context.contingencies[i] for i in np.flatnonzero(run.flags(hour, solve, 1.0))]
        exhaustive = _attributable(run, hour, context.contingencies)
        assert _attributable(run, hour, flagged) == exhaustive, f"hour {number}"
        compared += 1
        violating += bool(exhaustive)
    assert compared >= 150
    assert violating >= 5, "the sample must hold hours where N-1 binds, or the comparison proves little"


@pytest.mark.slow  # a 5 MW sweep around the answer in a few hours, each step with its screened N-1
def test_the_exact_headroom_is_where_a_brute_force_sweep_first_fails(context: AnnualContext) -> None:
    hours = _sampled_hours(context, 4, 2)
    runs: dict[int, BlockRun] = {}
    step = context.options.headroom_resolution_mw
    for number in hours:
        run = _window_run(context, runs, number)
        run.exact_left = 1
        run.search_hour(number)
        found = float(run.block.headroom_mw[number - run.block.start])
        hour = run.load_hour(number)
        sweep = np.arange(max(found - 12 * step, 0.0), min(found + 6 * step, context.cap_mw) + 1e-9, step)
        passes = [run.secure(hour, float(p)) for p in sweep]
        first_fail = next((p for p, ok in zip(sweep, passes, strict=True) if not ok), None)
        assert all(passes[: int(np.searchsorted(sweep, found, side="right"))]), f"hour {number}: a size below the answer fails"
        if found < context.cap_mw:
            assert first_fail is not None, f"hour {number}: nothing fails above {found:.1f} MW"
            assert found < first_fail <= found + step + 1e-6, f"hour {number}: {found:.1f} MW vs first failure {first_fail:.1f}"
