"""Benchmarks of hosting capacity, N-1 and the Memphis example (issue: hosting capacity and N-1).

Prints our times and plain pandapower's (``lightsim2grid=False``) measured in the same run:

- N-0 hosting capacity at one POI of activsg2000 (target <= 0.15 s) vs a 14-step bisection of
  plain ``runpp`` calls;
- full AC N-1 of activsg2000, every branch outage, one stage (target <= 4 s) vs
  ``pandapower.contingency.run_contingency`` timed on a sample of outages and scaled to all of
  them (``--full-baseline`` runs all ~3,200, about 4 minutes);
- N-1-secure hosting capacity at one POI of activsg2000 (target <= 15 s);
- the Memphis example end to end (activsg70k, study-area N-1, three stages; target <= 60 s).

Our activsg2000 times are the median of ``--repeat`` runs (3 by default; the spread is printed):
on this shared 2-core VM the first run of a process is often 10-20 % slower than the next.

Run: ``make bench`` or ``.venv/bin/python benchmarks/bench_contingency.py [--quick] [--full-baseline]``.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandapower as pp
import pandapower.contingency as ppc

from grid_models.catalog.registry import load_catalog_grid
from grid_models.facility import FacilityParameters
from grid_models.grid import Grid
from grid_models.pipeline import run_study
from grid_models.pipeline.local import available_processes
from grid_models.solver.lightsim import LightSimBackend
from grid_models.solver.network import prepare_network
from grid_models.solver.types import SolverSettings
from grid_models.spec import ContingencyOptions, Criteria, DispatchOptions, HostingCapacityOptions, InitialVoltage, StudySpec
from grid_models.studies.hosting.n1 import N1Inputs, run_hosting_capacity
from grid_models.studies.n1.outages import build_contingencies, run_contingencies
from grid_models.studies.power_flow import dispatch_context, solve_base_case
from grid_models.studies.study_area import StudyArea, select_study_area

warnings.simplefilter("ignore")
ROOT = Path(__file__).parents[1]
SETTINGS = SolverSettings()
POI_2000 = 3088  # ABILENE 1 0


def _row(name: str, ours_s: float, target_s: float | None, baseline_s: float | None = None, note: str = "") -> None:
    ratio = f"{baseline_s / ours_s:8.1f}x" if baseline_s else " " * 9
    base = f"{baseline_s:10.2f}" if baseline_s else " " * 10
    verdict = "" if target_s is None else ("meets" if ours_s <= target_s else "MISSES")
    target = f"<= {target_s:g} s" if target_s is not None else ""
    print(f"{name:48} {ours_s:9.3f} {base} {ratio}  {target:9} {verdict:6} {note}", flush=True)


def _median(repeat: int, measure: Callable[[], tuple[Any, ...]]) -> tuple[float, str, tuple[Any, ...]]:
    """Median time of ``repeat`` runs of ``measure`` (which returns its time first), the spread as
    text, and the other values of the last run."""
    runs = [measure() for _ in range(repeat)]
    times = sorted(run[0] for run in runs)
    spread = f"median of {repeat}: {times[0]:.2f}-{times[-1]:.2f} s" if repeat > 1 else "1 run"
    return float(np.median(times)), spread, runs[-1][1:]


def _setup(grid: Grid):  # type: ignore[no-untyped-def]
    prepared = prepare_network(grid.net)
    backend = LightSimBackend(prepared, SETTINGS)
    base = solve_base_case(backend, poi=prepared.bus_position(POI_2000), initial=InitialVoltage.AUTO, settings=SETTINGS)
    return backend, base, dispatch_context(prepared, base, DispatchOptions())


def _plain_bisection_s(grid: Grid, steps: int = 14) -> float:
    """What a plain-pandapower user does: bisect the demand at the POI with runpp."""
    net = pp.from_json_string(pp.to_json(grid.net))
    load = pp.create_load(net, POI_2000, p_mw=0.0)
    pp.runpp(net, lightsim2grid=False, trafo_model="pi")  # numba warm-up out of the timing
    low, high = 0.0, 5000.0
    start = time.perf_counter()
    for _ in range(steps):
        middle = (low + high) / 2
        net.load.loc[load, "p_mw"] = middle
        try:
            pp.runpp(net, lightsim2grid=False, trafo_model="pi", enforce_q_lims=True)
            ok = bool(net.res_bus.vm_pu.between(0.95, 1.05).all())
        except pp.LoadflowNotConverged:
            ok = False
        low, high = (middle, high) if ok else (low, middle)
    return time.perf_counter() - start


def _n0_hosting_s(grid: Grid) -> tuple[float, float | None]:
    backend, base, context = _setup(grid)
    options = HostingCapacityOptions(n1=False, collapse=False)
    start = time.perf_counter()
    result = run_hosting_capacity(backend, base=base, context=context, options=options, criteria=Criteria(),
                                  params=FacilityParameters(), settings=SETTINGS, largest_stage_mw=0.0)  # fmt: skip
    return time.perf_counter() - start, result.limits[0].max_mw


def _full_n1_s(grid: Grid) -> tuple[float, int, int]:
    backend, base, context = _setup(grid)
    options = ContingencyOptions(generators=False)
    contingencies = build_contingencies(backend.prepared, StudyArea.whole_grid(backend.prepared), options)
    start = time.perf_counter()
    table = run_contingencies(
        backend, stage=base, contingencies=contingencies, eligible=context.eligible, options=options, settings=SETTINGS
    )
    return time.perf_counter() - start, len(contingencies), int(table.exact.sum())


def _plain_n1_s(grid: Grid, *, sample: int | None) -> tuple[float, int]:
    net = pp.from_json_string(pp.to_json(grid.net))
    lines, trafos = net.line.index[net.line.in_service], net.trafo.index[net.trafo.in_service]
    if sample is not None:
        lines, trafos = lines[:: max(len(lines) // (sample * 3 // 4), 1)], trafos[:: max(len(trafos) // (sample // 4), 1)]
    cases = {"line": {"index": lines.to_numpy()}, "trafo": {"index": trafos.to_numpy()}}
    for table in ("line", "trafo"):  # run_contingency needs the limit column to record each case's results
        net[table]["max_loading_percent"] = 100.0
    pp.runpp(net, lightsim2grid=False, trafo_model="pi")
    start = time.perf_counter()
    ppc.run_contingency(
        net,
        cases,
        contingency_evaluation_function=lambda n, **_: pp.runpp(n, lightsim2grid=False, trafo_model="pi"),
        raise_errors=True,
    )
    return time.perf_counter() - start, len(lines) + len(trafos)


def _n1_hosting_s(grid: Grid) -> tuple[float, float | None, int]:
    backend, base, context = _setup(grid)
    options = ContingencyOptions()
    start = time.perf_counter()
    area = select_study_area(backend, base=base, context=context, options=options.study_area)
    contingencies = build_contingencies(backend.prepared, area, options)
    base_table = run_contingencies(
        backend, stage=base, contingencies=contingencies, eligible=context.eligible, options=options, settings=SETTINGS
    )
    result = run_hosting_capacity(
        backend, base=base, context=context, options=HostingCapacityOptions(), criteria=Criteria(), params=FacilityParameters(),
        settings=SETTINGS, largest_stage_mw=0.0, n1=N1Inputs(contingencies, base_table, options),
    )  # fmt: skip
    n1 = next(limit for limit in result.limits if limit.criterion.value == "n1")
    return time.perf_counter() - start, n1.max_mw, len(contingencies)


def _memphis_s(cache: Path, processes: int) -> tuple[float, str]:
    """As ``gridimpact run examples/memphis_colossus.json`` runs it (one process per core by default)."""
    spec = StudySpec.model_validate(json.loads((ROOT / "examples" / "memphis_colossus.json").read_text()))
    start = time.perf_counter()
    grid = load_catalog_grid("activsg70k", cache_dir=cache)
    result = run_study(spec, grid, processes=processes)
    n1 = result.contingency
    note = f"{n1.contingencies} outages x {len(n1.stages)} runs, {sum(s.exact_solves for s in n1.stages)} exact" if n1 else ""
    return time.perf_counter() - start, f"{note}; {processes} process(es)"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="skip the Memphis example")
    parser.add_argument("--repeat", type=int, default=3, help="runs of each activsg2000 measurement (median reported)")
    parser.add_argument("--full-baseline", action="store_true", help="run pandapower's run_contingency on every outage")
    parser.add_argument(
        "--processes", type=int, default=available_processes(), help="local processes for the Memphis example (default: cores)"
    )
    args = parser.parse_args()
    cache = Path(tempfile.mkdtemp(prefix="gridimpact-bench-"))
    grid = load_catalog_grid("activsg2000", cache_dir=cache)
    print(f"{'benchmark':48} {'ours s':>9} {'plain pp s':>10} {'ratio':>9}  target")
    repeat = args.repeat
    ours, spread, (limit,) = _median(repeat, lambda: _n0_hosting_s(grid))
    plain_bisection = _plain_bisection_s(grid)
    _row("activsg2000 N-0 hosting capacity (1 MW)", ours, 0.15, plain_bisection, f"{limit:.0f} MW; plain: 14 runpp; {spread}")
    ours, spread, (count, exact) = _median(repeat, lambda: _full_n1_s(grid))
    plain, sampled = _plain_n1_s(grid, sample=None if args.full_baseline else 120)
    scaled = plain * count / sampled
    note = f"{count} outages, {exact} exact; plain {sampled} timed, scaled; {spread}"
    _row("activsg2000 full AC N-1, one stage", ours, 4.0, scaled, note)
    ours, spread, (limit_n1, count) = _median(repeat, lambda: _n1_hosting_s(grid))
    _row("activsg2000 N-1-secure hosting capacity", ours, 15.0, None, f"{limit_n1:.0f} MW over {count} outages; {spread}")
    if not args.quick:
        ours, note = _memphis_s(cache, args.processes)
        _row("Memphis example end to end (activsg70k)", ours, 60.0, None, note)
    print(f"\nnumpy {np.__version__}")


if __name__ == "__main__":
    main()
