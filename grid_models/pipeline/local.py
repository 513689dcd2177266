"""Phase 2 on this machine: the parts of a plan solved in this process, or in forked children.

A worker fleet spreads the parts over machines; on one machine :func:`solve_parts_locally` can do
the same with forked processes. The children inherit the solved plan (the grid model, the stage
solutions) through ``fork``, so nothing but the part results crosses a process boundary. Forking
is used only where it is safe and possible: on Linux, and never from a daemonic process (a Celery
prefork child may not have children; there the fleet provides the parallelism).

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
import time
from collections.abc import Callable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from functools import partial

from grid_models.errors import SolverError
from grid_models.pipeline.parts import Outages, Part, PartKind, PartResult, merge_parts, plan_parts, solve_part
from grid_models.pipeline.plan import StudyPlan
from grid_models.pipeline.progress import ProgressCallback, parts_fraction
from grid_models.results.study import ExecutionMode, ExecutionRecord

__all__ = [
    "PARTS_PER_PROCESS",
    "LocalRun",
    "available_processes",
    "can_fork",
    "forked_parts",
    "solve_forked",
    "solve_parts_locally",
]


@dataclass(frozen=True)
class LocalRun:
    """Phase 2's output on this machine: the merged parts and how they were solved."""

    outages: Outages
    execution: ExecutionRecord


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


# About two parts per process: finer parts only moved the progress bar more often (see the README's
# performance section for the measurements)
PARTS_PER_PROCESS = 2


def forked_parts(plan: StudyPlan, *, processes: int) -> list[Part]:
    """The parts for ``processes`` local processes: outages in about ``PARTS_PER_PROCESS`` parts
    each, cut evenly across the stages (one part per stage when there are already that many stages), heaviest first.

    The base case's part that searches the N-1 hosting capacity stays whole: parts of it would
    bisect along other paths, and their extra trials would make the hosting curve denser than a
    one-process run's (the limits would not change).
    """
    wanted = processes * PARTS_PER_PROCESS
    # an annual study's hours: one screening window per part (a window's answer does not depend on
    # where it is solved, so finer parts cost nothing and report progress every week of the year)
    hours = None if plan.annual is None else plan.annual.options.window_hours
    parts = plan_parts(plan, hours_per_part=hours)
    outage_parts = [part for part in parts if part.kind is PartKind.OUTAGES]
    if outage_parts and len(outage_parts) < wanted:
        size = math.ceil(len(plan.contingencies) * len(plan.outage_stages) / wanted)
        parts = plan_parts(plan, rows_per_part=size, hosting_rows_per_part=len(plan.contingencies), hours_per_part=hours)
    return sorted(parts, key=lambda part: (not part.hosting, -_estimated_cost(plan, part)))


def _estimated_cost(plan: StudyPlan, part: Part) -> int:
    """Heaviest parts first, so that no process is left with a long one at the end: generator
    outages are always solved one by one, branch outages often only in the batch; an hour costs
    a few full solves and its screened outages."""
    if part.kind is PartKind.HOURS:
        return part.size * (20 + len(plan.contingencies))
    outages = plan.contingencies[part.start : part.stop]
    return len(outages) + 2 * sum(c.kind == "gen" for c in outages)


def solve_parts_locally(plan: StudyPlan, *, progress: ProgressCallback, processes: int = 1) -> LocalRun:
    """Every part of the plan, in this process or, with ``processes`` > 1 where forking is
    possible, on that many forked local processes. Results do not depend on ``processes``."""
    clock = time.perf_counter()
    forking = processes > 1 and (bool(plan.contingencies) or plan.annual is not None) and can_fork()
    parts = forked_parts(plan, processes=processes) if forking else plan_parts(plan)
    if forking and len(parts) > 1:
        used = min(processes, len(parts))
        outages = merge_parts(
            plan, dict(solve_forked(plan, parts, processes=used, on_done=_forked_progress(progress, parts, used)))
        )
        mode = ExecutionMode.LOCAL_PROCESSES
    else:
        used, mode = 1, ExecutionMode.ONE_PROCESS
        outages = merge_parts(plan, dict(_solve_here(plan, parts, progress)))
    execution = ExecutionRecord(
        mode=mode, processes=used, parts=len(parts), plan_s=plan.duration_s, parts_s=time.perf_counter() - clock
    )
    return LocalRun(outages, execution)


def _solve_here(plan: StudyPlan, parts: list[Part], progress: ProgressCallback) -> Iterator[tuple[Part, PartResult]]:
    for number, part in enumerate(parts):
        fraction, step = parts_fraction(number, len(parts)), _step(part)
        progress(fraction, step)
        yield part, solve_part(plan, part, check=partial(progress, fraction, step))


def _step(part: Part) -> str:
    if part.kind is PartKind.HOURS:
        return f"the year: hours {part.start}-{part.stop}"
    label = "base case" if part.stage_index == 0 else f"stage {part.stage_index}"
    return f"N-1: {part.size} outages, {label}"


def _forked_progress(progress: ProgressCallback, parts: list[Part], processes: int) -> Callable[[int], None]:
    def done(count: int) -> None:
        progress(parts_fraction(count, len(parts)), f"{count} of {len(parts)} parts solved ({processes} processes)")

    done(0)
    return done


def _solve(part: Part) -> PartResult:
    if _INHERITED.plan is None:  # pragma: no cover - only if a child was not forked by solve_forked
        raise SolverError("outage pool child started without a plan")
    return solve_part(_INHERITED.plan, part, threads=_INHERITED.threads)


def solve_forked(
    plan: StudyPlan, parts: list[Part], *, processes: int, on_done: Callable[[int], None]
) -> Iterator[tuple[Part, PartResult]]:
    """Solve ``parts`` on ``processes`` forked children; yields each part as it finishes.

    ``on_done(count)`` is called in this process after each part (it may raise, for example to
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
        futures: dict[Future[PartResult], Part] = {executor.submit(_solve, part): part for part in parts}
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
