"""The annual study (issue: a year, hour by hour), timed against references measured in the same run.

References (N-0 only, the hours of ``examples/abilene_annual.json``: activsg2000, its 2016 area
profile, the same hourly loads, shunts and merit-order dispatch the study uses):

- plain pandapower ``run_timeseries`` (Newton-Raphson with reactive limits, ``lightsim2grid=False``)
  on a sample of 200 hours (8 runs of 25 consecutive hours spread over the year), scaled to the
  year and to two solves an hour (with and without the campus);
- lightsim2grid's C++ time-series solver (``TimeSeriesCPP``) on every hour with the same dispatch
  but no reactive limits and the case's shunts: the floor for N-0 alone;
- our own N-0 (``HourSolver``: reactive limits, with and without the campus) on the same sample.

Targets on the 2-core machine: the whole annual study through ``gridimpact run`` (N-0 every hour
with and without the campus, screened N-1 with AC confirmation, hourly headroom, curtailment,
hourly emissions, result and report) <= 150 s, peak memory <= 4 GB (the sum over the process tree,
sampled every 0.2 s); through the service, the 1 -> 2 worker ratio on a shorter window.

The floor (``--only floor --pairs N --exact-hours M``, or after the year's study with its counts):
a lower bound for the whole study with this solver, from its unavoidable AC solves (two an hour,
the pairs the screen confirms with and without the campus, two trials per exact hour), each timed
as if its reactive-limit state were known in advance (one chord solve), shared perfectly by the
cores.

Run: ``make bench-annual`` (``--quick``: the study on one week instead of the year).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pandapower as pp
import pandas as pd
from pandapower.control import ConstControl
from pandapower.timeseries import DFData, OutputWriter, run_timeseries

from grid_models.catalog.registry import load_catalog_grid
from grid_models.pipeline.plan import StudyPlan, plan_study
from grid_models.solver.lightsim import LightSimBackend
from grid_models.solver.sweep import sweep_states
from grid_models.spec import StudySpec
from grid_models.studies.annual.block import AnnualContext, BlockRun
from grid_models.studies.annual.hours import HourSolve, HourSolver

sys.path.insert(0, str(Path(__file__).parent))
from bench_memphis_floor import final_states, outage_point

warnings.simplefilter("ignore")
ROOT = Path(__file__).parents[1]
EXAMPLE = ROOT / "examples" / "abilene_annual.json"
SAMPLE_HOURS, SAMPLE_RUNS = 200, 8
TARGET_S, TARGET_GB = 150.0, 4.0


def _noop(_fraction: float, _step: str) -> None:
    return None


def _plan(cache: Path) -> StudyPlan:
    spec = StudySpec.model_validate_json(EXAMPLE.read_text())
    return plan_study(spec, load_catalog_grid("activsg2000", cache_dir=cache), progress=_noop, hosting=False)


def _context(plan: StudyPlan) -> AnnualContext:
    if plan.annual is None:
        raise SystemExit("the example is not an annual study")
    return plan.annual


def _solver(ctx: AnnualContext) -> HourSolver:
    return ctx.hour_solver()


def _sample(first: int, last: int) -> np.ndarray:
    """``SAMPLE_HOURS`` hours in ``SAMPLE_RUNS`` runs of consecutive hours spread evenly over the year:
    both solvers start each hour from the one before, as a study does."""
    run = SAMPLE_HOURS // SAMPLE_RUNS
    starts = np.linspace(first, last - run, SAMPLE_RUNS).round().astype(np.int64)
    return np.concatenate([np.arange(start, start + run) for start in starts])


def _inputs(ctx: AnnualContext, hours: np.ndarray) -> dict[str, np.ndarray]:
    """Per hour: every load's P and Q (the campus's load at 0), every shunt's Q, every unit's P."""
    solver = _solver(ctx)
    n_load = len(ctx.prepared.net.load)
    load_p, load_q = np.zeros((len(hours), n_load)), np.zeros((len(hours), n_load))
    shunt_q = np.zeros((len(hours), len(ctx.prepared.net.shunt)))
    gen_p = np.zeros((len(hours), len(ctx.prepared.net.gen)))
    count = ctx.prepared.facility_load
    for row, hour in enumerate(hours):
        solver.set_hour(int(hour))
        load_p[row, :count], load_q[row, :count] = ctx.loads.at(int(hour))
        shunt_q[row] = ctx.loads.shunts_at(int(hour))
        gen_p[row] = ctx.merit.hour(solver.area_load_mw).gen_p_mw
    return {"load_p": load_p, "load_q": load_q, "shunt_q": shunt_q, "gen_p": gen_p}


def _ours_n0_s(ctx: AnnualContext, hours: np.ndarray, size_mw: float) -> tuple[float, int]:
    """Our N-0 of the sampled hours, with and without the campus; (seconds, solves without a solution)."""
    solver = _solver(ctx)
    failed = 0
    began = time.perf_counter()
    for hour in hours:
        solver.set_hour(int(hour))
        failed += not solver.solve(facility_mw=0.0).converged
        failed += not solver.solve(facility_mw=size_mw, label="campus").converged
    return time.perf_counter() - began, failed


def _plain_pandapower_s(ctx: AnnualContext, data: dict[str, np.ndarray]) -> tuple[float, int]:
    """pandapower's own time series (one solve an hour, reactive limits); (seconds, diverged hours)."""
    net = pp.from_json_string(pp.to_json(ctx.prepared.net))
    steps = data["gen_p"].shape[0]
    frames = {name: pd.DataFrame(values, index=range(steps), columns=range(values.shape[1])) for name, values in data.items()}
    for (element, variable), name in {
        ("load", "p_mw"): "load_p",
        ("load", "q_mvar"): "load_q",
        ("shunt", "q_mvar"): "shunt_q",
        ("gen", "p_mw"): "gen_p",
    }.items():
        table = net[element]
        ConstControl(
            net,
            element,
            variable,
            element_index=table.index,
            profile_name=list(range(len(table))),
            data_source=DFData(frames[name]),
        )
    writer = OutputWriter(net, time_steps=range(steps), output_path=None, log_variables=[("res_bus", "vm_pu")])
    kwargs = {"lightsim2grid": False, "enforce_q_lims": True, "trafo_model": "pi", "tolerance_mva": 1e-6}
    pp.runpp(net, **kwargs)  # numba compilation out of the timing
    began = time.perf_counter()
    run_timeseries(net, time_steps=range(steps), continue_on_divergence=True, verbose=False, **kwargs)
    elapsed = time.perf_counter() - began
    diverged = int(writer.output["res_bus.vm_pu"].isna().all(axis=1).sum())
    return elapsed, diverged


