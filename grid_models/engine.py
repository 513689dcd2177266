"""``run_study``: the one entry point that runs a study spec on a grid.

Progress is reported through a callback ``progress(fraction, step)`` (fraction in [0, 1]); the
callback may raise :class:`~grid_models.errors.StudyCanceled` to stop the study between steps.
A study runs in three phases (:mod:`grid_models.study_plan`); ``run_study`` runs them in one
process, a worker fleet can spread the outages of phase 2 over many.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from functools import partial

import pandapower as pp

from grid_models.completion import complete_study
from grid_models.grid import Grid
from grid_models.outage_pool import can_fork, forked_work, run_items_forked
from grid_models.results import StudyResult
from grid_models.spec import StudySpec
from grid_models.study_plan import (
    Outages,
    SliceResult,
    StudyPlan,
    WorkItem,
    contingency_work,
    merge_slices,
    plan_study,
    run_work_item,
    solver_settings,
)

__all__ = ["ProgressCallback", "run_outages", "run_study", "solver_settings"]

logger = logging.getLogger(__name__)

ProgressCallback = Callable[[float, str], None]


def _no_progress(fraction: float, step: str) -> None:
    """Default callback: progress goes to the debug log."""
    logger.debug("study_progress fraction=%.3f step=%s", fraction, step)


def run_outages(plan: StudyPlan, *, progress: ProgressCallback, processes: int = 1) -> Outages:
    """Phase 2: every outage of every stage that needs them, in this process or, with
    ``processes`` > 1 where forking is possible, on that many forked local processes."""
    forking = processes > 1 and bool(plan.contingencies) and can_fork()
    work = forked_work(plan, processes=processes) if forking else contingency_work(plan)
    if forking and len(work) > 1:
        return _run_forked(plan, work, processes=min(processes, len(work)), progress=progress)
    slices: dict[WorkItem, SliceResult] = {}
    for number, item in enumerate(work):
        label = "base case" if item.stage_index == 0 else f"stage {item.stage_index}"
        fraction, step = 0.35 + 0.5 * number / max(len(work), 1), f"N-1: {item.stop - item.start} outages, {label}"
        progress(fraction, step)
        slices[item] = run_work_item(plan, item, check=partial(progress, fraction, step))
    return merge_slices(plan, slices)


def _run_forked(plan: StudyPlan, work: list[WorkItem], *, processes: int, progress: ProgressCallback) -> Outages:
    plan.execution = {"mode": "local processes", "processes": processes, "parts": len(work)}

    def done(count: int) -> None:
        progress(0.35 + 0.5 * count / len(work), f"N-1: {count} of {len(work)} slices solved ({processes} processes)")

    done(0)
    return merge_slices(plan, dict(run_items_forked(plan, work, processes=processes, on_done=done)))


def run_study(
    spec: StudySpec, net: Grid | pp.pandapowerNet, *, progress: ProgressCallback | None = None, processes: int = 1
) -> StudyResult:
    """Run a study on a grid.

    Parameters:
        spec: the study request.
        net: a :class:`Grid` (catalog or upload) or a plain pandapower net (never modified).
        progress: ``progress(fraction, step)``, called between steps; may raise ``StudyCanceled``.
        processes: local processes for the outages (phase 2); more than one forks children that
            inherit the solved stages (ignored where forking is not possible, e.g. in a daemonic
            process). Results do not depend on it.

    Returns:
        The typed result; ``result.dataset`` holds the arrays (write it with ``result.write``).

    Raises:
        BusNotFoundError, StudySpecError: the site does not fit the grid.
        GridValidationError: the grid cannot be solved as given (e.g. no slack generator).
        StudyCanceled: raised by the progress callback.
    """
    report = progress or _no_progress
    clock = time.perf_counter()
    grid = net if isinstance(net, Grid) else Grid.from_net(net)
    plan = plan_study(spec, grid, progress=report)
    outages = run_outages(plan, progress=report, processes=processes)
    plan.elapsed_s = time.perf_counter() - clock
    return complete_study(plan, outages, progress=report)
