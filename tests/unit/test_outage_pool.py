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

import grid_models.pipeline.local as pool
from grid_models.errors import GridValidationError, SolverError, StudyCanceled, StudySpecError, ValidationIssue
from grid_models.grid import Grid
from grid_models.pipeline import Part, PartResult, StudyPlan, plan_parts, plan_study, run_study, solve_part, solve_parts_locally
from grid_models.pipeline.local import PARTS_PER_PROCESS, forked_parts
from grid_models.results import ExecutionMode, StudyResult, without_timings

from .conftest import SPRINGFIELD, quiet


def _pool_children() -> list[multiprocessing.process.BaseProcess]:
    """Live children the outage pool started (forked); other tests' spawned helpers, such as the
    API's upload-parse pool, are not this module's concern."""
    return [child for child in multiprocessing.active_children() if not type(child).__name__.startswith("Spawn")]


@pytest.fixture
def plan(catalog_grid: Callable[[str], Grid]) -> StudyPlan:
    return plan_study(SPRINGFIELD, catalog_grid("activsg200"), progress=quiet)


def test_forked_processes_give_the_one_process_result(catalog_grid: Callable[[str], Grid]) -> None:
    grid = catalog_grid("activsg200")
    alone, forked = run_study(SPRINGFIELD, grid), run_study(SPRINGFIELD, grid, processes=2)
    assert alone.provenance.execution.mode is ExecutionMode.ONE_PROCESS
    assert (forked.provenance.execution.mode, forked.provenance.execution.processes) == (ExecutionMode.LOCAL_PROCESSES, 2)
    assert (
        forked.provenance.execution.parts == len(forked_parts(plan_study(SPRINGFIELD, grid, progress=quiet), processes=2)) > 3
    )  # stages cut
    one, two = alone.model_dump(mode="json"), forked.model_dump(mode="json")
    for key in ("contingency", "hosting_capacity", "load_loss"):
        assert without_timings(two[key]) == without_timings(one[key]), key
    assert [f.what for f in forked.findings] == [f.what for f in alone.findings]
    assert not _pool_children()


def test_the_outages_are_cut_into_a_few_slices_per_process(plan: StudyPlan) -> None:
    work = forked_parts(plan, processes=2)
    stages = {item.stage_index for item in work}
    assert stages == set(plan.outage_stages)
    assert 2 * PARTS_PER_PROCESS - len(stages) <= len(work) <= 2 * PARTS_PER_PROCESS + len(stages)
    for stage in stages:  # every outage of every stage, once
        rows = sorted((item.start, item.stop) for item in work if item.stage_index == stage)
        assert rows[0][0] == 0
        assert rows[-1][1] == len(plan.contingencies)
        assert all(a[1] == b[0] for a, b in itertools.pairwise(rows))
    assert sum(item.hosting for item in work) == 1, "the N-1 hosting search stays in one slice"


def test_one_stage_is_cut_so_that_every_process_gets_outages(catalog_grid: Callable[[str], Grid]) -> None:
    spec = SPRINGFIELD.model_copy(update={"analyses": SPRINGFIELD.analyses.model_copy(update={"hosting_capacity": None})})
    one_stage = spec.model_copy(update={"stages": spec.stages[:1]})
    result: StudyResult = run_study(one_stage, catalog_grid("activsg200"), processes=2)
    assert result.provenance.execution.parts >= 2
    assert result.contingency is not None
    alone = run_study(one_stage, catalog_grid("activsg200"))
    assert without_timings(result.model_dump(mode="json")["contingency"]) == without_timings(
        alone.model_dump(mode="json")["contingency"]
    )


def _failing(item: Part) -> PartResult:
    raise StudySpecError(f"slice {item.start} cannot be solved")


def _dying(_part: Part) -> PartResult:
    os._exit(3)


@pytest.mark.parametrize(("child", "error"), [(_failing, StudySpecError), (_dying, SolverError)])
def test_a_failing_child_stops_the_run_and_leaves_no_process(
    plan: StudyPlan, monkeypatch: pytest.MonkeyPatch, child: Callable[[Part], PartResult], error: type[Exception]
) -> None:
    monkeypatch.setattr(pool, "_solve", child)
    with pytest.raises(error):
        solve_parts_locally(plan, progress=quiet, processes=2)
    assert not _pool_children()


def _interrupted_then_solved(item: Part) -> PartResult:
    os.kill(os.getpid(), signal.SIGINT)  # what Ctrl-C sends to the whole process group
    plan = pool._INHERITED.plan  # noqa: SLF001 - what a forked child inherits is the subject of this test
    assert plan is not None
    return solve_part(plan, item)


def test_children_leave_ctrl_c_to_the_parent(plan: StudyPlan, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pool, "_solve", _interrupted_then_solved)
    outages = solve_parts_locally(plan, progress=quiet, processes=2).outages
    assert set(outages.tables) == set(plan.outage_stages)
    assert not _pool_children()


def test_a_cancel_between_slices_stops_the_children(plan: StudyPlan) -> None:
    def cancel_after_first(_fraction: float, step: str) -> None:
        if "1 of" in step:
            raise StudyCanceled("canceled by the user")

    with pytest.raises(StudyCanceled):
        solve_parts_locally(plan, progress=cancel_after_first, processes=2)
    assert not _pool_children()


def test_where_forking_is_not_allowed_the_outages_run_here(plan: StudyPlan, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("grid_models.pipeline.local.can_fork", lambda: False)
    local = solve_parts_locally(plan, progress=quiet, processes=2)
    assert set(local.outages.tables) == {item.stage_index for item in plan_parts(plan)}
    assert local.execution.mode is ExecutionMode.ONE_PROCESS


def test_a_daemonic_process_may_not_fork() -> None:
    assert pool.can_fork()
    with multiprocessing.get_context("fork").Pool(1) as children:  # pool workers are daemonic
        assert children.apply(pool.can_fork) is False


def test_engine_errors_cross_the_process_boundary_intact() -> None:
    issue = ValidationIssue(element="bus", field="vn_kv", message="bus 3 has no voltage level", ids=[3])
    for error in (StudySpecError("bad slice"), GridValidationError([issue])):
        copy = pickle.loads(pickle.dumps(error))
        assert type(copy) is type(error)
        assert copy.to_dict() == error.to_dict()