def _lightsim_floor_s(ctx: AnnualContext, data: dict[str, np.ndarray]) -> tuple[float, int]:
    """lightsim2grid's time-series solver on every hour; (seconds, hours without a solution)."""
    from lightsim2grid.lightsim2grid_cpp import TimeSeriesCPP

    backend = LightSimBackend(ctx.prepared, ctx.settings)
    series = TimeSeriesCPP(backend.grid)
    n_sgen = len(ctx.prepared.net.sgen)
    v_init = np.ascontiguousarray(np.nan_to_num(ctx.peak.solution.v, nan=1.0), dtype=np.complex128)
    began = time.perf_counter()
    series.compute_Vs(
        np.ascontiguousarray(data["gen_p"]),
        np.zeros((data["gen_p"].shape[0], n_sgen)),
        np.ascontiguousarray(data["load_p"]),
        np.ascontiguousarray(data["load_q"]),
        v_init,
        ctx.settings.max_iterations,
        ctx.settings.tolerance_pu,
    )
    elapsed = time.perf_counter() - began
    return elapsed, int(data["gen_p"].shape[0] - series.nb_converged())


def _tree_rss_bytes(root: int) -> int:
    """The resident memory of a process and all its descendants (Linux /proc)."""
    parents: dict[int, int] = {}
    rss: dict[int, int] = {}
    page = os.sysconf("SC_PAGE_SIZE")
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            parents[int(entry.name)] = int(stat[1])
            rss[int(entry.name)] = int(stat[21]) * page
        except (OSError, IndexError, ValueError):
            continue
    tree, frontier = {root}, [root]
    while frontier:
        current = frontier.pop()
        children = [pid for pid, parent in parents.items() if parent == current and pid not in tree]
        tree.update(children)
        frontier.extend(children)
    return sum(rss.get(pid, 0) for pid in tree)


