"""N-1 contingency analysis, NERC TPL-001 P1 style: one line, transformer or generator out at a time.

From a solved stage, every outage is solved to its post-contingency steady state:

- the generation schedule is kept; the power an outage takes away (a tripped generator, the
  generation and load of buses it cuts off) and the change in losses are shared by the
  dispatchable units in proportion to their headroom (a distributed slack, like governor
  response); units pinned at a reactive limit keep their active output;
- buses cut off from the slack bus are reported (with their load and generation) and the rest of
  the grid is solved; an outage without an AC solution is reported as such, never dropped;
- reactive limits are enforced: branch outages are first solved in one multi-threaded batch with
  every regulator's pre-contingency state held; an outage after which a free regulator needs
  more than its capability or a pinned one would be released is
  solved again exactly, with the PV/PQ switching of the N-0 solves (same tolerance, so the results
  do not depend on which path solved an outage). Generator outages are
  always solved exactly.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from grid_models.errors import StudySpecError
from grid_models.solver.batch import largest_end_flow_mva, run_branch_batch
from grid_models.solver.lightsim import LightSimBackend
from grid_models.solver.network import BoolArray, PreparedNetwork
from grid_models.solver.qlimits import solve_with_q_limits
from grid_models.solver.sweep import sweep_states
from grid_models.solver.types import (
    ComplexArray,
    FloatArray,
    IntArray,
    OperatingPoint,
    PowerFlowBackend,
    RawSolution,
    SolverSettings,
)
from grid_models.spec import ContingencyOptions
from grid_models.studies.evaluation import branch_flow_mva
from grid_models.studies.power_flow import StageSolve
from grid_models.studies.study_area import StudyArea

__all__ = ["Contingency", "OutageTable", "Stop", "build_contingencies", "response_weights", "run_contingencies", "solve_exact"]

Float32Array = npt.NDArray[np.float32]


@dataclass(frozen=True)
class Contingency:
    """One outage: a branch (``line``/``trafo``) or a generator, by position in the prepared net."""

    kind: str
    position: int
    element_id: int
    name: str

    @property
    def label(self) -> str:
        """``line 12``, ``trafo 3`` or ``gen 40`` (index in the grid's tables)."""
        return f"{self.kind} {self.element_id}"


@dataclass
class OutageTable:
    """Post-contingency results, one row per contingency (float32 to keep large runs small).

    ``vm_pu`` is NaN for buses cut off and rows without a solution; ``loading_percent`` is in %
    of the emergency rating, NaN for the outaged, unrated or switched-out branches.
    """

    contingencies: list[Contingency]
    converged: BoolArray
    exact: BoolArray
    vm_pu: Float32Array
    loading_percent: Float32Array
    islanded_buses: IntArray
    islanded_load_mw: FloatArray
    islanded_generation_mw: FloatArray
    duration_s: float = 0.0

    def row(self, label: str) -> int:
        """Row of a contingency given its label."""
        return next(i for i, c in enumerate(self.contingencies) if c.label == label)

    def take(self, rows: IntArray) -> OutageTable:
        """A table of the given rows only."""
        return OutageTable(
            contingencies=[self.contingencies[int(r)] for r in rows],
            converged=self.converged[rows],
            exact=self.exact[rows],
            vm_pu=self.vm_pu[rows],
            loading_percent=self.loading_percent[rows],
            islanded_buses=self.islanded_buses[rows],
            islanded_load_mw=self.islanded_load_mw[rows],
            islanded_generation_mw=self.islanded_generation_mw[rows],
        )


def build_contingencies(prepared: PreparedNetwork, area: StudyArea, options: ContingencyOptions) -> list[Contingency]:
    """The outages to study: the study area's in-service branches and generators.

    Raises:
        StudySpecError: more contingencies than ``options.max_contingencies``.
    """
    found: list[Contingency] = []
    if options.branches:
        for position in np.flatnonzero(area.branches & prepared.branch_in_service):
            kind, element = prepared.branch_kind[position], int(prepared.branch_element[position])
            found.append(Contingency(kind, int(position), element, prepared.branch_names[position]))
    if options.generators:
        for position in np.flatnonzero(area.generators):
            found.append(
                Contingency("gen", int(position), int(prepared.gen_ids[position]), f"{prepared.gen_fuel[position]} unit")
            )
    if len(found) > options.max_contingencies:
        raise StudySpecError(
            f"{len(found)} contingencies exceed analyses.contingency.max_contingencies = {options.max_contingencies}; "
            "use the sensitivity study area or raise the limit"
        )
    return found


def response_weights(prepared: PreparedNetwork, gen_p_mw: FloatArray, eligible: BoolArray) -> FloatArray:
    """Post-contingency participation: headroom of the eligible units (their Pmax if none has headroom)."""
    headroom = np.where(eligible, np.clip(prepared.gen_pmax_mw - gen_p_mw, 0.0, None), 0.0)
    headroom = np.nan_to_num(headroom, posinf=0.0)
    if headroom.sum() <= 0:
        headroom = np.where(eligible, np.nan_to_num(prepared.gen_pmax_mw, posinf=0.0), 0.0)
    if headroom.sum() <= 0:
        headroom = np.zeros_like(gen_p_mw)
        headroom[prepared.slack_gen] = 1.0
    return np.asarray(headroom, dtype=np.float64)


@dataclass
class _Context:
    backend: LightSimBackend
    stage: StageSolve
    point: OperatingPoint
    settings: SolverSettings


def _table(prepared: PreparedNetwork, contingencies: list[Contingency]) -> OutageTable:
    n = len(contingencies)
    return OutageTable(
        contingencies=contingencies,
        converged=np.zeros(n, dtype=bool),
        exact=np.zeros(n, dtype=bool),
        vm_pu=np.full((n, prepared.n_bus), np.nan, dtype=np.float32),
        loading_percent=np.full((n, prepared.n_branch), np.nan, dtype=np.float32),
        islanded_buses=np.zeros(n, dtype=np.int64),
        islanded_load_mw=np.zeros(n),
        islanded_generation_mw=np.zeros(n),
    )


def _loading(prepared: PreparedNetwork, flow_mva: FloatArray, outaged: int | None) -> FloatArray:
    rating = prepared.rate_emergency_mva
    with np.errstate(divide="ignore", invalid="ignore"):
        loading = np.where(prepared.branch_in_service & (rating > 0), flow_mva / rating * 100.0, np.nan)
    if outaged is not None:
        loading[..., outaged] = np.nan
    return np.asarray(loading, dtype=np.float64)


def _bus_load_mw(prepared: PreparedNetwork, point: OperatingPoint) -> FloatArray:
    load = prepared.net.load
    on = load.in_service.to_numpy(dtype=bool)
    per_bus = np.bincount(load.bus.to_numpy()[on], weights=load.p_mw.to_numpy(dtype=np.float64)[on], minlength=prepared.n_bus)
    if point.facility_bus >= 0:
        per_bus[point.facility_bus] += point.facility_p_mw
    return np.asarray(per_bus, dtype=np.float64)


def _record(table: OutageTable, row: int, vm: FloatArray, loading: FloatArray, ctx: _Context, *, exact: bool) -> None:
    prep = ctx.backend.prepared
    table.converged[row] = True
    table.exact[row] = exact
    table.vm_pu[row] = vm
    table.loading_percent[row] = loading
    cut_off = np.isnan(vm) & prep.net.bus.in_service.to_numpy(dtype=bool)
    if cut_off.any():
        generation = np.bincount(prep.gen_bus, weights=ctx.point.gen_p_mw, minlength=prep.n_bus)
        table.islanded_buses[row] = int(cut_off.sum())
        table.islanded_load_mw[row] = float(_bus_load_mw(prep, ctx.point)[cut_off].sum())
        table.islanded_generation_mw[row] = float(generation[cut_off].sum())


def _outage_point(ctx: _Context, contingency: Contingency) -> OperatingPoint:
    if contingency.kind == "gen":
        weights = ctx.point.slack_weights.copy() if ctx.point.slack_weights is not None else None
        if weights is not None:
            weights[contingency.position] = 0.0
        return dataclasses.replace(ctx.point, gen_out=(contingency.position,), slack_weights=weights)
    return dataclasses.replace(ctx.point, branch_out=(contingency.position,))


@dataclass(frozen=True)
class _Hint:
    """Where an outage's reactive-limit loop picks up after the batch passes: the state to solve
    next, the voltages to start from, the states already solved and the passes used."""

    state: IntArray
    v: ComplexArray
    visited: tuple[IntArray, ...]
    passes: int


def solve_exact(
    backend: PowerFlowBackend, point: OperatingPoint, *, stage: StageSolve, settings: SolverSettings, hint: _Hint | None = None
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


def _exact_row(table: OutageTable, row: int, ctx: _Context, hint: _Hint | None = None) -> None:
    contingency = table.contingencies[row]
    solution = solve_exact(ctx.backend, _outage_point(ctx, contingency), stage=ctx.stage, settings=ctx.settings, hint=hint)
    if not solution.converged:
        return
    outaged = contingency.position if contingency.kind != "gen" else None
    _record(table, row, solution.vm_pu, _loading(ctx.backend.prepared, branch_flow_mva(solution), outaged), ctx, exact=True)


Stop = Callable[[OutageTable, IntArray], bool]


def _exact_rows(
    table: OutageTable, pending: dict[int, _Hint | None], ctx: _Context, *, check: Callable[[], None] | None, stop: Stop | None
) -> None:
    with ctx.backend.chord_solves():
        for count, (row, hint) in enumerate(pending.items()):
            _exact_row(table, row, ctx, hint)
            if check is not None and count % 20 == 0:
                check()
            if stop is not None and stop(table, np.array([row])):
                break


def _batch_rows(
    table: OutageTable,
    rows: IntArray,
    ctx: _Context,
    options: ContingencyOptions,
    *,
    check: Callable[[], None] | None,
    stop: Stop | None,
) -> dict[int, _Hint | None] | None:
    """Solve branch outages in the batch (``check()`` after each chunk); returns the rows that
    need an exact solve, with a starting hint, or None when ``stop`` ended the run."""
    prep = ctx.backend.prepared
    positions = np.array([table.contingencies[r].position for r in rows], dtype=np.int64)
    pending: dict[int, _Hint | None] = {}
    done = 0
    for chunk in run_branch_batch(
        ctx.backend,
        ctx.point,
        q_state=ctx.stage.q_state,
        v_init=ctx.stage.solution.v,
        positions=positions,
        settings=ctx.settings,
        threads=options.threads,
    ):
        accepted = chunk.converged & ~chunk.needs_exact  # flows only for these: the others are solved again
        flow_mva = largest_end_flow_mva(
            np.nan_to_num(chunk.v[accepted]), ctx.backend.admittances, prep.branch_from, prep.branch_to, prep.net.sn_mva
        )
        flow = dict(zip(np.flatnonzero(accepted).tolist(), flow_mva, strict=True))
        for i, position in enumerate(chunk.positions):
            row = int(rows[done + i])
            if accepted[i]:
                _record(table, row, np.abs(chunk.v[i]), _loading(prep, flow[i], int(position)), ctx, exact=False)
            else:
                first = _Hint(chunk.suggested_q_state[i], chunk.v[i], (ctx.stage.q_state,), 1)
                pending[row] = first if chunk.converged[i] else None
        recorded = rows[done : done + len(chunk.positions)][accepted]
        done += len(chunk.positions)
        if check is not None:
            check()
        if stop is not None and len(recorded) and stop(table, recorded):
            return None
    return pending


SWEEP_ROWS = 256  # rows per sweep: its inputs are rows x loads and rows x branches


def _settled(hint: _Hint, next_state: IntArray) -> bool:
    """The loop ends at this solve: nothing switches, or it would switch back to a state already
    solved (a cycle: the solve stands, as in :func:`solve_with_q_limits`)."""
    seen = {hint.state.tobytes(), *(s.tobytes() for s in hint.visited)}
    return bool(np.array_equal(next_state, hint.state)) or next_state.tobytes() in seen


def _sweep_round(table: OutageTable, pending: dict[int, _Hint | None], rows: list[int], ctx: _Context, threads: int) -> IntArray:
    """One pass of the reactive-limit loop for ``rows``, all with the same passes used, in sweeps;
    returns the rows it settled (recorded). Rows a sweep cannot solve keep their hint."""
    prep, settings = ctx.backend.prepared, ctx.settings
    passes = next(hint.passes for row in rows if (hint := pending[row]) is not None) + 1
    settled: list[int] = []
    for first in range(0, len(rows), SWEEP_ROWS):
        chunk = rows[first : first + SWEEP_ROWS]
        hints = [pending[row] for row in chunk]
        assert all(hint is not None for hint in hints)
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
        for i, (row, hint) in enumerate(zip(chunk, hints, strict=True)):
            if hint is None or not swept.converged[i]:
                continue
            if _settled(hint, swept.next_state[i]):
                position = table.contingencies[row].position
                flow = largest_end_flow_mva(
                    np.nan_to_num(swept.v[i]), ctx.backend.admittances, prep.branch_from, prep.branch_to, prep.net.sn_mva
                )
                _record(table, row, np.abs(swept.v[i]), _loading(prep, flow, position), ctx, exact=True)
                settled.append(row)
                del pending[row]
            else:
                pending[row] = _Hint(swept.next_state[i], swept.v[i], (*hint.visited, hint.state), passes)
    return np.array(settled, dtype=np.int64)


def _sweep_rows(
    table: OutageTable,
    pending: dict[int, _Hint | None],
    ctx: _Context,
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
        settled = _sweep_round(table, pending, rows, ctx, options.threads)
        stuck.update(row for row in rows if row in pending and pending[row] is before[row])
        if check is not None:
            check()
        if stop is not None and len(settled) and stop(table, settled):
            return False


def run_contingencies(
    backend: LightSimBackend,
    *,
    stage: StageSolve,
    contingencies: list[Contingency],
    eligible: BoolArray,
    options: ContingencyOptions,
    settings: SolverSettings,
    check: Callable[[], None] | None = None,
    batch: bool = True,
    stop: Stop | None = None,
) -> OutageTable:
    """Solve every contingency from the solved ``stage`` (see module doc).

    ``batch=False`` solves every outage exactly, one by one (slower; the tests use it to show
    that results do not depend on the path). ``check()`` is called after each batch chunk and
    every 20 exact solves, and may raise to stop early (a cancel). ``stop(table, rows)`` is
    called with the rows each step settled (solved or found without solution); when it returns
    True the run ends there and the table holds only what was settled so far.
    """
    clock = time.perf_counter()
    prep = backend.prepared
    gen_p = stage.solution.gen_p_mw
    point = OperatingPoint(
        gen_p_mw=gen_p,
        facility_bus=stage.poi if stage.load is not None else -1,
        facility_p_mw=stage.load.p_mw if stage.load is not None else 0.0,
        facility_q_mvar=stage.load.q_mvar if stage.load is not None else 0.0,
        slack_weights=response_weights(prep, gen_p, eligible),
    )
    ctx = _Context(backend, stage, point, settings)
    table = _table(prep, contingencies)
    branch_rows = np.array([i for i, c in enumerate(contingencies) if c.kind != "gen"], dtype=np.int64)
    use_batch = batch and len(branch_rows) > 0
    pending: dict[int, _Hint | None] | None = dict.fromkeys(branch_rows.tolist())
    if use_batch:
        pending = _batch_rows(table, branch_rows, ctx, options, check=check, stop=stop)
        if pending is not None and not _sweep_rows(table, pending, ctx, options, check=check, stop=stop):
            pending = None
    if pending is not None:
        pending.update(dict.fromkeys(i for i, c in enumerate(contingencies) if c.kind == "gen"))
        _exact_rows(table, pending, ctx, check=check, stop=stop)
    table.duration_s = time.perf_counter() - clock
    return table
