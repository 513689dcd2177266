"""The reactive-limit loop of outages after the first batch: sweep passes, then one by one.

An outage after which a regulator leaves its capability (or a pinned one would be released)
continues the PV/PQ loop of :func:`grid_models.solver.qlimits.solve_with_q_limits` from where the
batch left it: first in sweep rounds (:mod:`grid_models.solver.sweep`, one pass per round for
every such outage at once, while releases are allowed), then one by one with
:func:`solve_exact`, which picks up each loop exactly where the sweeps left it. Both paths follow
the same sequence of states, so results do not depend on which one settled an outage.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from grid_models.solver.batch import largest_end_flow_mva
from grid_models.solver.qlimits import solve_with_q_limits
from grid_models.solver.sweep import SweepRows, sweep_states
from grid_models.solver.types import ComplexArray, IntArray, OperatingPoint, PowerFlowBackend, RawSolution, SolverSettings
from grid_models.spec.study import ContingencyOptions
from grid_models.studies.evaluation import branch_flow_mva
from grid_models.studies.n1.table import OutageContext, OutageTable, Stop, loading_percent, outage_point, record_row
from grid_models.studies.power_flow import StageSolve

__all__ = ["Hint", "exact_rows", "solve_exact", "sweep_rows"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Hint:
    """Where an outage's reactive-limit loop picks up after the batch passes: the state to solve
    next, the voltages to start from, the states already solved and the passes used."""

    state: IntArray
    v: ComplexArray
    visited: tuple[IntArray, ...]
    passes: int


def solve_exact(
    backend: PowerFlowBackend, point: OperatingPoint, *, stage: StageSolve, settings: SolverSettings, hint: Hint | None = None
) -> RawSolution:
    """One outage solved with reactive-limit switching.

    Continues the loop the batch passes started (``hint``) when given, then starts over from the
    pre-contingency state, then from a DC start.
    """
    if hint is not None:
        result = solve_with_q_limits(
            backend,
            point,
            initial_state=hint.state,
            v_init=hint.v,
            settings=settings,
            visited=hint.visited,
            passes_done=hint.passes,
        )
        if result.solution.converged:
            return result.solution
    for v_start in (stage.solution.v, None):
        result = solve_with_q_limits(backend, point, initial_state=stage.q_state, v_init=v_start, settings=settings)
        if result.solution.converged:
            return result.solution
    return result.solution


def _exact_row(table: OutageTable, row: int, ctx: OutageContext, hint: Hint | None = None) -> None:
    contingency = table.contingencies[row]
    solution = solve_exact(ctx.backend, outage_point(ctx, contingency), stage=ctx.stage, settings=ctx.settings, hint=hint)
    if not solution.converged:
        return
    outaged = contingency.branches_out
    record_row(
        table, row, solution.vm_pu, loading_percent(ctx.backend.prepared, branch_flow_mva(solution), outaged), ctx, exact=True
    )


def exact_rows(
    table: OutageTable,
    pending: dict[int, Hint | None],
    ctx: OutageContext,
    *,
    check: Callable[[], None] | None,
    stop: Stop | None,
) -> None:
    with ctx.backend.chord_solves():
        for count, (row, hint) in enumerate(pending.items()):
            _exact_row(table, row, ctx, hint)
            if check is not None and count % 20 == 0:
                check()
            if stop is not None and stop(table, np.array([row])):
                break


SWEEP_ROWS = 256  # rows per sweep: its inputs are rows x loads and rows x branches


def _settled(hint: Hint, next_state: IntArray) -> bool:
    """The loop ends at this solve: nothing switches, or it would switch back to a state already
    solved (a cycle: the solve stands, as in :func:`solve_with_q_limits`)."""
    seen = {hint.state.tobytes(), *(s.tobytes() for s in hint.visited)}
    return bool(np.array_equal(next_state, hint.state)) or next_state.tobytes() in seen


def _take(
    table: OutageTable, pending: dict[int, Hint | None], chunk: list[int], swept: SweepRows, *, ctx: OutageContext, passes: int
) -> list[int]:
    """Record the rows a sweep settled (returned) and move the others on to their next state."""
    prep = ctx.backend.prepared
    settled: list[int] = []
    for i, row in enumerate(chunk):
        hint = pending[row]
        if hint is None or not swept.converged[i]:
            continue
        if _settled(hint, swept.next_state[i]):
            flow = largest_end_flow_mva(
                np.nan_to_num(swept.v[i]), ctx.backend.admittances, prep.branch_from, prep.branch_to, prep.net.sn_mva
            )
            outaged = table.contingencies[row].branches_out
            record_row(table, row, np.abs(swept.v[i]), loading_percent(prep, flow, outaged), ctx, exact=True)
            settled.append(row)
            del pending[row]
        else:
            pending[row] = Hint(swept.next_state[i], swept.v[i], (*hint.visited, hint.state), passes)
    return settled


def _sweep_round(
    table: OutageTable,
    pending: dict[int, Hint | None],
    rows: list[int],
    ctx: OutageContext,
    *,
    threads: int,
    check: Callable[[], None] | None,
    stop: Stop | None,
) -> str:
    """One pass of the reactive-limit loop for ``rows``, all with the same passes used, in sweeps
    of ``SWEEP_ROWS``. Returns ``"done"``, ``"stopped"`` (``stop`` ended the run) or ``"refused"``
    (lightsim2grid refused a sweep: the rest goes one by one). Rows a sweep cannot solve keep
    their hint."""
    settings = ctx.settings
    passes = next(hint.passes for row in rows if (hint := pending[row]) is not None) + 1
    for first in range(0, len(rows), SWEEP_ROWS):
        chunk = rows[first : first + SWEEP_ROWS]
        hints = [pending[row] for row in chunk]
        try:
            swept = sweep_states(
                ctx.backend,
                ctx.point,
                positions=np.array([table.contingencies[row].position for row in chunk], dtype=np.int64),
                states=np.array([hint.state for hint in hints if hint is not None]),
                stage_state=ctx.stage.q_state,
                v_init=ctx.stage.solution.v,
                settings=settings,
                allow_release=passes < settings.max_q_passes // 2,
                threads=threads,
            )
        except (RuntimeError, ValueError, IndexError) as exc:  # a grid the sweep cannot express: one by one instead
            logger.warning("sweep_failed rows=%d error=%s; solving them one by one", len(chunk), exc)
            return "refused"
        settled = _take(table, pending, chunk, swept, ctx=ctx, passes=passes)
        if check is not None:  # a chunk of a large grid takes tens of seconds: let a cancel in
            check()
        if stop is not None and settled and stop(table, np.array(settled, dtype=np.int64)):
            return "stopped"
    return "done"


def sweep_rows(
    table: OutageTable,
    pending: dict[int, Hint | None],
    ctx: OutageContext,
    options: ContingencyOptions,
    *,
    check: Callable[[], None] | None,
    stop: Stop | None,
) -> bool:
    """Run the reactive-limit loop of the branch outages the batch flagged in sweeps, one pass per
    round, while releases are still allowed (the one-by-one path finishes the rest from where the
    sweeps left each row). Returns False when ``stop`` ended the run."""
    stuck: set[int] = set()
    while True:
        rows = [row for row, hint in pending.items() if hint is not None and row not in stuck]
        passes = {pending[row].passes for row in rows}  # type: ignore[union-attr]
        if len(rows) < 2 or max(passes) + 1 >= ctx.settings.max_q_passes // 2:
            return True
        before = {row: pending[row] for row in rows}
        outcome = _sweep_round(table, pending, rows, ctx, threads=options.threads, check=check, stop=stop)
        stuck.update(row for row in rows if row in pending and pending[row] is before[row])
        if outcome != "done":
            return outcome == "refused"
