"""The fast solver path: lightsim2grid's C++ Newton-Raphson (KLU) on a grid model built once.

The ``LSGrid`` is built from the prepared net once; each solve only changes set-points, statuses
and the facility load, and starts from the caller's voltages, so a warm solve of activsg2000
takes well under a millisecond when nothing structural changed.
"""

from __future__ import annotations

import logging
import warnings

import numpy as np

from grid_models.errors import SolverError
from grid_models.solver.network import PreparedNetwork
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

__all__ = ["LightSimBackend"]

logger = logging.getLogger(__name__)


def _build_lsgrid(prepared: PreparedNetwork):  # type: ignore[no-untyped-def]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # lightsim2grid warns about the ext_grid-less slack it handles fine
        from lightsim2grid.network import init_from_pandapower

        try:
            return init_from_pandapower(prepared.net, pp_orig_file="pandapower_v3")
        except (RuntimeError, ValueError, IndexError) as exc:
            raise SolverError(f"lightsim2grid cannot build this grid: {exc}") from exc


class LightSimBackend:
    """Solves operating points with lightsim2grid; keeps what it last applied to change only diffs."""

    name = "lightsim2grid"

    def __init__(self, prepared: PreparedNetwork, settings: SolverSettings | None = None) -> None:
        self.prepared = prepared
        self.settings = settings or SolverSettings()
        self._grid = _build_lsgrid(prepared)
        self._n_lines = len(prepared.net.line)
        self._gen_p = prepared.gen_p_mw.copy()
        self._q_state = np.zeros(len(prepared.group_bus), dtype=np.int64)
        self._sgen_p = np.zeros(len(prepared.group_bus))
        self._branch_out: tuple[int, ...] = ()

    def _apply_gen_p(self, gen_p_mw: FloatArray) -> None:
        for index in np.flatnonzero(gen_p_mw != self._gen_p):
            self._grid.change_p_gen(int(index), float(gen_p_mw[index]))
        self._gen_p = gen_p_mw.copy()

    def _apply_q_state(self, q_state: IntArray) -> None:
        prep = self.prepared
        group_p = np.bincount(prep.gen_group, weights=self._gen_p, minlength=len(prep.group_bus))
        for group in np.flatnonzero(q_state != self._q_state):
            gens = np.flatnonzero(prep.gen_group == group)
            pinned = q_state[group] != Q_FREE
            for gen in gens:
                (self._grid.deactivate_gen if pinned else self._grid.reactivate_gen)(int(gen))
            limit = prep.group_qmax_mvar[group] if q_state[group] == Q_AT_MAX else prep.group_qmin_mvar[group]
            self._grid.change_q_sgen(int(prep.group_sgen[group]), float(limit) if pinned else 0.0)
        wanted_p = np.where(q_state != Q_FREE, group_p, 0.0)
        for group in np.flatnonzero(wanted_p != self._sgen_p):
            self._grid.change_p_sgen(int(prep.group_sgen[group]), float(wanted_p[group]))
        self._sgen_p = wanted_p
        self._q_state = q_state.copy()

    def _apply_branch_outages(self, branch_out: tuple[int, ...]) -> None:
        if branch_out == self._branch_out:
            return
        for position in self._branch_out:
            self._set_branch(position, connected=True)
        for position in branch_out:
            self._set_branch(position, connected=False)
        self._branch_out = branch_out

    def _set_branch(self, position: int, *, connected: bool) -> None:
        grid = self._grid
        if position < self._n_lines:
            (grid.reactivate_powerline if connected else grid.deactivate_powerline)(position)
        else:
            (grid.reactivate_trafo if connected else grid.deactivate_trafo)(position - self._n_lines)

    def _apply_facility(self, point: OperatingPoint) -> None:
        load = self.prepared.facility_load
        self._grid.change_bus_load(load, max(point.facility_bus, 0))
        self._grid.change_p_load(load, point.facility_p_mw if point.facility_bus >= 0 else 0.0)
        self._grid.change_q_load(load, point.facility_q_mvar if point.facility_bus >= 0 else 0.0)

    def _start(self, v_init: ComplexArray | None) -> ComplexArray:
        if v_init is not None:
            return np.array(v_init, dtype=np.complex128)
        flat = np.ones(self.prepared.n_bus, dtype=np.complex128)
        v_dc = self._grid.dc_pf(flat.copy(), self.settings.max_iterations, self.settings.tolerance_pu)
        if len(v_dc) == 0:
            return flat
        return np.asarray(np.exp(1j * np.angle(v_dc)) * self._vm_setpoints(), dtype=np.complex128)

    def _vm_setpoints(self) -> FloatArray:
        vm = np.ones(self.prepared.n_bus)
        vm[self.prepared.group_bus] = self.prepared.group_vm_set_pu
        return vm

    def solve(self, point: OperatingPoint, q_state: IntArray, v_init: ComplexArray | None) -> RawSolution:
        """Solve one operating point (see :class:`PowerFlowBackend`)."""
        self._apply_gen_p(point.gen_p_mw)
        self._apply_q_state(q_state)
        self._apply_branch_outages(point.branch_out)
        self._apply_facility(point)
        start = self._start(v_init)
        try:
            v = self._grid.ac_pf(start, self.settings.max_iterations, self.settings.tolerance_pu)
        except RuntimeError as exc:  # raised for structurally unsolvable states (e.g. no slack left)
            logger.debug("lightsim2grid_ac_pf_error error=%s", exc)
            v = np.zeros(0, dtype=np.complex128)
        iterations = int(self._grid.get_algo().get_nb_iter())
        if len(v) == 0:
            prep = self.prepared
            return RawSolution.diverged(n_bus=prep.n_bus, n_gen=len(prep.gen_ids), n_branch=prep.n_branch, iterations=iterations)
        return self._collect(v, iterations)

    def _collect(self, v: ComplexArray, iterations: int) -> RawSolution:
        grid = self._grid
        v = v * np.exp(-1j * np.angle(v[self.prepared.slack_bus]))
        gen_p, gen_q, _, _ = grid.get_gen_res_full()
        line1, line2 = grid.get_line_res1_full(), grid.get_line_res2_full()
        trafo1, trafo2 = grid.get_trafo_res1_full(), grid.get_trafo_res2_full()
        # the result getters return views of lightsim2grid's buffers, which the next solve reuses or
        # frees: copy; switched-off generators keep stale values: zero them
        switched_on = self._q_state[self.prepared.gen_group] == Q_FREE
        gen_q_mvar = np.where(switched_on, np.array(gen_q, dtype=np.float64, copy=True), 0.0)
        return RawSolution(
            converged=True,
            v=v,
            gen_q_mvar=gen_q_mvar,
            slack_p_mw=float(gen_p[self.prepared.slack_gen]),
            p_from_mw=np.concatenate([line1[0], trafo1[0]]),
            q_from_mvar=np.concatenate([line1[1], trafo1[1]]),
            p_to_mw=np.concatenate([line2[0], trafo2[0]]),
            q_to_mvar=np.concatenate([line2[1], trafo2[1]]),
            iterations=iterations,
        )
