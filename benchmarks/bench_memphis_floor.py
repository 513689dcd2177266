"""How fast the Memphis example could be with this solver at best (issue: hosting capacity and N-1).

The Memphis target (<= 60 s end to end on the 2-core machine) is missed; this script measures why.
For each run of the study-area outages of ``examples/memphis_colossus.json`` on activsg70k (the
base case and three stages), one process, one solver thread:

- ``engine``: the N-1 as the engine solves it (batch, sweep passes of the reactive-limit loop,
  one-by-one solves);
- ``known limits``: one lightsim2grid sweep of the same branch outages where every outage is
  already in its final regulator state, read off the engine's own solution (a regulator whose bus
  voltage is off its set-point sits at a limit: qmax below it, qmin above it). This is what the
  N-1 would cost if every outage's reactive limits were known before solving it: one
  factorisation and one chord solve per outage, nothing else;
- ``generators``: the generator outages, which are always solved one by one.

The floor printed last is a lower bound for the end-to-end run on ``--cores`` cores: the plan
(grid model, stage solves, study area, N-0 and nose hosting search, all serial) plus the
known-limits and generator times shared perfectly among the cores; it leaves out the outages
without an AC solution and everything after the N-1 (load loss, emissions, the result), so the
real floor is higher.

Run: ``.venv/bin/python benchmarks/bench_memphis_floor.py`` (about 5 minutes).
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np

from grid_models.catalog.registry import load_catalog_grid
from grid_models.pipeline.plan import StudyPlan, contingency_options, plan_study
from grid_models.solver.network import BoolArray, PreparedNetwork
from grid_models.solver.sweep import sweep_states
from grid_models.solver.types import Q_AT_MAX, Q_AT_MIN, Q_FREE, IntArray, OperatingPoint
from grid_models.spec import StudySpec
from grid_models.studies.n1.outages import response_weights, run_contingencies
from grid_models.studies.n1.table import OutageTable
from grid_models.studies.power_flow import StageSolve

warnings.simplefilter("ignore")
ROOT = Path(__file__).parents[1]


def outage_point(prep: PreparedNetwork, stage: StageSolve, eligible: BoolArray) -> OperatingPoint:
    """The post-contingency operating point, as :func:`run_contingencies` builds it."""
    gen_p = stage.solution.gen_p_mw
    load = stage.load
    return OperatingPoint(
        gen_p_mw=gen_p,
        facility_bus=stage.poi if load is not None else -1,
        facility_p_mw=load.p_mw if load is not None else 0.0,
        facility_q_mvar=load.q_mvar if load is not None else 0.0,
        slack_weights=response_weights(prep, gen_p, eligible),
    )


def final_states(prep: PreparedNetwork, stage: StageSolve, table: OutageTable, rows: list[int]) -> IntArray:
    """Each row's regulator state read off its solved voltages."""
    movable = ~prep.group_is_slack & ~prep.group_fixed_q
    vm = table.vm_pu[rows][:, prep.group_bus].astype(np.float64)
    off = np.abs(vm - prep.group_vm_set_pu) > 1e-5  # float32 results: 6e-8 resolution
    side = np.where(vm < prep.group_vm_set_pu, Q_AT_MAX, Q_AT_MIN)
    states = np.tile(stage.q_state, (len(rows), 1))
    energised = np.isfinite(vm)
    pinned = movable & off & energised
    states[pinned] = side[pinned]
    states[movable & ~off & energised] = Q_FREE
    return states


def _run(plan: StudyPlan, stage: StageSolve) -> tuple[float, float, float, int]:
    options = contingency_options(plan.spec)
    if options is None or plan.context is None:
        raise SystemExit("the Memphis example asks for no N-1")
    options = options.model_copy(update={"threads": 1})
    solve = {"eligible": plan.context.eligible, "options": options, "settings": plan.settings}
    start = time.perf_counter()
    table = run_contingencies(plan.backend, stage=stage, contingencies=plan.contingencies, **solve)  # type: ignore[arg-type]
    engine_s = time.perf_counter() - start
    gens = [c for c in plan.contingencies if c.kind == "gen"]
    start = time.perf_counter()
    run_contingencies(plan.backend, stage=stage, contingencies=gens, **solve)  # type: ignore[arg-type]
    gens_s = time.perf_counter() - start
    rows = [i for i, c in enumerate(plan.contingencies) if c.kind != "gen" and table.converged[i]]
    positions = np.array([plan.contingencies[i].position for i in rows], dtype=np.int64)
    start = time.perf_counter()
    with plan.backend.chord_solves():
        sweep_states(
            plan.backend,
            outage_point(plan.backend.prepared, stage, plan.context.eligible),
            positions=positions,
            states=final_states(plan.backend.prepared, stage, table, rows),
            stage_state=stage.q_state,
            v_init=stage.solution.v,
            settings=plan.settings,
            allow_release=True,
            threads=1,
        )
    return engine_s, time.perf_counter() - start, gens_s, len(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cores", type=int, default=2, help="cores the floor shares the outages among (default 2)")
    args = parser.parse_args()
    spec = StudySpec.model_validate(json.loads((ROOT / "examples" / "memphis_colossus.json").read_text()))
    grid = load_catalog_grid("activsg70k", cache_dir=Path(tempfile.mkdtemp(prefix="gridimpact-bench-")))
    start = time.perf_counter()
    plan = plan_study(spec, grid, progress=lambda _fraction, _step: None)
    plan_s = time.perf_counter() - start
    print(f"plan (stage solves, study area, N-0 and nose hosting search): {plan_s:.1f} s")
    print(f"{'run':28} {'engine s':>9} {'known limits s':>15} {'branch rows':>12} {'generators s':>13}")
    totals = np.zeros(3)
    for index in plan.outage_stages:
        stage = next(s for s in plan.solves if s.index == index)
        engine_s, known_s, gens_s, rows = _run(plan, stage)
        totals += (engine_s, known_s, gens_s)
        label = stage.load.label if stage.load is not None else "base case"
        print(f"{label[:28]:28} {engine_s:9.1f} {known_s:15.1f} {rows:12d} {gens_s:13.1f}", flush=True)
    print(f"{'total':28} {totals[0]:9.1f} {totals[1]:15.1f} {'':12} {totals[2]:13.1f}")
    floor = plan_s + (totals[1] + totals[2]) / args.cores
    print(f"\nfloor with every outage's reactive limits known, {args.cores} cores: {floor:.0f} s (target 60 s)")


if __name__ == "__main__":
    main()
