"""The fast solver path: lightsim2grid's C++ Newton-Raphson (KLU) on a grid model built once.

The ``LSGrid`` is built from the prepared net once; each solve only changes set-points, statuses,
slack participation and the facility load, and starts from the caller's voltages, so a warm solve
of activsg2000 takes well under a millisecond when nothing structural changed. An outage that
cuts buses off is solved on a copy restricted to the slack bus's component.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np

from grid_models.errors import SolverError
from grid_models.solver.network import PreparedNetwork, group_reactive_limits
from grid_models.solver.topology import IslandFinder
from grid_models.solver.types import (
    Q_AT_MAX,
    Q_FREE,
    ComplexArray,
    FloatArray,
    IntArray,
    OperatingPoint,
    RawSolution,
    SolverSettings,
)

__all__ = ["BranchAdmittances", "LightSimBackend", "build_lsgrid", "chord_config", "companion_p_mw", "newton_config"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class BranchAdmittances:
    """Per-branch two-port admittances (pu on the net's ``sn_mva``), lines then transformers."""

    y11: ComplexArray
    y12: ComplexArray
    y21: ComplexArray
    y22: ComplexArray

    @classmethod
    def from_grid(cls, grid: Any) -> BranchAdmittances:
        """Read them off a lightsim2grid ``LSGrid``."""
        branches = list(grid.get_lines()) + list(grid.get_trafos())
        y = np.array([[b.yac_11, b.yac_12, b.yac_21, b.yac_22] for b in branches], dtype=np.complex128).reshape(-1, 4)
        return cls(y[:, 0], y[:, 1], y[:, 2], y[:, 3])


def build_lsgrid(prepared: PreparedNetwork) -> Any:
    """A lightsim2grid ``LSGrid`` of the prepared net, with pandapower's default transformer model.

    lightsim2grid's "pandapower_v2" converter (its default) reproduces ``pp.runpp``'s default
    T-model transformer exactly (2e-16 pu on pandapower's simple_mv_open_ring_net); its
    "pandapower_v3" one lands 2.5e-5 pu off when a transformer has both iron losses and a
    magnetising current (``pfe_kw`` and ``i0_percent``), and it would also turn every generator
    with a slack weight into a slack machine, which this engine sets itself.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # lightsim2grid warns about the ext_grid-less slack it handles fine
        from lightsim2grid.network import init_from_pandapower

        try:
            return init_from_pandapower(prepared.net, pp_orig_file="pandapower_v2")
        except (RuntimeError, ValueError, IndexError, TypeError) as exc:
            raise SolverError(f"lightsim2grid cannot build this grid: {exc}") from exc


def _algorithm_config(grid: Any, policy_name: str) -> Any:
    import lightsim2grid.lightsim2grid_cpp as ls

    algorithm = ls.NR_KLU() if ls.klu_solver_available else ls.NR_SparseLU()
    algorithm.set_config(grid.get_ac_algo_config())
    algorithm.set_refactor_policy(getattr(ls.RefactorPolicyType, policy_name))
    return algorithm.get_config()


def chord_config(grid: Any) -> Any:
    """The grid's AC algorithm settings with the chord policy: the Jacobian of a solve's first
    iteration is factorised once and reused by every later iteration.

    Each iteration is much cheaper (a solve with the kept factors instead of a refactorisation),
    and more of them are needed (linear convergence); the stopping rule is the same mismatch
    tolerance, so a converged solve is as exact as with full Newton-Raphson. On activsg2000 the
    batch of all branch outages takes about half the time; chord also fails on some outages that
    Newton solves (a few in a thousand), so callers solve those again with Newton.
    """
    return _algorithm_config(grid, "Chord")


def newton_config(grid: Any) -> Any:
    """The grid's AC algorithm settings with full Newton-Raphson (a refactorisation every iteration)."""
    return _algorithm_config(grid, "AlwaysRefactor")


def angle_reference(prepared: PreparedNetwork, v: ComplexArray) -> int:
    """The slack bus, or the first energised bus when an outage cut the slack bus off."""
    if np.isfinite(v[prepared.slack_bus]):
        return prepared.slack_bus
    return int(np.flatnonzero(np.isfinite(v))[0])


def companion_p_mw(prepared: PreparedNetwork, point: OperatingPoint, q_state: IntArray) -> FloatArray:
    """The active power each pinned group's companion static generator injects: its generators'
    schedule (without those ``point.gen_out`` trips); 0 for free groups. ``q_state`` may hold one
    state per row."""
    in_group = np.ones(len(prepared.gen_ids), dtype=bool)
    in_group[list(point.gen_out)] = False
    weights = np.where(in_group, point.gen_p_mw, 0.0)
    group_p = np.bincount(prepared.gen_group, weights=weights, minlength=len(prepared.group_bus))
    return np.asarray(np.where(q_state != Q_FREE, group_p, 0.0), dtype=np.float64)


def group_limits(prepared: PreparedNetwork, q_state: IntArray, gen_out: tuple[int, ...] = ()) -> FloatArray:
    """The reactive output each pinned group is held at (0 for free groups)."""
    qmin, qmax, _ = group_reactive_limits(prepared, gen_out)
    return np.asarray(np.where(q_state != Q_FREE, np.where(q_state == Q_AT_MAX, qmax, qmin), 0.0), dtype=np.float64)


class LightSimBackend:
    """Solves operating points with lightsim2grid; keeps what it last applied to change only diffs."""

    name = "lightsim2grid"

    def __init__(self, prepared: PreparedNetwork, settings: SolverSettings | None = None) -> None:
        self.prepared = prepared
        self.settings = settings or SolverSettings()
        self.grid = build_lsgrid(prepared)
        self.islands = IslandFinder(prepared)
        self._bus_off = ~prepared.net.bus.in_service.to_numpy(dtype=bool)
        self._n_lines = len(prepared.net.line)
        n_gen, n_group = len(prepared.gen_ids), len(prepared.group_bus)
        self._gen_p = prepared.gen_p_mw.copy()
        self._gen_on = np.ones(n_gen, dtype=bool)
        self._sgen_pq = np.zeros((n_group, 2))
        self._slack_weights: FloatArray | None = None
        self._branch_out: tuple[int, ...] = ()
        self._newton: Any = None  # the Newton settings while chord_solves() is active

    @cached_property
    def admittances(self) -> BranchAdmittances:
        """The branches' two-port admittances (fixed: outages switch branches, they do not change them)."""
        return BranchAdmittances.from_grid(self.grid)

    def apply(self, point: OperatingPoint, q_state: IntArray) -> None:
        """Put the grid model in the state of ``point`` with the groups pinned as ``q_state`` says."""
        self._apply_gen_p(point.gen_p_mw)
        gen_on = (q_state == Q_FREE)[self.prepared.gen_group]
        gen_on[list(point.gen_out)] = False
        self._apply_gen_status(gen_on)
        self._apply_companions(point, q_state)
        self._apply_slack(point.slack_weights)
        self._apply_branch_outages(point.branch_out)
        self._apply_facility(point)

    def _apply_gen_p(self, gen_p_mw: FloatArray) -> None:
        for index in np.flatnonzero(gen_p_mw != self._gen_p):
            self.grid.change_p_gen(int(index), float(gen_p_mw[index]))
        self._gen_p = gen_p_mw.copy()

    def _apply_gen_status(self, gen_on: np.ndarray) -> None:
        for gen in np.flatnonzero(gen_on != self._gen_on):
            (self.grid.reactivate_gen if gen_on[gen] else self.grid.deactivate_gen)(int(gen))
        self._gen_on = gen_on

    def _apply_companions(self, point: OperatingPoint, q_state: IntArray) -> None:
        """Pinned groups inject their generators' active power and their reactive limit."""
        prep = self.prepared
        wanted = np.column_stack([companion_p_mw(prep, point, q_state), group_limits(prep, q_state, point.gen_out)])
        for group in np.flatnonzero((wanted != self._sgen_pq).any(axis=1)):
            sgen = int(prep.group_sgen[group])
            self.grid.change_p_sgen(sgen, float(wanted[group, 0]))
            self.grid.change_q_sgen(sgen, float(wanted[group, 1]))
        self._sgen_pq = wanted

    def _apply_slack(self, weights: FloatArray | None) -> None:
        current = self._slack_weights
        same = weights is None and current is None
        if same or (weights is not None and current is not None and np.array_equal(weights, current)):
            return
        slack = self.prepared.slack_gen
        wanted = np.zeros(len(self.prepared.gen_ids)) if weights is None else weights
        if weights is None:
            wanted[slack] = 1.0
        old = np.zeros_like(wanted) if current is None else current
        if current is None:
            old[slack] = 1.0
        for gen in np.flatnonzero(wanted > 0):
            if wanted[gen] != old[gen]:
                self.grid.add_gen_slackbus(int(gen), float(wanted[gen]))
        for gen in np.flatnonzero((wanted <= 0) & (old > 0)):
            self.grid.remove_gen_slackbus(int(gen))
        self._slack_weights = None if weights is None else weights.copy()

    def _apply_branch_outages(self, branch_out: tuple[int, ...]) -> None:
        if branch_out == self._branch_out:
            return
        for position in self._branch_out:
            self._set_branch(position, connected=True)
        for position in branch_out:
            self._set_branch(position, connected=False)
        self._branch_out = branch_out

    def _set_branch(self, position: int, *, connected: bool) -> None:
        grid = self.grid
        if position < self._n_lines:
            (grid.reactivate_powerline if connected else grid.deactivate_powerline)(position)
        else:
            (grid.reactivate_trafo if connected else grid.deactivate_trafo)(position - self._n_lines)

    def _apply_facility(self, point: OperatingPoint) -> None:
        load = self.prepared.facility_load
        self.grid.change_bus_load(load, max(point.facility_bus, 0))
        self.grid.change_p_load(load, point.facility_p_mw if point.facility_bus >= 0 else 0.0)
        self.grid.change_q_load(load, point.facility_q_mvar if point.facility_bus >= 0 else 0.0)

    def _isolated_copy(self, cut_off: np.ndarray, point: OperatingPoint) -> Any:
        """A copy of the grid with every element on the buses in ``cut_off`` switched off (the
        facility's load too when the outage cuts its bus off: the net's table has it at bus 0)."""
        prep, grid = self.prepared, self.grid.copy()
        net = prep.net
        for table, switch_off in (
            ("load", grid.deactivate_load),
            ("sgen", grid.deactivate_sgen),
            ("shunt", grid.deactivate_shunt),
        ):
            for index in np.flatnonzero(cut_off[net[table].bus.to_numpy()]):
                switch_off(int(index))
        if point.facility_bus >= 0 and cut_off[point.facility_bus]:
            grid.deactivate_load(int(prep.facility_load))
        for gen in np.flatnonzero(cut_off[prep.gen_bus]):
            grid.deactivate_gen(int(gen))
        for position in np.flatnonzero(cut_off[prep.branch_from] | cut_off[prep.branch_to]):
            if position < self._n_lines:
                grid.deactivate_powerline(int(position))
            else:
                grid.deactivate_trafo(int(position - self._n_lines))
        return grid

    def _start(self, grid: Any, v_init: ComplexArray | None) -> ComplexArray:
        if v_init is not None:
            return np.nan_to_num(np.array(v_init, dtype=np.complex128), nan=1.0)
        flat = np.ones(self.prepared.n_bus, dtype=np.complex128)
        try:
            v_dc = grid.dc_pf(flat.copy(), self.settings.max_iterations, self.settings.tolerance_pu)
        except RuntimeError as exc:  # e.g. the outage of the only slack machine: the AC solve reports it
            logger.debug("lightsim2grid_dc_pf_error error=%s", exc)
            v_dc = np.zeros(0, dtype=np.complex128)
        if len(v_dc) == 0:
            return flat
        vm = np.ones(self.prepared.n_bus)
        vm[self.prepared.group_bus] = self.prepared.group_vm_set_pu
        return np.asarray(np.exp(1j * np.angle(v_dc)) * vm, dtype=np.complex128)

    def solve(self, point: OperatingPoint, q_state: IntArray, v_init: ComplexArray | None) -> RawSolution:
        """Solve one operating point (see :class:`PowerFlowBackend`)."""
        self.apply(point, q_state)
        cut_off = self.islands.islanded(point.branch_out) if point.branch_out else None
        grid = self.grid
        if cut_off is not None and cut_off.any():
            grid = self._isolated_copy(cut_off, point)
        start = self._start(grid, v_init)
        v, iterations = self._ac_pf(grid, start)
        if len(v) == 0:
            prep = self.prepared
            return RawSolution.diverged(n_bus=prep.n_bus, n_gen=len(prep.gen_ids), n_branch=prep.n_branch, iterations=iterations)
        return self._collect(grid, point, v, iterations, cut_off)

    @contextmanager
    def chord_solves(self) -> Iterator[None]:
        """Within the block, solves use the chord policy (see :func:`chord_config`) and fall
        back to Newton-Raphson when chord does not converge: same answers, fewer factorisations.
        Meant for solves that start next to their solution (outages from the solved stage).
        Blocks may nest; the outermost one restores Newton-Raphson."""
        if self._newton is not None:
            yield
            return
        self._newton = newton_config(self.grid)
        self.grid.set_ac_algo_config(chord_config(self.grid))
        try:
            yield
        finally:
            self.grid.set_ac_algo_config(self._newton)
            self._newton = None

    def _ac_pf(self, grid: Any, start: ComplexArray) -> tuple[ComplexArray, int]:
        """Solve with the grid's algorithm; inside :meth:`chord_solves`, Newton when chord fails."""
        if self._newton is None:
            return self._run_ac_pf(grid, start)
        v, iterations = self._run_ac_pf(grid, start.copy())
        if len(v) == 0:
            chord = grid.get_ac_algo_config()
            grid.set_ac_algo_config(self._newton)
            v, iterations = self._run_ac_pf(grid, start)
            grid.set_ac_algo_config(chord)
        return v, iterations

    def _run_ac_pf(self, grid: Any, start: ComplexArray) -> tuple[ComplexArray, int]:
        try:
            v = grid.ac_pf(start, self.settings.max_iterations, self.settings.tolerance_pu)
        except RuntimeError as exc:  # raised for structurally unsolvable states (e.g. no slack left)
            logger.debug("lightsim2grid_ac_pf_error error=%s", exc)
            v = np.zeros(0, dtype=np.complex128)
        return v, int(grid.get_algo().get_nb_iter())

    def _collect(
        self, grid: Any, point: OperatingPoint, v: ComplexArray, iterations: int, cut_off: np.ndarray | None
    ) -> RawSolution:
        prep = self.prepared
        v = np.where(self._bus_off, np.nan, v)  # an out-of-service bus has no voltage
        if cut_off is not None:
            v = np.where(cut_off, np.nan, v)
        v = v * np.exp(-1j * np.angle(v[angle_reference(prep, v)]))
        # the result getters return views of lightsim2grid's buffers, which the next solve reuses or
        # frees: copy them; switched-off generators keep stale values: use their schedule instead
        gen_p, gen_q, _, _ = grid.get_gen_res_full()
        lost = cut_off[prep.gen_bus] if cut_off is not None else np.zeros(len(prep.gen_ids), dtype=bool)
        lost[list(point.gen_out)] = True
        on = self._gen_on & ~lost
        pinned = ~self._gen_on & ~lost
        gen_p_mw = np.where(on, np.array(gen_p, dtype=np.float64, copy=True), np.where(pinned, point.gen_p_mw, 0.0))
        line1, line2 = grid.get_line_res1_full(), grid.get_line_res2_full()
        trafo1, trafo2 = grid.get_trafo_res1_full(), grid.get_trafo_res2_full()
        return RawSolution(
            converged=True,
            v=v,
            gen_q_mvar=np.where(on, np.array(gen_q, dtype=np.float64, copy=True), 0.0),
            gen_p_mw=gen_p_mw,
            slack_p_mw=float(gen_p_mw[prep.slack_gen]),
            p_from_mw=np.concatenate([line1[0], trafo1[0]]),
            q_from_mvar=np.concatenate([line1[1], trafo1[1]]),
            p_to_mw=np.concatenate([line2[0], trafo2[0]]),
            q_to_mvar=np.concatenate([line2[1], trafo2[1]]),
            iterations=iterations,
        )
