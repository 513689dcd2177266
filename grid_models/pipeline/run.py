"""``run_study``: a whole study on this machine, from spec and grid to result.

It runs the pipeline's phases (:mod:`grid_models.pipeline`) in order: the plan, the parts (in this
process or on forked local processes) and the completion. The worker fleet runs the same phase
functions, spread over its workers.
"""

from __future__ import annotations

import logging

import pandapower as pp

from grid_models.catalog.profiles import LoadProfile
from grid_models.grid import Grid
from grid_models.pipeline.completion import complete_study
from grid_models.pipeline.local import solve_parts_locally
from grid_models.pipeline.plan import StudyPlan, plan_study
from grid_models.pipeline.progress import ProgressCallback
from grid_models.results.study import StudyResult
from grid_models.spec.study import StudySpec

__all__ = ["finish_here", "run_study"]

logger = logging.getLogger(__name__)


def _no_progress(fraction: float, step: str) -> None:
    """Default callback: progress goes to the debug log."""
    logger.debug("study_progress fraction=%.3f step=%s", fraction, step)


def finish_here(plan: StudyPlan, *, progress: ProgressCallback, processes: int = 1) -> StudyResult:
    """Phases 2 and 3 of a planned study on this machine: solve every part (on ``processes``
    forked processes where possible), merge them and complete the result."""
    local = solve_parts_locally(plan, progress=progress, processes=processes)
    return complete_study(plan, local.outages, execution=local.execution, started_at=plan.started_at, progress=progress)


def run_study(
    spec: StudySpec,
    net: Grid | pp.pandapowerNet,
    *,
    progress: ProgressCallback | None = None,
    processes: int = 1,
    profile: LoadProfile | None = None,
) -> StudyResult:
    """Run a study on a grid.

    Parameters:
        spec: the study request.
        net: a :class:`Grid` (catalog or upload) or a plain pandapower net (never modified).
        progress: ``progress(fraction, step)``, called between steps; may raise ``StudyCanceled``.
        processes: local processes for the parts (phase 2); more than one forks children that
            inherit the solved stages (ignored where forking is not possible, e.g. in a daemonic
            process). Results do not depend on it.
        profile: the hourly profile an annual study names as an upload
            (:func:`grid_models.catalog.profiles.parse_profile_csv`).

    Returns:
        The typed result; ``result.dataset`` holds the arrays (write it with ``result.write``).

    Raises:
        BusNotFoundError, StudySpecError: the site does not fit the grid.
        GridValidationError: the grid cannot be solved as given (e.g. no slack generator).
        StudyCanceled: raised by the progress callback.
    """
    report = progress or _no_progress
    grid = net if isinstance(net, Grid) else Grid.from_net(net)
    return finish_here(plan_study(spec, grid, progress=report, profile=profile), progress=report, processes=processes)
