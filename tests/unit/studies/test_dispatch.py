"""The generator pick-up rules (pure logic)."""

from __future__ import annotations

import numpy as np
import pytest

from grid_models.spec import DispatchRule
from grid_models.studies.dispatch import share_change

P = np.array([100.0, 50.0, 0.0, 200.0])
PMIN = np.array([20.0, 10.0, 0.0, 50.0])
PMAX = np.array([200.0, 100.0, 80.0, 210.0])
ELIGIBLE = np.array([True, True, False, True])
COST = np.array([[0.0, 30.0, 0.0], [0.0, 20.0, 0.0], [0.0, 1.0, 0.0], [0.01, 25.0, 0.0]])


def _share(rule: DispatchRule, delta: float):  # type: ignore[no-untyped-def]
    return share_change(rule=rule, delta_mw=delta, p_mw=P, pmin_mw=PMIN, pmax_mw=PMAX, eligible=ELIGIBLE, cost=COST)


def test_participation_is_proportional_to_headroom() -> None:
    share = _share(DispatchRule.PARTICIPATION, 80.0)
    # headroom 100, 50, (not eligible), 10 -> shares 50, 25, 0, 5
    np.testing.assert_allclose(share.delta_p_mw, [50.0, 25.0, 0.0, 5.0])
    assert share.unserved_mw == 0.0


def test_participation_decrease_uses_footroom() -> None:
    share = _share(DispatchRule.PARTICIPATION, -60.0)
    # footroom 80, 40, -, 150 -> total 270
    np.testing.assert_allclose(share.delta_p_mw, [-60 * 80 / 270, -60 * 40 / 270, 0.0, -60 * 150 / 270])


def test_shortfall_is_reported_not_hidden() -> None:
    share = _share(DispatchRule.PARTICIPATION, 200.0)
    np.testing.assert_allclose(share.delta_p_mw, [100.0, 50.0, 0.0, 10.0])
    assert share.unserved_mw == pytest.approx(40.0)
    assert np.all(P + share.delta_p_mw <= PMAX + 1e-9)


def test_merit_order_fills_cheapest_first() -> None:
    share = _share(DispatchRule.MERIT_ORDER, 60.0)
    # marginal costs: unit1 20 $/MWh, unit3 2*0.01*200+25 = 29, unit0 30 -> unit1 (50 MW) then unit3 (10 MW)
    np.testing.assert_allclose(share.delta_p_mw, [0.0, 50.0, 0.0, 10.0])
    share = _share(DispatchRule.MERIT_ORDER, 100.0)
    np.testing.assert_allclose(share.delta_p_mw, [40.0, 50.0, 0.0, 10.0])


def test_merit_order_decrease_drops_most_expensive_first() -> None:
    share = _share(DispatchRule.MERIT_ORDER, -50.0)
    np.testing.assert_allclose(share.delta_p_mw, [-50.0, 0.0, 0.0, 0.0])