def _whole_study(spec: dict[str, Any], cache: Path) -> tuple[float, float, dict[str, Any]]:
    """``gridimpact run`` on the spec with 2 processes; (seconds, peak tree memory GB, result)."""
    work = Path(tempfile.mkdtemp(prefix="gridimpact-bench-annual-"))
    spec_path = work / "spec.json"
    spec_path.write_text(json.dumps(spec))
    command = [
        str(Path(sys.executable).parent / "gridimpact"),
        "run",
        str(spec_path),
        "--out",
        str(work / "out"),
        "--processes",
        "2",
    ]
    env = {**os.environ, "IMPACT_CACHE_DIR": str(cache)}
    began = time.perf_counter()
    process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    peak = 0
    while process.poll() is None:
        peak = max(peak, _tree_rss_bytes(process.pid))
        time.sleep(0.2)
    elapsed = time.perf_counter() - began
    if process.returncode != 0:
        raise SystemExit(
            f"gridimpact run failed ({process.returncode}): {process.stderr.read().decode() if process.stderr else ''}"
        )
    return elapsed, peak / 1e9, json.loads((work / "out" / "result.json").read_text())


def _service(spec: dict[str, Any], *, workers: int, cache: Path) -> float:
    """Submit-to-succeeded seconds of the spec on a fresh embedded stack with ``workers`` workers."""
    from impact_service.client import ApiClient
    from impact_service.embedded import Stack, local_api_key
    from impact_service.redis_server import free_port
    from impact_service.settings import Settings

    data = Path(tempfile.mkdtemp(prefix="gridimpact-bench-annual-fleet-"))
    settings = Settings(
        data_dir=data, cache_dir=cache, database_url=None, redis_url=None, port=free_port(), fanout_hours_per_part=168
    )
    stack = Stack(settings=settings, workers=workers, log_dir=data / "logs")
    stack.start().close()
    try:
        client = ApiClient(f"http://{settings.host}:{settings.port}", local_api_key(stack.settings))
        time.sleep(3.0)  # let every worker finish its warm-up
        began = time.perf_counter()
        study = client.submit(spec)
        final = client.wait(study["id"], poll_s=0.2)
        if final["status"] != "succeeded":
            raise SystemExit(f"the service study ended {final['status']}: {final.get('error')}")
        return time.perf_counter() - began
    finally:
        stack.stop()


def _windowed(hours: tuple[int, int] | None) -> dict[str, Any]:
    spec = json.loads(EXAMPLE.read_text())
    if hours is not None:
        spec["analyses"]["annual"]["hours"] = list(hours)
        spec["name"] = f"{spec['name']} (hours {hours[0]}-{hours[1]})"
    return dict(spec)


def _print(name: str, seconds: float, *, note: str = "", ratio: float | None = None) -> None:
    shown = f"{ratio:7.1f}x" if ratio is not None else " " * 8
    print(f"{name:58} {seconds:10.1f} s {shown}  {note}")


def _references(cache: Path) -> None:
    plan = _plan(cache)
    ctx = _context(plan)
    size_mw = ctx.stages[-1].p_mw
    year = ctx.last_hour - ctx.first_hour
    sample = _sample(ctx.first_hour, ctx.last_hour)
    scale = year / SAMPLE_HOURS
    print(f"activsg2000, {year:,} hours, campus {size_mw:,.0f} MW at {plan.poi_info.bus_name}; sample of {SAMPLE_HOURS} hours\n")
    ours_s, ours_failed = _ours_n0_s(ctx, sample, size_mw)
    plain_s, plain_failed = _plain_pandapower_s(ctx, _inputs(ctx, sample))
    floor_s, floor_failed = _lightsim_floor_s(ctx, _inputs(ctx, np.arange(ctx.first_hour, ctx.last_hour)))
    print(f"{'N-0 of the year, with and without the campus (2 solves/hour)':58} {'time':>12} {'plain pp':>8}")
    _print(
        "plain pandapower run_timeseries (sample x 2, scaled)", 2 * plain_s * scale, note=f"{plain_failed} sampled hours diverged"
    )
    _print(
        "lightsim2grid TimeSeriesCPP, no Q limits (year x 2)",
        2 * floor_s,
        ratio=plain_s * scale / floor_s,
        note=f"{floor_failed} hours without a solution",
    )
    _print(
        "ours: HourSolver with Q limits (sample, scaled)",
        ours_s * scale,
        ratio=2 * plain_s / ours_s,
        note=f"{ours_failed} solves without a solution",
    )
    per_solve_ms = (plain_s / SAMPLE_HOURS * 1000, floor_s / year * 1000, ours_s / SAMPLE_HOURS / 2 * 1000)
    print("  per solve: plain pandapower {:.0f} ms, floor {:.1f} ms, ours {:.0f} ms\n".format(*per_solve_ms))


