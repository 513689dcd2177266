"""Curtailment statistics on hourly arrays whose answers are worked out by hand."""

from __future__ import annotations

from datetime import datetime, timedelta

import numpy as np
import pytest

from grid_models.studies.annual.curtailment import curtailment, enabled_headroom, firm_size

START = datetime(2016, 1, 1)


def _stamps(hours: int) -> list[datetime]:
    return [START + timedelta(hours=h) for h in range(hours)]


def test_curtailment_of_a_flat_campus_by_hand() -> None:
    # 48 hours; headroom 1,000 MW except hours 3-5 (700, 600, 800) and hour 30 (0) and hour 31 (NaN: no solution)
    headroom = np.full(48, 1000.0)
    headroom[3:6] = [700.0, 600.0, 800.0]
    headroom[30], headroom[31] = 0.0, np.nan
    stats = curtailment(np.full(48, 900.0), headroom, _stamps(48))
    assert stats.hours == 5
    assert stats.energy_mwh == pytest.approx(200 + 300 + 100 + 900 + 900)
    assert stats.requested_mwh == 900 * 48
    assert stats.share_percent == pytest.approx(2400 / 43200 * 100)
    assert (stats.events, stats.longest_event_h) == (2, 3)
    assert stats.by_month_mwh[0] == pytest.approx(2400)
    assert stats.by_hour_of_day[3] == 1
    assert stats.by_hour_of_day[6] == 1  # hours 30 and 31 are 06:00 and 07:00 of 2 January
    assert stats.by_hour_of_day[7] == 1


def test_firm_size_is_the_smallest_headroom() -> None:
    headroom = np.array([500.0, 420.0, 800.0, 430.0])
    assert firm_size(headroom) == (420.0, 1)


def test_curtailment_enabled_headroom_by_hand() -> None:
    # 100 hours: 96 at 1,000 MW and 100/200/300/400. Within 1 %: S x 100 x 1 % = S >= sum(max(S - r, 0)).
    # With S between 300 and 400: (S-100)+(S-200)+(S-300) = 3S - 600 = S  ->  S = 300 exactly.
    headroom = np.array([100.0, 200.0, 300.0, 400.0] + [1000.0] * 96)
    size, bounded = enabled_headroom(headroom, limit_percent=1.0, cap_mw=5000.0)
    assert bounded
    assert size == pytest.approx(300.0)
    size, bounded = enabled_headroom(headroom, limit_percent=5.0, cap_mw=900.0)
    assert (size, bounded) == (900.0, False)  # 900 x 4 - 1000 = 2,600 <= 5 % of 90,000 = 4,500: the cap itself fits
    size, _ = enabled_headroom(headroom, limit_percent=0.25, cap_mw=5000.0)
    assert size == pytest.approx(100.0 / (1 - 0.25))  # one hour below: S - 100 = 0.25 S


def test_no_curtailment_when_the_campus_fits_every_hour() -> None:
    stats = curtailment(np.full(24, 100.0), np.full(24, 100.0), _stamps(24))
    assert (stats.hours, stats.energy_mwh, stats.events, stats.longest_event_h) == (0, 0.0, 0, 0)


def test_the_finding_says_when_the_curtailment_falls() -> None:
    from grid_models.results.annual import CurtailmentResult
    from grid_models.studies.annual.analysis import _when

    by_month = [0.0] * 12
    by_month[2], by_month[3], by_month[9], by_month[6] = 50.0, 30.0, 20.0, 5.0
    by_hour = [0] * 24
    by_hour[2], by_hour[3], by_hour[1], by_hour[14] = 9, 8, 7, 1
    result = CurtailmentResult(
        size_mw=100,
        hours=25,
        energy_mwh=105,
        share_percent=1,
        events=3,
        longest_event_h=5,
        by_month_mwh=by_month,
        by_hour_of_day=by_hour,
    )
    assert _when(result) == "; most energy in Mar, Apr, Oct, most often at 01:00, 02:00, 03:00"
    none = result.model_copy(update={"hours": 0})
    assert _when(none) == ""
