"""A block of hours, solved: the unit of work an annual study is cut into (any process holding the
same plan can solve any block; a fleet spreads them over its workers).

For every hour: the operating point without the facility and with each stage (AC, reactive limits),
the N-0 violations each stage causes, the screened N-1 confirmed in AC, the POI's headroom (an
estimate, and an exact AC search where the estimate is below the search cap, so that the hours
that decide the curtailment and the headroom figures are exact), and every unit's output for the
hourly emissions.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field, fields

import numpy as np
import numpy.typing as npt

from grid_models.errors import InternalError
from grid_models.facility import StageLoad
from grid_models.solver.network import PreparedNetwork
from grid_models.solver.types import SolverSettings
from grid_models.spec.annual import AnnualOptions
from grid_models.spec.study import ContingencyOptions, Criteria
from grid_models.studies.annual.dispatch import MeritOrder
from grid_models.studies.annual.headroom import Crossing, bracket_search, n0_estimate, n1_estimate
from grid_models.studies.annual.hours import HourSolve, HourSolver
from grid_models.studies.annual.loads import HourlyLoads
from grid_models.studies.annual.screening import Sensitivities, VoltageEffects
from grid_models.studies.evaluation import branch_loading_percent, evaluate_stage, monitored_buses
from grid_models.studies.n1.outages import run_contingencies
from grid_models.studies.n1.table import Contingency, OutageTable, Stop
from grid_models.studies.n1.violations import attributable_mask
from grid_models.studies.power_flow import StageSolve

__all__ = ["BINDING_KINDS", "AnnualContext", "BlockRun", "HourBlock", "HourState", "solve_block", "windows"]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]

BINDING_KINDS = ("", "thermal", "high_voltage", "low_voltage", "no_solution")
_EXACT_ABOVE = 1.25  # an hour is searched exactly when its estimate is below the cap times this
_REFERENCE_HOURS = 3
_REFINEMENTS = 3  # secant steps of the headroom guess before the bracket search
_LOADING_FLOOR_PERCENT = 2.0  # a post-outage loading estimate within this of the limit is solved in AC, whatever the effect
_HOUR_AXIS = {"gen_base_mw": 0, "gen_stage_mw": 1}  # the arrays whose hour axis is not the last
_VOLTAGE_EFFECT_PU = 1e-3  # an outage that moves a bus by less than this at every reference hour does not flag it


@dataclass(frozen=True)
class AnnualContext:
    """What every block of an annual study shares (the plan computes it once)."""

    prepared: PreparedNetwork
    settings: SolverSettings
    criteria: Criteria
    options: AnnualOptions
    contingency_options: ContingencyOptions
    loads: HourlyLoads
    merit: MeritOrder
    peak: StageSolve
    poi: int
    power_factor: float
    stages: list[StageLoad]
    shape: FloatArray  # per hour of the profile: the facility's share of each stage's MW
    contingencies: list[Contingency]
    eligible: BoolArray
    sens: Sensitivities | None
    cap_mw: float  # the hourly headroom search stops here
    first_hour: int
    last_hour: int  # exclusive

    def hour_solver(self) -> HourSolver:
        """A solver of this study's hours (one per block or process: it keeps warm starts)."""
        return HourSolver(
            self.prepared,
            self.settings,
            loads=self.loads,
            merit=self.merit,
            peak=self.peak,
            poi=self.poi,
            power_factor=self.power_factor,
        )

    @property
    def n1(self) -> bool:
        """Whether hours are screened for N-1."""
        return self.options.n1 and bool(self.contingencies) and self.sens is not None


