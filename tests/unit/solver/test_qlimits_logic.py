"""The PV <-> PQ switching rule on hand-made arrays (pure logic)."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np

from grid_models.solver.qlimits import next_q_state
from grid_models.solver.types import Q_AT_MAX, Q_AT_MIN, Q_FREE, SolverSettings


def _groups() -> SimpleNamespace:
    # five regulators: slack, two ordinary, one with no reactive range, one ordinary
    return SimpleNamespace(
        group_bus=np.array([0, 1, 2, 3, 4]),
        group_qmin_mvar=np.array([-100.0, -50.0, -50.0, 10.0, -20.0]),
        group_qmax_mvar=np.array([100.0, 50.0, 50.0, 10.0, 20.0]),
        group_vm_set_pu=np.array([1.0, 1.02, 1.02, 1.0, 1.01]),
        group_is_slack=np.array([True, False, False, False, False]),
        group_fixed_q=np.array([False, False, False, True, False]),
    )


def test_pins_violators_and_leaves_slack_and_fixed_alone() -> None:
    state = np.array([Q_FREE, Q_FREE, Q_FREE, Q_AT_MAX, Q_FREE])
    q = np.array([500.0, 60.0, -70.0, 0.0, 19.0])
    new = next_q_state(_groups(), state=state, q_group_mvar=q, vm_pu=np.ones(5), settings=SolverSettings(), allow_release=True)  # type: ignore[arg-type]
    np.testing.assert_array_equal(new, [Q_FREE, Q_AT_MAX, Q_AT_MIN, Q_AT_MAX, Q_FREE])


def test_releases_only_when_voltage_is_on_the_wrong_side() -> None:
    state = np.array([Q_FREE, Q_AT_MAX, Q_AT_MIN, Q_AT_MAX, Q_AT_MAX])
    vm = np.array([1.0, 1.03, 1.01, 1.2, 1.0])  # bus 1 above its set-point at qmax -> release; bus 4 below -> keep
    new = next_q_state(_groups(), state=state, q_group_mvar=np.zeros(5), vm_pu=vm, settings=SolverSettings(), allow_release=True)  # type: ignore[arg-type]
    np.testing.assert_array_equal(new, [Q_FREE, Q_FREE, Q_FREE, Q_AT_MAX, Q_AT_MAX])
    kept = next_q_state(
        _groups(), state=state, q_group_mvar=np.zeros(5), vm_pu=vm, settings=SolverSettings(), allow_release=False
    )  # type: ignore[arg-type]
    np.testing.assert_array_equal(kept, state)


def test_tolerance_band_does_not_pin() -> None:
    settings = SolverSettings(q_tolerance_mvar=0.5)
    q = np.array([0.0, 50.4, -50.4, 0.0, 0.0])
    new = next_q_state(
        _groups(), state=np.zeros(5, dtype=np.int64), q_group_mvar=q, vm_pu=np.ones(5), settings=settings, allow_release=True
    )  # type: ignore[arg-type]
    np.testing.assert_array_equal(new[1:3], [Q_FREE, Q_FREE])


def test_a_regulator_on_buses_cut_off_is_not_switched() -> None:
    """An outage that islands a regulator leaves its bus without voltage (NaN) and its output at
    zero: a range that excludes zero must not pin it (the batch's checks skip such buses too)."""
    groups = _groups()
    groups.group_qmin_mvar = np.array([-100.0, 5.0, -50.0, 10.0, -20.0])  # group 1 cannot be at 0 MVAr

    def step(vm: np.ndarray) -> np.ndarray:
        state = np.zeros(5, dtype=np.int64)
        return next_q_state(
            groups, state=state, q_group_mvar=np.zeros(5), vm_pu=vm, settings=SolverSettings(), allow_release=True
        )  # type: ignore[arg-type]

    assert step(np.array([1.0, np.nan, 1.0, 1.0, 1.0]))[1] == Q_FREE
    assert step(np.ones(5))[1] == Q_AT_MIN
