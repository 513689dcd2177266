"""Phase 2 on several local processes: the outage slices of a plan solved in forked children.

A worker fleet spreads the slices over machines; on one machine ``run_study`` can do the same with
forked processes. The children inherit the solved plan (the grid model, the stage solutions)
through ``fork``, so nothing but the slice results crosses a process boundary. Forking is used
only where it is safe and possible: on Linux, and never from a daemonic process
(a Celery prefork child may not have children; there the fleet provides the parallelism).

A child that raises passes its exception to the parent; a child that dies (killed, out of memory)
is reported as :class:`~grid_models.errors.SolverError`; in both cases, and on Ctrl-C (which the
children ignore), the other children are stopped, so no process is left behind.
"""

from __future__ import annotations

import math
import multiprocessing
import os
import signal
import sys
from collections.abc import Callable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass

from grid_models.errors import SolverError
from grid_models.study_plan import SliceResult, StudyPlan, WorkItem, contingency_work, run_work_item

__all__ = ["SLICES_PER_PROCESS", "available_processes", "can_fork", "forked_work", "run_items_forked"]


@dataclass
class _Inherited:
    """What the forked children inherit: the plan and their share of the batch solver's threads."""

    plan: StudyPlan | None = None
    threads: int = 1


_INHERITED = _Inherited()


def available_processes() -> int:
    """CPU cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # platforms without sched_getaffinity
        return os.cpu_count() or 1


def can_fork() -> bool:
    """Whether this process may fork workers: on Linux (macOS has ``fork`` but system libraries are
    not safe to use after it) and not in a daemonic process."""
    return sys.platform.startswith("linux") and not multiprocessing.current_process().daemon


# Two slices per process: on the Memphis example (before the sweep passes) 4 slices took 137-161 s, 8 took
# 174 s and 16 (heaviest first) 164 s on this 2-core machine; finer slices only moved the progress bar more often
SLICES_PER_PROCESS = 2


def forked_work(plan: StudyPlan, *, processes: int) -> list[WorkItem]:
    """The slices for ``processes`` local processes: about ``SLICES_PER_PROCESS`` each, cut evenly
    across the stages (one slice per stage when there are already that many stages), heaviest first.

    The base case's slice that searches the N-1 hosting capacity stays whole: parts of it would
    bisect along other paths, and their extra trials would make the hosting curve denser than a
    one-process run's (the limits would not change).
    """
    work = contingency_work(plan)
    wanted = processes * SLICES_PER_PROCESS
    if len(work) < wanted:
        size = math.ceil(len(plan.contingencies) * len(plan.outage_stages) / wanted)
        work = contingency_work(plan, rows_per_item=size, hosting_rows_per_item=len(plan.contingencies))
    return sorted(work, key=lambda item: (not item.hosting, -_estimated_cost(plan, item)))


def _estimated_cost(plan: StudyPlan, item: WorkItem) -> int:
    """Heaviest slices first, so that no process is left with a long one at the end: generator
    outages are always solved one by one, branch outages often only in the batch."""
    outages = plan.contingencies[item.start : item.stop]
    return len(outages) + 2 * sum(c.kind == "gen" for c in outages)


def _solve(item: WorkItem) -> SliceResult:
    if _INHERITED.plan is None:  # pragma: no cover - only if a child was not forked by run_items_forked
        raise SolverError("outage pool child started without a plan")
    return run_work_item(_INHERITED.plan, item, threads=_INHERITED.threads)


def run_items_forked(
    plan: StudyPlan, work: list[WorkItem], *, processes: int, on_done: Callable[[int], None]
) -> Iterator[tuple[WorkItem, SliceResult]]:
    """Solve ``work`` on ``processes`` forked children; yields each slice as it finishes.

    ``on_done(count)`` is called in this process after each slice (it may raise, for example to
    cancel: the children are then stopped). The children share the cores of this process: each
    runs the batch solver on its share of them.

    Raises:
        SolverError: a child process died.
    """
    _INHERITED.plan, _INHERITED.threads = plan, max(available_processes() // processes, 1)
    children = set(multiprocessing.active_children())
    executor = ProcessPoolExecutor(
        max_workers=processes, mp_context=multiprocessing.get_context("fork"), initializer=_ignore_interrupts
    )
    finished = False
    try:
        futures: dict[Future[SliceResult], WorkItem] = {executor.submit(_solve, item): item for item in work}
        pending = set(futures)
        while pending:
            done, pending = wait(pending, return_when=FIRST_COMPLETED)
            for future in done:
                yield futures[future], future.result()
            on_done(len(futures) - len(pending))
        finished = True
    except BrokenProcessPool as exc:
        raise SolverError(f"an outage process died ({exc}); run with processes=1 to see the error in this process") from exc
    finally:
        if not finished:  # an error or a cancel: stop the children still solving
            _terminate(set(multiprocessing.active_children()) - children)
        executor.shutdown(wait=True, cancel_futures=True)
        _INHERITED.plan = None


def _ignore_interrupts() -> None:
    """Ctrl-C reaches the whole process group: the parent handles it and stops the children."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _terminate(children: set[multiprocessing.process.BaseProcess]) -> None:
    for child in children:
        child.terminate()
    for child in children:
        child.join(timeout=10)
