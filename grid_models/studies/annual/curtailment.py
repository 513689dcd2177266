"""What a flexible (curtailable) campus gives up to stay N-0 and N-1 secure, from the POI's hourly
headroom. Pure arithmetic on hourly arrays.

In hour ``h`` a campus that wants ``want[h]`` MW and may take at most ``headroom[h]`` MW is curtailed
by ``max(want - headroom, 0)``. An event is a run of consecutive curtailed hours. The firm size is
the smallest hourly headroom (no curtailment all year). The curtailment-enabled headroom at x % is
the largest flat size whose curtailed energy stays within x % of its annual energy (size x hours),
the metric of Norris et al. (Duke Nicholas Institute, 2025) taken per POI with the network.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import numpy as np
import numpy.typing as npt

from grid_models.errors import InternalError

__all__ = ["CurtailmentStats", "curtailment", "enabled_headroom", "firm_size"]

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True)
class CurtailmentStats:
    """Curtailment of one hourly demand against the hourly headroom."""

    hours: int
    energy_mwh: float
    requested_mwh: float
    events: int
    longest_event_h: int
    by_month_mwh: list[float]  # January first
    by_hour_of_day: list[int]  # curtailed hours starting at each hour of the day

    @property
    def share_percent(self) -> float:
        """Curtailed energy as a share of the energy asked for."""
        return 100.0 * self.energy_mwh / self.requested_mwh if self.requested_mwh > 0 else 0.0


def _events(curtailed: npt.NDArray[np.bool_]) -> tuple[int, int]:
    """Number of runs of consecutive True and the longest run."""
    if not curtailed.any():
        return 0, 0
    padded = np.concatenate([[False], curtailed, [False]])
    edges = np.flatnonzero(padded[1:] != padded[:-1])
    lengths = edges[1::2] - edges[::2]
    return len(lengths), int(lengths.max())


def curtailment(want_mw: FloatArray, headroom_mw: FloatArray, timestamps: list[datetime]) -> CurtailmentStats:
    """Curtailment of ``want_mw`` per hour against ``headroom_mw`` (NaN headroom: the hour has no
    solution without the facility; the whole demand counts as curtailed)."""
    room = np.nan_to_num(headroom_mw, nan=0.0)
    cut = np.maximum(want_mw - np.maximum(room, 0.0), 0.0)
    curtailed = cut > 1e-9
    events, longest = _events(curtailed)
    months = np.array([stamp.month - 1 for stamp in timestamps], dtype=np.int64)
    hours_of_day = np.array([stamp.hour for stamp in timestamps], dtype=np.int64)
    return CurtailmentStats(
        hours=int(curtailed.sum()),
        energy_mwh=float(cut.sum()),
        requested_mwh=float(want_mw.sum()),
        events=events,
        longest_event_h=longest,
        by_month_mwh=np.bincount(months, weights=cut, minlength=12).tolist(),
        by_hour_of_day=np.bincount(hours_of_day[curtailed], minlength=24).astype(int).tolist(),
    )


def firm_size(headroom_mw: FloatArray) -> tuple[float, int]:
    """The largest flat size with no curtailment at all, and the hour that sets it."""
    room = np.nan_to_num(headroom_mw, nan=0.0)
    hour = int(np.argmin(room))
    return max(float(room[hour]), 0.0), hour


def enabled_headroom(headroom_mw: FloatArray, *, limit_percent: float, cap_mw: float) -> tuple[float, bool]:
    """The largest flat size S in [0, cap] whose curtailed energy ``sum(max(S - headroom, 0))``
    stays within ``limit_percent`` of ``S x hours``; returns ``(S, bounded)``, ``bounded`` False
    when even the cap stays within the limit.

    The excess ``f(S) = sum(max(S - r_h, 0)) - share x hours x S`` is convex and piecewise linear
    with ``f(0) = 0``, so the sizes within the limit are ``[0, S*]``; on the stretch of S where
    exactly k headrooms lie below S, ``f`` is linear and its root is exact.
    """
    room = np.sort(np.maximum(np.nan_to_num(headroom_mw, nan=0.0), 0.0))
    hours = len(room)
    allowed = limit_percent / 100.0 * hours
    if hours == 0:
        return 0.0, True
    if float(np.maximum(cap_mw - room, 0.0).sum()) <= allowed * cap_mw:
        return cap_mw, False
    below = np.cumsum(room)  # below[k - 1]: the sum of the k smallest headrooms
    for k in range(1, hours + 1):
        slope = k - allowed
        if slope <= 0:
            continue
        root = float(below[k - 1]) / slope
        upper = float(room[k]) if k < hours else np.inf
        if room[k - 1] <= root <= upper:
            return min(root, cap_mw), True
    raise InternalError("no root of the curtailment excess below the cap, though f(cap) > 0 and f is convex")
