"""Benchmarks of the study-engine foundation (issue: engine foundation, performance section).

Prints times and the ratio to plain pandapower (``runpp(..., lightsim2grid=False)``) measured in the
same run on the same machine. Targets:

- one staged AC power flow on activsg2000 <= 10 ms warm;
- activsg70k cached load <= 5 s, one staged power flow <= 1.5 s;
- the first study in a fresh process pays <= 3 s of warm-up.

Run: ``make bench`` (or ``.venv/bin/python benchmarks/bench_power_flow.py [--quick]``).
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandapower as pp

from grid_models.catalog.registry import load_catalog_grid
from grid_models.facility import FacilityParameters, StageSpec, stage_load
from grid_models.grid import Grid
from grid_models.solver.lightsim import LightSimBackend
from grid_models.solver.network import prepare_network
from grid_models.solver.types import SolverSettings
from grid_models.spec import DispatchOptions, InitialVoltage
from grid_models.studies.power_flow import dispatch_context, solve_base_case, solve_stage

warnings.simplefilter("ignore")
SETTINGS = SolverSettings()


def _median_s(action: Callable[[], object], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        action()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def _plain_runpp_s(grid: Grid, *, repeat: int, enforce_q_lims: bool) -> float:
    net = pp.from_json_string(pp.to_json(grid.net))
    init = {"init_vm_pu": net.bus.vm_case_pu.to_numpy(), "init_va_degree": net.bus.va_case_degree.to_numpy()}
    kwargs = {"lightsim2grid": False, "enforce_q_lims": enforce_q_lims, "trafo_model": "pi", "tolerance_mva": 1e-6, **init}
    pp.runpp(net, **kwargs)  # numba compilation and caches out of the timing
    return _median_s(lambda: pp.runpp(net, **kwargs), repeat)


def _staged_s(grid: Grid, *, poi_bus: int, previous_mw: float, stage_mw: float, repeat: int) -> tuple[float, int]:
    """Median time of one stage solve (dispatch + reactive limits) started from the previous stage."""
    prepared = prepare_network(grid.net)
    backend = LightSimBackend(prepared, SETTINGS)
    poi = prepared.bus_position(poi_bus)
    base = solve_base_case(backend, poi=poi, initial=InitialVoltage.AUTO, settings=SETTINGS)
    context = dispatch_context(prepared, base, DispatchOptions())
    params = FacilityParameters()
    previous = base
    if previous_mw > 0:
        load = stage_load(StageSpec(mw=previous_mw), params, index=1)
        previous = solve_stage(backend, index=1, load=load, previous=base, context=context, settings=SETTINGS)
    load = stage_load(StageSpec(mw=stage_mw), params, index=2)
    solves = []

    def one() -> None:
        solves.append(solve_stage(backend, index=2, load=load, previous=previous, context=context, settings=SETTINGS))

    one()  # the first call switches the solver to this stage's structure
    elapsed = _median_s(one, repeat)
    if not all(s.converged for s in solves):
        raise SystemExit("a timed solve did not converge: the timing would not mean anything")
    return elapsed, solves[-1].q_passes


_FRESH = """
import time, warnings
warnings.simplefilter("ignore")
t0 = time.perf_counter()
from pathlib import Path
from grid_models.catalog.registry import load_catalog_grid
from grid_models.pipeline import run_study
from grid_models.spec import StudySpec
spec = StudySpec.model_validate_json(Path("examples/abilene_stargate.json").read_text())
grid = load_catalog_grid("activsg2000", cache_dir=Path({cache!r}))
t1 = time.perf_counter(); run_study(spec, grid); t2 = time.perf_counter(); run_study(spec, grid); t3 = time.perf_counter()
print(t1 - t0, t2 - t1, t3 - t2)
"""


def _fresh_process(cache: Path) -> tuple[float, float, float]:
    root = Path(__file__).parents[1]
    out = subprocess.run(
        [sys.executable, "-c", _FRESH.format(cache=str(cache))], capture_output=True, text=True, cwd=root, check=True
    )
    imports_and_load, first, second = (float(x) for x in out.stdout.split())
    return imports_and_load, first, second


def _row(name: str, ours_s: float, target_s: float | None, baseline_s: float | None = None, note: str = "") -> None:
    ratio = f"{baseline_s / ours_s:8.1f}x" if baseline_s else " " * 9
    base = f"{baseline_s * 1000:10.1f}" if baseline_s else " " * 10
    verdict = "" if target_s is None else ("meets" if ours_s <= target_s else "MISSES")
    target = f"<= {target_s * 1000:.0f} ms" if target_s is not None else ""
    print(f"{name:46} {ours_s * 1000:10.2f} {base} {ratio}  {target:12} {verdict:6} {note}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="skip activsg70k")
    args = parser.parse_args()
    cache = Path(tempfile.mkdtemp(prefix="gridimpact-bench-"))
    print(f"{'benchmark':46} {'ours ms':>10} {'plain pp ms':>10} {'ratio':>9}  {'target':12}")
    g2000 = load_catalog_grid("activsg2000", cache_dir=cache)
    plain_q = _plain_runpp_s(g2000, repeat=5, enforce_q_lims=True)
    plain = _plain_runpp_s(g2000, repeat=5, enforce_q_lims=False)
    staged, passes = _staged_s(g2000, poi_bus=3088, previous_mw=200, stage_mw=600, repeat=20)
    _row("activsg2000 one staged PF (600 MW, warm)", staged, 0.010, plain_q, f"{passes} solves; plain runpp w/ q-lims")
    _row("activsg2000 plain runpp without q-lims", plain, None, None, "for reference")
    imports_and_load, first, second = _fresh_process(cache)
    _row("fresh process: imports + cached 2000 load", imports_and_load, None)
    _row("fresh process: warm-up of the first study", first - second, 3.0, None, f"first {first:.3f} s, second {second:.3f} s")
    if args.quick:
        return
    load_catalog_grid("activsg70k", cache_dir=cache)  # fills the cache
    cached = _median_s(lambda: load_catalog_grid("activsg70k", cache_dir=cache), 3)
    _row("activsg70k cached load", cached, 5.0)
    g70k = load_catalog_grid("activsg70k", cache_dir=cache)
    plain70 = _plain_runpp_s(g70k, repeat=1, enforce_q_lims=False)
    staged70, passes70 = _staged_s(g70k, poi_bus=31999, previous_mw=0, stage_mw=150, repeat=3)
    _row("activsg70k one staged PF (150 MW, warm)", staged70, 1.5, plain70, f"{passes70} solves; plain runpp w/o q-lims")
    print(f"\nmachine: {np.__version__=}, python {sys.version.split()[0]}")


if __name__ == "__main__":
    main()