@dataclass
class HourBlock:
    """Hours ``start:stop`` of a study, solved (arrays over the block's hours; ``stage`` first where
    stages matter)."""

    start: int
    stop: int
    load_mw: FloatArray
    unserved_mw: FloatArray
    surplus_mw: FloatArray
    balance_mw: FloatArray  # the base solve's generation - load - losses (energy balance, should be ~0)
    base_converged: BoolArray
    stage_converged: BoolArray
    base_settled: BoolArray  # the reactive-limit loop reached a state it keeps (False: it cycled or ran out of passes)
    stage_settled: BoolArray
    facility_mw: FloatArray
    n0_violations: IntArray
    n1_violations: IntArray
    headroom_n0_mw: FloatArray
    headroom_mw: FloatArray  # N-0 and N-1 secure
    headroom_exact: BoolArray
    binding_kind: IntArray
    binding_element: IntArray
    binding_outage: IntArray
    gen_base_mw: npt.NDArray[np.float32]
    gen_stage_mw: npt.NDArray[np.float32]
    pairs_flagged: IntArray
    duration_s: float = 0.0

    @property
    def base_unsettled(self) -> BoolArray:
        """Hours solved without the facility on a reactive-limit state that did not settle."""
        return self.base_converged & ~self.base_settled

    @property
    def stage_unsettled(self) -> BoolArray:
        """Per stage: hours solved at its size on a reactive-limit state that did not settle."""
        return self.stage_converged & ~self.stage_settled

    @classmethod
    def empty(cls, start: int, stop: int, *, stages: int, gens: int) -> HourBlock:
        n = stop - start
        return cls(
            start=start,
            stop=stop,
            load_mw=np.zeros(n),
            unserved_mw=np.zeros(n),
            surplus_mw=np.zeros(n),
            balance_mw=np.full(n, np.nan),
            base_converged=np.zeros(n, dtype=np.bool_),
            stage_converged=np.zeros((stages, n), dtype=np.bool_),
            base_settled=np.zeros(n, dtype=np.bool_),
            stage_settled=np.zeros((stages, n), dtype=np.bool_),
            facility_mw=np.zeros((stages, n)),
            n0_violations=np.zeros((stages, n), dtype=np.int64),
            n1_violations=np.zeros((stages, n), dtype=np.int64),
            headroom_n0_mw=np.full(n, np.nan),
            headroom_mw=np.full(n, np.nan),
            headroom_exact=np.zeros(n, dtype=np.bool_),
            binding_kind=np.zeros(n, dtype=np.int64),
            binding_element=np.full(n, -1, dtype=np.int64),
            binding_outage=np.full(n, -1, dtype=np.int64),
            gen_base_mw=np.zeros((n, gens), dtype=np.float32),
            gen_stage_mw=np.zeros((stages, n, gens), dtype=np.float32),
            pairs_flagged=np.zeros(n, dtype=np.int64),
        )

    @classmethod
    def concat(cls, blocks: list[HourBlock]) -> HourBlock:
        """One block over consecutive blocks (in order, covering their hours once)."""
        joined: dict[str, object] = {
            "start": blocks[0].start,
            "stop": blocks[-1].stop,
            "duration_s": sum(b.duration_s for b in blocks),
        }
        for item in fields(cls):
            if item.name not in joined:
                arrays = [getattr(block, item.name) for block in blocks]
                joined[item.name] = np.concatenate(arrays, axis=_HOUR_AXIS.get(item.name, arrays[0].ndim - 1))
        return cls(**joined)  # type: ignore[arg-type]


def _balance_mw(solve: HourSolve, load_mw: float) -> float:
    sol = solve.stage.solution
    losses = float(np.nansum(sol.p_from_mw + sol.p_to_mw))
    return float(np.nansum(sol.gen_p_mw) - load_mw - solve.facility_mw - losses) if sol.converged else np.nan


def _n0_count(prepared: PreparedNetwork, solve: HourSolve, base: HourSolve, criteria: Criteria) -> int:
    if not solve.converged:
        return 0
    return evaluate_stage(prepared, solve.stage, base.stage, criteria=criteria, top_branches=0).new_violations


@dataclass
class HourState:
    """One hour in progress: its solves and its flagged outages."""

    hour: int
    demand_mw: float
    base: HourSolve
    stages: list[HourSolve]
    base_table: OutageTable | None = None  # the outages solved without the facility so far
    trials: dict[float, HourSolve] = field(default_factory=dict)  # the headroom search's solves, by MW
    failing: set[str] = field(default_factory=set)  # outages that caused an attributable violation at some size