def _known_state_hour_ms(ctx: AnnualContext, hours: np.ndarray, size_mw: float) -> tuple[float, float, int]:
    """Per converged hour-solve: (ms as the study solves it, ms with its final regulator state known
    in advance, solves timed). The known-state solve is one lightsim2grid chord solve from the
    previous sampled hour's voltages of the same kind: what a perfect predictor of the reactive
    limits would leave."""
    solver = _solver(ctx)
    finals: dict[tuple[int, float], HourSolve] = {}
    began = time.perf_counter()
    for hour in hours:
        solver.set_hour(int(hour))
        for mw in (0.0, size_mw):
            finals[(int(hour), mw)] = solver.solve(facility_mw=mw, label="campus")
    study_s = time.perf_counter() - began
    backend, previous, timed = solver.backend, dict[float, Any](), 0
    began = time.perf_counter()
    with backend.chord_solves():
        for hour in hours:
            solver.set_hour(int(hour))
            for mw in (0.0, size_mw):
                solve = finals[(int(hour), mw)]
                if not solve.converged:
                    continue
                point, _, _ = solver.operating_point(facility_mw=mw, label="campus")
                result = backend.solve(point, solve.stage.q_state, previous.get(mw, solve.stage.solution.v))
                previous[mw] = result.v
                timed += 1
    known_s = time.perf_counter() - began
    return study_s / (2 * len(hours)) * 1000, known_s / max(timed, 1) * 1000, timed


def _known_state_outage_ms(ctx: AnnualContext, hours: np.ndarray) -> tuple[float, float, int]:
    """Per study-area branch outage at the sampled hours (without the campus): (ms as the engine
    solves them, ms in one sweep with every outage's final regulator state known, rows)."""
    run = BlockRun(ctx, ctx.first_hour, ctx.last_hour, None)  # the outages as a block solves them
    solver, backend = run.solver, run.solver.backend
    engine_s = known_s = 0.0
    rows_timed = 0
    for hour in hours:
        solver.set_hour(int(hour))
        base = solver.solve(facility_mw=0.0).stage
        if not base.converged:
            continue
        began = time.perf_counter()
        table = run.tables(base, ctx.contingencies)
        engine_s += time.perf_counter() - began
        rows = [i for i, c in enumerate(ctx.contingencies) if c.kind != "gen" and not c.legs and table.converged[i]]
        began = time.perf_counter()
        with backend.chord_solves():
            sweep_states(
                backend,
                outage_point(ctx.prepared, base, ctx.eligible),
                positions=np.array([ctx.contingencies[i].position for i in rows], dtype=np.int64),
                states=final_states(ctx.prepared, base, table, rows),
                stage_state=base.q_state,
                v_init=base.solution.v,
                settings=ctx.settings,
                allow_release=True,
                threads=1,
            )
        known_s += time.perf_counter() - began
        rows_timed += len(rows)
    per = max(rows_timed, 1)
    return engine_s / (len(ctx.contingencies) * len(hours)) * 1000, known_s / per * 1000, rows_timed


