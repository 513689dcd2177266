"""The report's figures (matplotlib, Agg backend), each returned as a base64 PNG or None when the
result has nothing to plot."""

from __future__ import annotations

import base64
import io
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

from grid_models.factors import factor
from grid_models.results.environment import Pollutant
from grid_models.results.kinds import ViolationKind, ViolationStatus
from grid_models.results.study import StudyResult

__all__ = ["figure", "figures"]

_FUEL_COLORS = {"ng": "#e07b39", "coal": "#4d4d4d", "dfo": "#8c564b", "nuclear": "#9467bd", "hydro": "#1f77b4",
                "wind": "#2ca02c", "solar": "#f2c511"}  # fmt: skip


@contextmanager
def figure(width: float = 7.5, height: float = 3.4) -> Iterator[tuple[Any, list[str]]]:
    fig = plt.figure(figsize=(width, height), dpi=96)
    out: list[str] = []
    try:
        yield fig, out
        fig.tight_layout()
        buffer = io.BytesIO()
        fig.savefig(buffer, format="png")
        out.append(base64.b64encode(buffer.getvalue()).decode())
    finally:
        plt.close(fig)


def _stages(result: StudyResult) -> str:
    stages = [result.base_case, *result.stages]
    labels = [s.label for s in stages]
    with figure() as (fig, out):
        left, right = fig.subplots(1, 2)
        left.bar(labels, [s.max_loading_percent or 0 for s in stages], color="#4c72b0")
        left.axhline(100, color="red", linestyle="--", linewidth=1, label="normal rating")
        left.set_title("Worst branch loading (N-0)")
        left.set_ylabel("% of normal rating")
        right.plot(labels, [s.min_vm_pu or float("nan") for s in stages], marker="o", label="lowest")
        right.plot(labels, [s.max_vm_pu or float("nan") for s in stages], marker="s", label="highest")
        for limit in (result.spec.criteria.vm_min_pu, result.spec.criteria.vm_max_pu):
            right.axhline(limit, color="red", linestyle="--", linewidth=1)
        right.set_title("Bus voltages (N-0)")
        right.set_ylabel("pu")
        right.legend(fontsize=8)
        for axis in (left, right):
            axis.tick_params(axis="x", labelrotation=20, labelsize=8)
    return out[0]


def _hosting(result: StudyResult) -> str | None:
    hosting = result.hosting_capacity
    if hosting is None or not hosting.curve:
        return None
    curve = hosting.curve
    with figure() as (fig, out):
        left = fig.subplots()
        mw = [p.p_mw for p in curve]
        left.plot(mw, [p.worst_loading_percent or float("nan") for p in curve], marker=".", color="#4c72b0")
        left.set_xlabel("facility demand at the POI, MW")
        left.set_ylabel("worst loading, %", color="#4c72b0")
        right = left.twinx()
        right.plot(mw, [p.min_vm_pu or float("nan") for p in curve], marker=".", color="#dd8452")
        right.set_ylabel("lowest voltage, pu", color="#dd8452")
        for limit in hosting.limits:
            if limit.found_limit and limit.max_mw is not None:
                left.axvline(limit.max_mw, linestyle="--", linewidth=1, color="grey")
                left.annotate(limit.criterion.value, (limit.max_mw, left.get_ylim()[1]), fontsize=7, rotation=90, va="top")
        left.set_title("Hosting-capacity curve (every trial of the search)")
    return out[0]


def _n1(result: StudyResult) -> str | None:
    n1 = result.contingency
    stages = n1.stages if n1 else []
    violations = [
        (s.label, v)
        for s in stages
        for v in s.violations
        if v.kind is ViolationKind.THERMAL and v.status is not ViolationStatus.MARGINAL
    ]
    if not violations:
        return None
    top = sorted(violations, key=lambda item: -item[1].value)[:12]
    with figure(height=0.35 * len(top) + 1.2) as (fig, out):
        axis = fig.subplots()
        labels = [f"{stage}: {v.monitored} after {v.contingency}" for stage, v in top]
        axis.barh(labels[::-1], [v.value for _, v in top][::-1], color="#c44e52")
        axis.axvline(100, color="black", linestyle="--", linewidth=1)
        axis.set_xlabel("% of emergency rating")
        axis.set_title("Worst N-1 overloads attributable to the facility")
        axis.tick_params(axis="y", labelsize=7)
    return out[0]


