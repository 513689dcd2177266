"""Figures of the annual study: the headroom's duration curve and its day x hour map, curtailment
against size, and monthly emissions."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import numpy as np

from grid_models.report.plots import figure
from grid_models.results.annual import AnnualResult

__all__ = ["annual_figures"]


def _headroom(annual: AnnualResult) -> np.ndarray:
    return np.array([np.nan if v is None else v for v in annual.hourly_headroom_mw], dtype=np.float64)


def _duration_and_heatmap(annual: AnnualResult) -> str:
    room = _headroom(annual)
    start = datetime.fromisoformat(annual.profile.first_hour.replace(" ", "T"))
    stamps = [start + timedelta(hours=h) for h in range(len(room))]
    with figure(7.5, 3.6) as (fig, out):
        left, right = fig.subplots(1, 2, gridspec_kw={"width_ratios": [1, 1.4]})
        left.plot(np.arange(len(room)), np.sort(np.nan_to_num(room, nan=0.0))[::-1], color="#4c72b0")
        for stage in annual.stages:
            left.axhline(stage.size_mw, color="red", linestyle="--", linewidth=1)
            left.text(len(room) * 0.02, stage.size_mw, stage.label, fontsize=7, color="red", va="bottom")
        left.set_title("Headroom duration curve", fontsize=9)
        left.set_xlabel("hours of the year, sorted")
        left.set_ylabel("MW at the POI (N-0, N-1 secure)")
        grid = np.full((366, 24), np.nan)
        for value, stamp in zip(room, stamps, strict=True):
            grid[stamp.timetuple().tm_yday - 1, stamp.hour] = value
        image = right.imshow(grid.T, aspect="auto", origin="lower", cmap="viridis", interpolation="nearest")
        right.set_title("Hourly headroom: day of year x hour of day", fontsize=9)
        right.set_xlabel("day of year")
        right.set_ylabel("hour of day")
        fig.colorbar(image, ax=right, label="MW")
    return out[0]


def _curtailment_and_emissions(annual: AnnualResult) -> str:
    with figure(7.5, 3.2) as (fig, out):
        left, right = fig.subplots(1, 2)
        sizes = [point.size_mw for point in annual.sweep]
        left.plot(sizes, [point.share_percent for point in annual.sweep], marker="o", color="#c44e52")
        for enabled in annual.enabled:
            left.axhline(enabled.limit_percent, color="grey", linestyle=":", linewidth=1)
        left.set_title("Curtailment vs size", fontsize=9)
        left.set_xlabel("campus size, MW")
        left.set_ylabel("% of annual energy curtailed")
        months = np.arange(1, 13)
        width = 0.8 / max(len(annual.stages), 1)
        for number, stage in enumerate(annual.stages):
            tons = stage.monthly_co2_short_tons or [0.0] * 12
            right.bar(months + number * width, np.array(tons) / 1000.0, width=width, label=stage.label)
        right.set_title("Monthly CO2 of the generation serving it", fontsize=9)
        right.set_xlabel("month")
        right.set_ylabel("thousand short tons")
        right.legend(fontsize=7)
    return out[0]


def annual_figures(annual: AnnualResult | None) -> dict[str, Any]:
    """The annual figures by name (empty without an annual study)."""
    if annual is None or not annual.hourly_headroom_mw:
        return {}
    return {"annual_headroom": _duration_and_heatmap(annual), "annual_curtailment": _curtailment_and_emissions(annual)}