class BlockRun:
    """One block being solved: its solver, its screening references and its exact-search budget."""

    def __init__(self, ctx: AnnualContext, start: int, stop: int, check: Callable[[], None] | None) -> None:
        """``start:stop``: one screening window (see :func:`windows`)."""
        self.ctx, self.check = ctx, check
        self.solver = ctx.hour_solver()
        self.block = HourBlock.empty(start, stop, stages=len(ctx.stages), gens=len(ctx.prepared.gen_ids))
        self.voltage: VoltageEffects | None = None
        self.flagged = 0  # the most outages flagged at one solve of the current hour
        budget = ctx.options.max_exact_hours * (stop - start) / max(ctx.last_hour - ctx.first_hour, 1)
        self.exact_left = int(np.ceil(budget))  # this block's share of the exact searches

    def tables(self, stage: StageSolve, outages: list[Contingency], *, stop: Stop | None = None) -> OutageTable:
        ctx = self.ctx
        return run_contingencies(
            self.solver.backend,
            stage=stage,
            contingencies=outages,
            eligible=ctx.eligible,
            options=ctx.contingency_options,
            settings=ctx.settings,
            check=self.check,
            stop=stop,
        )

    def reference_effects(self) -> None:
        """Each outage's largest voltage drop and rise at the window's lowest, middle and highest
        load hours, without the facility (see the screening module)."""
        ctx, block = self.ctx, self.block
        system = ctx.loads.system_mw()[block.start : block.stop]
        order = np.argsort(system, kind="stable")
        picks = sorted({int(order[0]), int(order[len(order) // 2]), int(order[-1])})[:_REFERENCE_HOURS]
        n_bus, n_out = ctx.prepared.n_bus, len(ctx.contingencies)
        drop, rise, unsolved = np.zeros((n_bus, n_out)), np.zeros((n_bus, n_out)), np.zeros(n_out, dtype=np.bool_)
        for offset in picks:
            hour = block.start + offset
            self.solver.set_hour(hour)
            solve = self.solver.solve(facility_mw=0.0)
            if not solve.converged:
                continue
            table = self.tables(solve.stage, ctx.contingencies)
            delta = np.nan_to_num(table.vm_pu.astype(np.float64) - solve.stage.solution.vm_pu[None, :]).T
            drop, rise = np.maximum(drop, -delta), np.maximum(rise, delta)
            unsolved |= ~table.converged
        self.voltage = VoltageEffects(drop, rise, unsolved)

    def _post_loading(self, solve: HourSolve, branches: IntArray) -> FloatArray:
        """Estimated post-outage loading (branches x outages, % of the emergency rating)."""
        sens, prepared = self.ctx.sens, self.ctx.prepared
        if sens is None:
            return np.zeros((len(branches), 0))
        sol = solve.stage.solution
        p = sens.post_outage_p_mw(sol.p_from_mw, sol.gen_p_mw)[branches]
        q = np.maximum(np.abs(sol.q_from_mvar), np.abs(sol.q_to_mvar))[branches, None]
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.asarray(
                np.nan_to_num(np.hypot(p, q) / prepared.rate_emergency_mva[branches, None] * 100.0), dtype=np.float64
            )

    def flags(self, hour: HourState, solve: HourSolve, scale: float) -> BoolArray:
        """Outages that may cause a violation attributable to the facility at ``scale`` times the
        size of ``solve`` (linear from the solve without it): an element the outage pushes near its
        limit (by the margin) and the facility moves by at least half the attribution threshold.
        Elements already past a post-contingency limit before any outage are N-0 matters (the
        hour's N-0 check attributes them), not the outage's."""
        ctx, voltage = self.ctx, self.voltage
        prepared, criteria, options = ctx.prepared, ctx.criteria, ctx.options
        branches = np.flatnonzero(prepared.branch_in_service & (prepared.rate_emergency_mva > 0))
        limit = criteria.emergency_loading_max_percent
        pre = np.nan_to_num(branch_loading_percent(prepared, solve.stage.solution, emergency=True)[branches, None])
        l0 = self._post_loading(hour.base, branches)
        l1 = l0 + (self._post_loading(solve, branches) - l0) * scale
        effect = l1 - pre  # what the outage adds; the estimate's error grows with it
        reach = l1 + options.screening_margin_percent / 100.0 * effect + _LOADING_FLOOR_PERCENT
        near = (reach > limit) & (effect > 0) & (pre <= limit)
        flag = (near & (l1 - l0 >= criteria.worsened_loading_percent / 2)).any(axis=0)
        if voltage is None:
            return np.asarray(flag, dtype=np.bool_)
        buses = np.flatnonzero(monitored_buses(prepared, criteria))
        low_limit, high_limit = criteria.post_contingency_vm_min_pu, criteria.post_contingency_vm_max_pu
        v0 = hour.base.stage.solution.vm_pu[buses, None]
        v1 = v0 + (solve.stage.solution.vm_pu[buses, None] - v0) * scale
        inside = (v1 >= low_limit) & (v1 <= high_limit)
        moved = np.abs(v1 - v0) >= criteria.worsened_vm_pu / 2
        widen = 1.0 + options.screening_margin_percent / 100.0  # effects vary between hours
        drop, rise = voltage.drop_pu[buses] * widen, voltage.rise_pu[buses] * widen
        low = (drop > _VOLTAGE_EFFECT_PU) & (v1 - drop < low_limit + options.screening_margin_pu)
        high = (rise > _VOLTAGE_EFFECT_PU) & (v1 + rise > high_limit - options.screening_margin_pu)
        flag |= ((low | high) & moved & inside).any(axis=0)
        islanding = ctx.sens.islanding if ctx.sens is not None else np.zeros_like(flag)
        return np.asarray(flag | islanding, dtype=np.bool_)

    def _base_for(self, hour: HourState, outages: list[Contingency]) -> OutageTable:
        """The hour's outages without the facility, solved once each (a growing cache)."""
        known = {c.label for c in hour.base_table.contingencies} if hour.base_table is not None else set()
        missing = [c for c in outages if c.label not in known]
        if missing:
            table = self.tables(hour.base.stage, missing)
            hour.base_table = table if hour.base_table is None else OutageTable.join([hour.base_table, table])
        if hour.base_table is None:
            raise InternalError("no outage solved without the facility")
        return hour.base_table

    def _violations(self, hour: HourState, solve: HourSolve, *, first_only: bool) -> int:
        """Attributable N-1 violations at ``solve`` over the outages the screen cannot clear there
        (``first_only``: stop at the first one)."""
        flags = self.flags(hour, solve, 1.0)
        outages = [self.ctx.contingencies[i] for i in np.flatnonzero(flags)]
        self.flagged = max(self.flagged, len(outages))
        if not outages:
            return 0
        base, prepared, criteria = self._base_for(hour, outages), self.ctx.prepared, self.ctx.criteria
        found = 0

        def stop(table: OutageTable, rows: IntArray) -> bool:
            nonlocal found
            settled = table.take(rows)
            mask = attributable_mask(settled, base, prepared, criteria)
            hour.failing.update(settled.contingencies[int(r)].label for r in np.flatnonzero(mask))
            found += int(mask.sum())
            return first_only and found > 0

        if first_only:  # an outage that failed at a larger size usually fails here too: try it alone first
            known = [o for o in outages if o.label in hour.failing]
            if known:
                self.tables(solve.stage, known, stop=stop)
                if found:
                    return found
                outages = [o for o in outages if o.label not in hour.failing]
        if outages:
            self.tables(solve.stage, outages, stop=stop)
        return found

    def n0_count(self, solve: HourSolve, hour: HourState) -> int:
        """Attributable N-0 violations of ``solve`` against the hour without the facility."""
        return _n0_count(self.ctx.prepared, solve, hour.base, self.ctx.criteria)

    def _n1_counts(self, hour: HourState) -> list[int]:
        """Per stage: attributable N-1 violations (0 where the stage fails N-0: insecure already)."""
        ctx, counts = self.ctx, []
        for solve in hour.stages:
            secure_n0 = solve.converged and solve.facility_mw > 0 and not _n0_count(ctx.prepared, solve, hour.base, ctx.criteria)
            counts.append(self._violations(hour, solve, first_only=False) if secure_n0 else 0)
        return counts

    def _trial(self, hour: HourState, p_mw: float) -> HourSolve:
        """The hour solved with ``p_mw`` at the POI (each size once per hour)."""
        key = round(p_mw, 6)
        if key not in hour.trials:
            hour.trials[key] = self.solver.solve(facility_mw=p_mw, label="headroom")
            if self.check is not None:
                self.check()
        return hour.trials[key]

    def _n0_secure(self, hour: HourState, p_mw: float) -> bool:
        """Whether ``p_mw`` at the POI in this hour has an AC solution without attributable N-0 violations."""
        if p_mw <= 0:
            return hour.base.converged
        solve = self._trial(hour, p_mw)
        return solve.converged and not _n0_count(self.ctx.prepared, solve, hour.base, self.ctx.criteria)

    def secure(self, hour: HourState, p_mw: float) -> bool:
        """N-0 secure and no attributable (screened, AC-confirmed) N-1 violation."""
        if not self._n0_secure(hour, p_mw):
            return False
        return p_mw <= 0 or not (self.ctx.n1 and self._violations(hour, self._trial(hour, p_mw), first_only=True))

    def _estimate(self, hour: HourState) -> tuple[Crossing, Crossing]:
        ctx = self.ctx
        largest = max(hour.stages, key=lambda s: s.facility_mw, default=None)
        if largest is None or largest.facility_mw <= 0:
            return Crossing(np.inf, "", -1), Crossing(np.inf, "", -1)
        if not largest.converged:
            nose = Crossing(largest.facility_mw, "no_solution", -1)
            return nose, nose
        n0 = n0_estimate(ctx.prepared, hour.base.stage, largest.stage, largest.facility_mw, ctx.criteria)
        if not ctx.n1 or ctx.sens is None:
            return n0, n0
        n1 = n1_estimate(
            ctx.prepared, hour.base.stage, largest.stage, largest.facility_mw, ctx.criteria, sens=ctx.sens, voltage=self.voltage
        )
        return n0, min(n0, n1, key=lambda c: c.p_mw)

    def _headroom(self, hour: HourState, index: int, *, exact: bool) -> None:
        """The hour's headroom: the estimate, and with ``exact`` the AC search (N-0, then N-1 below it)."""
        ctx, block = self.ctx, self.block
        if not hour.base.converged:
            return
        n0, both = self._estimate(hour)
        block.headroom_n0_mw[index] = min(n0.p_mw, ctx.cap_mw)
        block.headroom_mw[index] = min(both.p_mw, ctx.cap_mw)
        block.binding_kind[index] = BINDING_KINDS.index(both.kind)
        block.binding_element[index], block.binding_outage[index] = both.element, both.outage
        if not exact:
            return
        resolution = ctx.options.headroom_resolution_mw
        guess = self._refined(hour, n0.p_mw, with_n1=False)
        n0_limit = _search(lambda p: self._n0_secure(hour, p), guess=guess, cap=ctx.cap_mw, step=resolution)
        limit = n0_limit
        if ctx.n1 and n0_limit > 0 and not self.secure(hour, n0_limit):  # N-1 binds below the N-0 limit
            guess = self._refined(hour, min(both.p_mw, n0_limit), with_n1=True)
            limit = _search(lambda p: self.secure(hour, p), guess=min(guess, n0_limit), cap=n0_limit, step=resolution)
        block.headroom_n0_mw[index] = n0_limit
        block.headroom_mw[index] = limit
        block.headroom_exact[index] = True

    def _refined(self, hour: HourState, guess_mw: float, *, with_n1: bool) -> float:
        """A better first guess: the two-point estimate again from the solve at the guess, a few
        times (a secant on every element's margin; the truth is smooth but not linear)."""
        ctx, step = self.ctx, self.ctx.options.headroom_resolution_mw
        guess = float(np.clip(guess_mw, step, ctx.cap_mw))
        for _ in range(_REFINEMENTS):
            trial = self._trial(hour, guess)
            if not trial.converged:
                guess = max(guess / 2, step)
                continue
            again = n0_estimate(ctx.prepared, hour.base.stage, trial.stage, guess, ctx.criteria)
            if with_n1 and ctx.sens is not None:
                n1 = n1_estimate(
                    ctx.prepared, hour.base.stage, trial.stage, guess, ctx.criteria, sens=ctx.sens, voltage=self.voltage
                )
                again = min(again, n1, key=lambda c: c.p_mw)
            new = float(np.clip(again.p_mw, step, ctx.cap_mw))
            if abs(new - guess) < step / 2:
                return new
            guess = new
        return guess

    def load_hour(self, hour_number: int) -> HourState:
        """The hour's loads, its solve without the facility and at every stage's size."""
        ctx = self.ctx
        demand = self.solver.set_hour(hour_number)
        base = self.solver.solve(facility_mw=0.0)
        stages = [self.solver.solve(facility_mw=stage.p_mw * ctx.shape[hour_number], label=stage.label) for stage in ctx.stages]
        return HourState(hour_number, demand, base, stages)

    def solve_hour(self, hour_number: int) -> None:
        """Everything of one hour but the exact headroom search (see :meth:`search_hour`)."""
        ctx, block = self.ctx, self.block
        index = hour_number - block.start
        hour = self.load_hour(hour_number)
        base = hour.base
        block.load_mw[index] = hour.demand_mw
        block.unserved_mw[index], block.surplus_mw[index] = base.dispatch.unserved_mw, base.dispatch.surplus_mw
        block.base_converged[index] = base.converged
        block.base_settled[index] = base.stage.q_settled
        block.balance_mw[index] = _balance_mw(base, hour.demand_mw)
        block.gen_base_mw[index] = np.nan_to_num(base.stage.solution.gen_p_mw)
        for s, solve in enumerate(hour.stages):
            block.facility_mw[s, index] = solve.facility_mw
            block.stage_converged[s, index] = solve.converged
            block.stage_settled[s, index] = solve.stage.q_settled
            block.n0_violations[s, index] = _n0_count(ctx.prepared, solve, base, ctx.criteria) if base.converged else 0
            block.gen_stage_mw[s, index] = np.nan_to_num(solve.stage.solution.gen_p_mw)
        self.flagged = 0
        if ctx.n1 and base.converged:
            block.n1_violations[:, index] = self._n1_counts(hour)
        self._headroom(hour, index, exact=False)
        block.pairs_flagged[index] = self.flagged

    def decisive(self) -> list[int]:
        """The hours to search exactly: estimated below the cap (by a margin), lowest first, within
        the block's share of ``max_exact_hours``; returned in time order (for warm starts)."""
        block, ctx = self.block, self.ctx
        estimate = np.where(block.base_converged, block.headroom_mw, np.inf)
        candidates = np.flatnonzero(estimate < ctx.cap_mw * _EXACT_ABOVE)
        chosen = candidates[np.argsort(estimate[candidates], kind="stable")][: self.exact_left]
        return sorted(int(block.start + i) for i in chosen)

    def search_hour(self, hour_number: int) -> None:
        """The exact AC headroom of one hour (its loads and solves again, then the search)."""
        index = hour_number - self.block.start
        hour = self.load_hour(hour_number)
        flagged = self.block.pairs_flagged[index]
        self._headroom(hour, index, exact=True)
        self.block.pairs_flagged[index] = max(flagged, self.flagged)


def _search(passes: Callable[[float], bool], *, guess: float, cap: float, step: float) -> float:
    """The largest MW in [0, cap] that passes, to ``step``: first the guess's own bracket (a good
    estimate settles it in two solves), else a bracket search from the guess."""
    low = float(np.clip(np.floor(guess / step) * step, 0.0, cap))
    if passes(low) and (low + step > cap or not passes(low + step)):
        return low if low + step <= cap else cap
    found, _ = bracket_search(passes, guess_mw=guess, cap_mw=cap, resolution_mw=step)
    return min(found, cap)


def windows(ctx: AnnualContext, start: int, stop: int) -> list[tuple[int, int]]:
    """The screening windows of hours ``start:stop``: ``window_hours`` long, counted from the
    study's first hour (the last one shorter). A window chooses its own screening reference hours
    and gets its share of the exact searches, and its first hour starts from the peak case: the
    same window gives the same answer in any part, so results do not depend on the cut into parts.

    Raises:
        InternalError: ``start`` is not on a window boundary.
    """
    size = ctx.options.window_hours
    if (start - ctx.first_hour) % size:
        raise InternalError(f"hour block {start}-{stop} does not start on a {size}-hour screening window")
    return [(first, min(first + size, stop, ctx.last_hour)) for first in range(start, min(stop, ctx.last_hour), size)]


def solve_block(ctx: AnnualContext, start: int, stop: int, *, check: Callable[[], None] | None = None) -> HourBlock:
    """Solve hours ``start:stop`` of the profile (see module doc), window by window; ``check()``
    is called between hours and searches and may raise to stop (a cancel)."""
    return HourBlock.concat([_solve_window(ctx, first, last, check) for first, last in windows(ctx, start, stop)])


def _solve_window(ctx: AnnualContext, start: int, stop: int, check: Callable[[], None] | None) -> HourBlock:
    clock = time.perf_counter()
    run = BlockRun(ctx, start, stop, check)
    with run.solver.backend.chord_solves():  # hour to hour the Jacobian barely changes: ~10 % fewer factorisations
        if ctx.n1:
            run.reference_effects()
        run.solver.warm.clear()
        for hour in range(start, stop):
            run.solve_hour(hour)
            if check is not None:
                check()
        for hour in run.decisive():
            run.search_hour(hour)
    run.block.duration_s = time.perf_counter() - clock
    return run.block
