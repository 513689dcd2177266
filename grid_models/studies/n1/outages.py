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
  more than its capability or a pinned one would be released continues the PV/PQ switching of
  the N-0 solves (same tolerances) in sweep passes and then one by one
  (:mod:`grid_models.studies.n1.limit_passes`), so the results do not depend on which path solved
  an outage. Generator outages and three-winding transformers (their legs out together, one
  contingency) are always solved one by one.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np

from grid_models.errors import StudySpecError
from grid_models.solver.batch import largest_end_flow_mva, run_branch_batch
from grid_models.solver.lightsim import LightSimBackend
from grid_models.solver.network import BoolArray, PreparedNetwork
from grid_models.solver.types import FloatArray, IntArray, OperatingPoint, SolverSettings
from grid_models.spec.study import ContingencyOptions
from grid_models.studies.dispatch import room_weights, usable_room
from grid_models.studies.n1.limit_passes import Hint, exact_rows, sweep_rows
from grid_models.studies.n1.table import (
    Contingency,
    OutageContext,
    OutageTable,
    Stop,
    loading_percent,
    new_table,
    record_row,
)
from grid_models.studies.power_flow import StageSolve
from grid_models.studies.study_area import StudyArea

__all__ = ["build_contingencies", "response_weights", "run_contingencies"]


def build_contingencies(prepared: PreparedNetwork, area: StudyArea, options: ContingencyOptions) -> list[Contingency]:
    """The outages to study: the study area's in-service branches and generators.

    Raises:
        StudySpecError: more contingencies than ``options.max_contingencies``.
    """
    found: list[Contingency] = []
    if options.branches:
        found.extend(_branch_outages(prepared, area))
    if options.generators:
        for position in np.flatnonzero(area.generators):
            table, number = prepared.gen_labels[position].split()
            fuel = prepared.gen_fuel[position]
            name = f"{fuel} unit" if fuel != "unknown" else "generator"
            found.append(Contingency("gen", int(position), int(number), name, table=None if table == "gen" else table))
    if len(found) > options.max_contingencies:
        raise StudySpecError(
            f"{len(found)} contingencies exceed analyses.contingency.max_contingencies = {options.max_contingencies}; "
            "use the sensitivity study area or raise the limit"
        )
    return found


def _branch_outages(prepared: PreparedNetwork, area: StudyArea) -> list[Contingency]:
    """One contingency per in-service branch of the area, except the legs of a three-winding
    transformer: one contingency for all its in-service legs, where the first of them stands."""
    on = prepared.branch_in_service
    found: list[Contingency] = []
    seen: set[int] = set()
    for position in np.flatnonzero(area.branches & on):
        group = int(prepared.branch_group[position])
        if group < 0:
            kind, element = prepared.branch_kind[position], int(prepared.branch_element[position])
            found.append(Contingency(kind, int(position), element, prepared.branch_names[position]))
        elif group not in seen:
            seen.add(group)
            legs = np.flatnonzero((prepared.branch_group == group) & on)
            name = f"three-winding transformer ({', '.join(prepared.branch_names[leg] for leg in legs)})"
            found.append(Contingency("trafo3w", int(legs[0]), group, name, legs=tuple(int(leg) for leg in legs[1:])))
    return found


def response_weights(prepared: PreparedNetwork, gen_p_mw: FloatArray, eligible: BoolArray) -> FloatArray:
    """Post-contingency participation: headroom of the eligible units (their Pmax if none has headroom).

    Units without an upper limit (an external grid converted to a generator) take all of it, in
    equal shares: the limit of sharing in proportion to headroom when theirs is unbounded.
    """
    headroom = usable_room(np.where(eligible, np.clip(prepared.gen_pmax_mw - gen_p_mw, 0.0, None), 0.0))
    if not np.isposinf(headroom).any() and headroom.sum() <= 0:
        headroom = np.where(eligible, prepared.gen_pmax_mw, 0.0)
    return room_weights(headroom, fallback=prepared.slack_gen)


def _batch_rows(
    table: OutageTable,
    rows: IntArray,
    ctx: OutageContext,
    options: ContingencyOptions,
    *,
    check: Callable[[], None] | None,
    stop: Stop | None,
) -> dict[int, Hint | None] | None:
    """Solve branch outages in the batch (``check()`` after each chunk); returns the rows that
    need an exact solve, with a starting hint, or None when ``stop`` ended the run."""
    prep = ctx.backend.prepared
    positions = np.array([table.contingencies[r].position for r in rows], dtype=np.int64)
    pending: dict[int, Hint | None] = {}
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
                record_row(table, row, np.abs(chunk.v[i]), loading_percent(prep, flow[i], (int(position),)), ctx, exact=False)
            else:
                first = Hint(chunk.suggested_q_state[i], chunk.v[i], (ctx.stage.q_state,), 1)
                pending[row] = first if chunk.converged[i] else None
        recorded = rows[done : done + len(chunk.positions)][accepted]
        done += len(chunk.positions)
        if check is not None:
            check()
        if stop is not None and len(recorded) and stop(table, recorded):
            return None
    return pending


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
    ctx = OutageContext(backend, stage, point, settings)
    table = new_table(prep, contingencies)
    branch_rows = np.array([i for i, c in enumerate(contingencies) if len(c.branches_out) == 1], dtype=np.int64)
    use_batch = batch and len(branch_rows) > 0
    pending: dict[int, Hint | None] | None = dict.fromkeys(branch_rows.tolist())
    if use_batch:
        pending = _batch_rows(table, branch_rows, ctx, options, check=check, stop=stop)
        if pending is not None and not sweep_rows(table, pending, ctx, options, check=check, stop=stop):
            pending = None
    if pending is not None:  # generators and three-winding transformers: one by one
        pending.update(dict.fromkeys(i for i, c in enumerate(contingencies) if len(c.branches_out) != 1))
        exact_rows(table, pending, ctx, check=check, stop=stop)
    table.duration_s = time.perf_counter() - clock
    return table