def _dispatch(result: StudyResult) -> str | None:
    grid = result.environment.grid_supply if result.environment else None
    if grid is None or not grid.stages:
        return None
    methods = [next(m for m in s.methods if m.method == grid.main_method) for s in grid.stages]
    fuels = sorted({f for m in methods for f in m.by_fuel_mw}, key=lambda f: -sum(abs(m.by_fuel_mw.get(f, 0)) for m in methods))
    with figure() as (fig, out):
        axis = fig.subplots()
        labels = [s.stage for s in grid.stages]
        bottom = [0.0] * len(labels)
        for fuel in fuels:
            values = [m.by_fuel_mw.get(fuel, 0.0) for m in methods]
            axis.bar(labels, values, bottom=bottom, label=fuel, color=_FUEL_COLORS.get(fuel))
            bottom = [b + v for b, v in zip(bottom, values, strict=True)]
        axis.set_ylabel("added generation, MW")
        axis.set_title(f"Generation serving each stage, by fuel ({grid.main_method.replace('_', ' ')})")
        axis.legend(fontsize=8)
    return out[0]


def _emissions(result: StudyResult) -> str | None:
    env = result.environment
    if env is None:
        return None
    # a section without stages (no stage had a solution, or the base case failed) has nothing to plot
    panels = [
        (draw, part) for draw, part in ((_grid_panel, env.grid_supply), (_onsite_panel, env.onsite)) if part and part.stages
    ]
    if not panels:
        return None
    with figure(height=3.6) as (fig, out):
        axes = fig.subplots(1, len(panels), squeeze=False)[0]
        for axis, (draw, part) in zip(axes, panels, strict=True):
            draw(axis, part)
    return out[0]


def _grid_panel(axis: Any, grid: Any) -> None:
    stage = grid.stages[-1]
    names = [m.method.replace("_", " ") for m in stage.methods] + ["eGRID non-baseload", "eGRID average"]
    values = [m.added_tpy[Pollutant.CO2] for m in stage.methods] + [stage.egrid_nonbaseload_co2_tpy, stage.egrid_average_co2e_tpy]
    axis.barh(names[::-1], [v / 1e6 for v in values][::-1], color="#55a868")
    axis.set_xlabel("million short tons CO2 per year")
    axis.set_title(f"Grid-supply CO2, {stage.stage}: the method matters", fontsize=9)
    axis.tick_params(axis="y", labelsize=8)


def _onsite_panel(axis: Any, onsite: Any) -> None:
    stage = onsite.stages[-1]
    pollutants = [Pollutant.NOX, Pollutant.CO, Pollutant.VOC, Pollutant.PM25, Pollutant.SO2, Pollutant.FORMALDEHYDE]
    values = [stage.pte_tpy[p] for p in pollutants]
    axis.bar([p.value.upper() for p in pollutants], values, color="#8172b2")
    axis.set_yscale("log")
    lines = (("title_v.any_regulated", "--", "Title V"), ("psd.major", ":", "PSD major"), ("title_v.hap_single", "-.", "one HAP"))
    for key, style, label in lines:
        value = factor("thresholds", key).value
        axis.axhline(value, linestyle=style, color="red", linewidth=1, label=f"{label} {value:g} short tons/yr")
    axis.set_ylabel("potential to emit, short tons/yr (log)")
    axis.set_title(f"On-site turbines, {stage.stage}: vs thresholds", fontsize=9)
    axis.legend(fontsize=7)
    axis.tick_params(axis="x", labelsize=8)


def _water(result: StudyResult) -> str | None:
    grid = result.environment.grid_supply if result.environment else None
    if grid is None or not grid.stages:
        return None
    with figure() as (fig, out):
        axis = fig.subplots()
        labels = [s.stage for s in grid.stages]
        onsite = [s.water.onsite_gal_per_day / 1e6 for s in grid.stages]
        low = [s.water.onsite_range_gal_per_day[0] / 1e6 for s in grid.stages]
        upstream = [s.water.upstream_gal_per_day / 1e6 for s in grid.stages]
        positions = range(len(labels))
        axis.bar([p - 0.2 for p in positions], onsite, width=0.4, label="on site (average WUE)", color="#64b5cd")
        axis.scatter([p - 0.2 for p in positions], low, marker="_", s=300, color="black", label="on site, best reported WUE")
        axis.bar([p + 0.2 for p in positions], upstream, width=0.4, label="upstream, power plants", color="#4c72b0")
        axis.set_xticks(list(positions), labels)
        axis.set_ylabel("million gallons per day")
        axis.set_title("Water")
        axis.legend(fontsize=8)
    return out[0]


def figures(result: StudyResult) -> dict[str, str]:
    """The figures that apply to this result, by name, as base64 PNG."""
    made = {
        "stages": _stages(result),
        "hosting": _hosting(result),
        "n1": _n1(result),
        "dispatch": _dispatch(result),
        "emissions": _emissions(result),
        "water": _water(result),
    }
    return {name: png for name, png in made.items() if png is not None}