def _floor(cache: Path, *, pairs: int, exact_hours: int, cores: int) -> None:
    """A lower bound for the whole annual study with this solver: only its unavoidable AC solves,
    each as cheap as if its reactive-limit state were known in advance, shared perfectly by the
    cores. Left out: hours without a solution (tried from three starts), the exact searches' N-1
    rows and refinements, the screening reference hours, the estimates, the completion."""
    plan = _plan(cache)
    ctx = _context(plan)
    size_mw = ctx.stages[-1].p_mw
    year = ctx.last_hour - ctx.first_hour
    study_ms, known_ms, timed = _known_state_hour_ms(ctx, _sample(ctx.first_hour, ctx.last_hour), size_mw)
    picks = _sample(ctx.first_hour, ctx.last_hour)[:: SAMPLE_HOURS // 4][:4]
    engine_out_ms, known_out_ms, rows = _known_state_outage_ms(ctx, picks)
    print(f"\nfloor of the annual study with this solver ({cores} cores; counts: {pairs:,} (hour, outage) pairs confirmed, "
          f"{exact_hours} exact hours)")  # fmt: skip
    print(f"  hour solve: {study_ms:.1f} ms as the study solves it (failed ones included), "
          f"{known_ms:.1f} ms with its final regulator state known ({timed} converged solves)")  # fmt: skip
    print(f"  outage solve: {engine_out_ms:.1f} ms as the engine solves it, "
          f"{known_out_ms:.1f} ms with its final regulator state known ({rows} rows)")  # fmt: skip
    n0_s = 2 * year * known_ms / 1000
    n1_s = 2 * pairs * known_out_ms / 1000  # each confirmed pair is solved with and without the campus
    exact_s = exact_hours * 2 * known_ms / 1000  # at least two trials: the answer passes, 5 MW more fails
    total = (n0_s + n1_s + exact_s) / cores
    print(f"  N-0 every hour x 2: {n0_s:.0f} s, N-1 confirmations x 2: {n1_s:.0f} s, exact searches (2 trials, no N-1): "
          f"{exact_s:.0f} s of CPU -> floor {total:.0f} s on {cores} cores (target {TARGET_S:.0f} s)")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--quick", action="store_true", help="the whole study on one week (hours 4,000-4,168) instead of the year"
    )
    parser.add_argument("--service-hours", type=int, default=672, help="hours of the service run (4 one-week parts)")
    parser.add_argument("--only", choices=("references", "study", "floor", "service"), help="run one part of the benchmark")
    parser.add_argument(
        "--pairs", type=int, default=0, help="floor alone: the study's (hour, outage) pairs confirmed in AC (from a study run)"
    )
    parser.add_argument("--exact-hours", type=int, default=0, help="floor alone: the study's exact hours (from a study run)")
    parser.add_argument("--cores", type=int, default=2, help="cores the floor shares the work among")
    args = parser.parse_args()
    if args.only == "floor" and not (args.pairs and args.exact_hours):
        parser.error("--only floor needs the year's counts: --pairs and --exact-hours, as a study run prints them")
    cache = Path.home() / ".cache" / "gridimpact"
    if args.only in (None, "references"):
        _references(cache)
    counts = (args.pairs, args.exact_hours)
    if args.only in (None, "study"):
        year_counts = _study(cache, quick=args.quick)
        counts = counts if args.quick else year_counts  # the floor is of the year: a week's counts would understate it
    if args.only in (None, "floor") and all(counts):
        _floor(cache, pairs=counts[0], exact_hours=counts[1], cores=args.cores)
    elif args.only is None:
        print("\nfloor skipped: it needs the year's counts (run without --quick, or pass --pairs and --exact-hours)")
    if args.only in (None, "service"):
        _fleet(cache, hours=args.service_hours)


def _study(cache: Path, *, quick: bool) -> tuple[int, int]:
    """The whole study through ``gridimpact run``; returns (pairs confirmed in AC, exact hours)."""
    window = (4000, 4168) if quick else None
    elapsed, peak_gb, result = _whole_study(_windowed(window), cache)
    annual = result["annual"]
    verdict = "meets" if elapsed <= TARGET_S and window is None else ("MISSES" if window is None else "(one week only)")
    _print("whole annual study: gridimpact run, 2 processes", elapsed, note=f"target <= {TARGET_S:.0f} s: {verdict}")
    print(f"  peak memory {peak_gb:.2f} GB (target <= {TARGET_GB:.0f} GB: {'meets' if peak_gb <= TARGET_GB else 'MISSES'})")
    screening = annual["screening"]
    print(
        f"  (hour, outage) pairs screened {screening['pairs_screened']:,}, confirmed in AC {screening['pairs_flagged']:,}; "
        f"headroom exact in {screening['exact_hours']:,} hours, estimated in {screening['estimated_hours']:,}"
    )
    return int(screening["pairs_flagged"]), int(screening["exact_hours"])


def _fleet(cache: Path, *, hours: int) -> None:
    stop = 4000 + hours
    spec = _windowed((4000, stop))
    one = _service(spec, workers=1, cache=cache)
    two = _service(spec, workers=2, cache=cache)
    parts = -(-hours // 168)
    label = f"service, hours 4,000-{stop:,} in {parts} one-week parts"
    print(f"\n{label}: 1 worker {one:.1f} s, 2 workers {two:.1f} s, ratio {one / two:.2f}x")


if __name__ == "__main__":
    main()
