"""Outages solved on forked local processes: the same result as one process, and no process left
behind when a child fails, dies or the study is canceled."""

from __future__ import annotations

import itertools
import multiprocessing
import os
import pickle
import signal
from collections.abc import Callable

import pytest

import grid_models.outage_pool as pool
from grid_models.engine import run_outages, run_study
from grid_models.errors import GridValidationError, SolverError, StudyCanceled, StudySpecError, ValidationIssue
from grid_models.grid import Grid
from grid_models.outage_pool import SLICES_PER_PROCESS, forked_work
from grid_models.results import StudyResult, without_timings
from grid_models.study_plan import SliceResult, StudyPlan, WorkItem, contingency_work, plan_study, run_work_item

from .conftest import SPRINGFIELD, quiet


@pytest.fixture
def plan(catalog_grid: Callable[[str], Grid]) -> StudyPlan:
    return plan_study(SPRINGFIELD, catalog_grid("activsg200"), progress=quiet)


def test_forked_processes_give_the_one_process_result(catalog_grid: Callable[[str], Grid]) -> None:
    grid = catalog_grid("activsg200")
    alone, forked = run_study(SPRINGFIELD, grid), run_study(SPRINGFIELD, grid, processes=2)
    assert alone.provenance.execution == {"mode": "one process"}
    parts = forked.provenance.execution.pop("parts")
    assert forked.provenance.execution == {"mode": "local processes", "processes": 2}
    assert parts == len(forked_work(plan_study(SPRINGFIELD, grid, progress=quiet), processes=2)) > 3  # stages cut
    one, two = alone.model_dump(mode="json"), forked.model_dump(mode="json")
    for key in ("contingency", "hosting_capacity", "load_loss"):
        assert without_timings(two[key]) == without_timings(one[key]), key
    assert [f.what for f in forked.findings] == [f.what for f in alone.findings]
    assert not multiprocessing.active_children()


def test_the_outages_are_cut_into_a_few_slices_per_process(plan: StudyPlan) -> None:
    work = forked_work(plan, processes=2)
    stages = {item.stage_index for item in work}
    assert stages == set(plan.outage_stages)
    assert 2 * SLICES_PER_PROCESS - len(stages) <= len(work) <= 2 * SLICES_PER_PROCESS + len(stages)
    for stage in stages:  # every outage of every stage, once
        rows = sorted((item.start, item.stop) for item in work if item.stage_index == stage)
        assert rows[0][0] == 0 and rows[-1][1] == len(plan.contingencies)
        assert all(a[1] == b[0] for a, b in itertools.pairwise(rows))
    assert sum(item.hosting for item in work) == 1, "the N-1 hosting search stays in one slice"


def test_one_stage_is_cut_so_that_every_process_gets_outages(catalog_grid: Callable[[str], Grid]) -> None:
    spec = SPRINGFIELD.model_copy(update={"analyses": SPRINGFIELD.analyses.model_copy(update={"hosting_capacity": None})})
    one_stage = spec.model_copy(update={"stages": spec.stages[:1]})
    result: StudyResult = run_study(one_stage, catalog_grid("activsg200"), processes=2)
    assert result.provenance.execution["parts"] >= 2
    assert result.contingency is not None
    alone = run_study(one_stage, catalog_grid("activsg200"))
    assert without_timings(result.model_dump(mode="json")["contingency"]) == without_timings(
        alone.model_dump(mode="json")["contingency"]
    )


def _failing(item: WorkItem) -> SliceResult:
    raise StudySpecError(f"slice {item.start} cannot be solved")


def _dying(item: WorkItem) -> SliceResult:
    os._exit(3)


@pytest.mark.parametrize(("child", "error"), [(_failing, StudySpecError), (_dying, SolverError)])
def test_a_failing_child_stops_the_run_and_leaves_no_process(
    plan: StudyPlan, monkeypatch: pytest.MonkeyPatch, child: Callable[[WorkItem], SliceResult], error: type[Exception]
) -> None:
    monkeypatch.setattr(pool, "_solve", child)
    with pytest.raises(error):
        run_outages(plan, progress=quiet, processes=2)
    assert not multiprocessing.active_children()


def _interrupted_then_solved(item: WorkItem) -> SliceResult:
    os.kill(os.getpid(), signal.SIGINT)  # what Ctrl-C sends to the whole process group
    assert pool._INHERITED.plan is not None
    return run_work_item(pool._INHERITED.plan, item)


def test_children_leave_ctrl_c_to_the_parent(plan: StudyPlan, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pool, "_solve", _interrupted_then_solved)
    outages = run_outages(plan, progress=quiet, processes=2)
    assert set(outages.tables) == set(plan.outage_stages)
    assert not multiprocessing.active_children()


def test_a_cancel_between_slices_stops_the_children(plan: StudyPlan) -> None:
    def cancel_after_first(fraction: float, step: str) -> None:
        if "1 of" in step:
            raise StudyCanceled("canceled by the user")

    with pytest.raises(StudyCanceled):
        run_outages(plan, progress=cancel_after_first, processes=2)
    assert not multiprocessing.active_children()


def test_where_forking_is_not_allowed_the_outages_run_here(plan: StudyPlan, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("grid_models.engine.can_fork", lambda: False)
    outages = run_outages(plan, progress=quiet, processes=2)
    assert set(outages.tables) == {item.stage_index for item in contingency_work(plan)}
    assert plan.execution == {"mode": "one process"}


def test_a_daemonic_process_may_not_fork() -> None:
    assert pool.can_fork()
    with multiprocessing.get_context("fork").Pool(1) as children:  # pool workers are daemonic
        assert children.apply(pool.can_fork) is False


def test_engine_errors_cross_the_process_boundary_intact() -> None:
    issue = ValidationIssue(element="bus", field="vn_kv", message="bus 3 has no voltage level", ids=[3])
    for error in (StudySpecError("bad slice"), GridValidationError([issue])):
        copy = pickle.loads(pickle.dumps(error))
        assert type(copy) is type(error) and copy.to_dict() == error.to_dict()
