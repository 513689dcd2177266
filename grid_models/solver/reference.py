"""The reference solver path: plain pandapower Newton-Raphson (``lightsim2grid=False``).

It solves the same operating points on the same prepared net as :class:`LightSimBackend`, through
pandapower's own model building (``_pd2ppc``, ``makeYbus``) and its own Python/numba Newton-Raphson,
so agreement between the two is an independent check of the fast path. It is 10-100x slower and
is used by tests and benchmarks, not by studies.
"""

from __future__ import annotations

import copy
import warnings

import numpy as np
import pandapower as pp

from grid_models.solver.lightsim import angle_reference, companion_p_mw, group_limits
from grid_models.solver.network import PreparedNetwork
from grid_models.solver.topology import IslandFinder
from grid_models.solver.types import (
    Q_FREE,
    ComplexArray,
    IntArray,
    OperatingPoint,
    RawSolution,
    SolverSettings,
)

__all__ = ["PandapowerBackend"]


class PandapowerBackend:
    """Solves operating points with ``pandapower.runpp(..., lightsim2grid=False)``."""

    name = "pandapower"

    def __init__(self, prepared: PreparedNetwork, settings: SolverSettings | None = None) -> None:
        self.prepared = prepared
        self.settings = settings or SolverSettings()
        self.net = copy.deepcopy(prepared.net)
        self.islands = IslandFinder(prepared)
        self._bus_in_service = self.net.bus.in_service.to_numpy(dtype=bool).copy()
        self._n_lines = len(self.net.line)

    def _apply(self, point: OperatingPoint, q_state: IntArray) -> None:
        prep, net = self.prepared, self.net
        in_group = np.ones(len(prep.gen_ids), dtype=bool)
        in_group[list(point.gen_out)] = False
        net.gen["p_mw"] = point.gen_p_mw
        net.gen["in_service"] = (q_state == Q_FREE)[prep.gen_group] & in_group
        weights = np.zeros(len(prep.gen_ids)) if point.slack_weights is None else point.slack_weights
        net.gen["slack_weight"] = weights
        net.sgen.loc[prep.group_sgen, "p_mw"] = companion_p_mw(prep, point, q_state)
        net.sgen.loc[prep.group_sgen, "q_mvar"] = group_limits(prep, q_state, point.gen_out)
        branch_in = prep.branch_in_service.copy()
        branch_in[list(point.branch_out)] = False
        cut_off = self.islands.islanded(point.branch_out) if point.branch_out else np.zeros(prep.n_bus, dtype=bool)
        net.bus["in_service"] = self._bus_in_service & ~cut_off  # like lightsim2grid: buses cut off are dropped
        net.gen["slack"] = False
        net.gen.loc[net.gen.index[self._reference(point, cut_off)], "slack"] = True
        net.line["in_service"] = branch_in[: self._n_lines]
        net.trafo["in_service"] = branch_in[self._n_lines :]
        has_facility = point.facility_bus >= 0
        load = prep.facility_load
        net.load.loc[load, "bus"] = max(point.facility_bus, 0)
        net.load.loc[load, "p_mw"] = point.facility_p_mw if has_facility else 0.0
        net.load.loc[load, "q_mvar"] = point.facility_q_mvar if has_facility else 0.0

    def _reference(self, point: OperatingPoint, cut_off: np.ndarray) -> int:
        """The angle-reference machine: the slack generator, or the largest participant left."""
        prep = self.prepared
        if prep.slack_gen not in point.gen_out and not cut_off[prep.gen_bus[prep.slack_gen]]:
            return prep.slack_gen
        weights = np.zeros(len(prep.gen_ids)) if point.slack_weights is None else point.slack_weights.copy()
        weights[list(point.gen_out)] = -1.0
        weights[cut_off[prep.gen_bus]] = -1.0
        return int(np.argmax(weights))

    def solve(self, point: OperatingPoint, q_state: IntArray, v_init: ComplexArray | None) -> RawSolution:
        """Solve one operating point (see :class:`PowerFlowBackend`)."""
        self._apply(point, q_state)
        init: dict[str, object] = {"init": "dc"}
        if v_init is not None:
            init = {"init_vm_pu": np.abs(v_init), "init_va_degree": np.angle(v_init, deg=True)}
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                pp.runpp(
                    self.net,
                    algorithm="nr",
                    lightsim2grid=False,
                    enforce_q_lims=False,
                    trafo_model="t",  # pandapower's default, which build_lsgrid reproduces
                    calculate_voltage_angles=True,
                    tolerance_mva=self.settings.tolerance_pu * self.net.sn_mva,
                    max_iteration=self.settings.max_iterations,
                    numba=True,
                    distributed_slack=point.slack_weights is not None,
                    **init,
                )
        except pp.LoadflowNotConverged:
            prep = self.prepared
            return RawSolution.diverged(n_bus=prep.n_bus, n_gen=len(prep.gen_ids), n_branch=prep.n_branch, iterations=0)
        return self._collect(point)

    def _collect(self, point: OperatingPoint) -> RawSolution:
        net, prep = self.net, self.prepared
        vm = net.res_bus.vm_pu.to_numpy(dtype=np.float64)
        va = np.deg2rad(net.res_bus.va_degree.to_numpy(dtype=np.float64))
        v = vm * np.exp(1j * va)
        v = v * np.exp(-1j * np.angle(v[angle_reference(prep, v)]))
        res_line, res_trafo = net.res_line.fillna(0.0), net.res_trafo.fillna(0.0)
        energised = np.isfinite(vm[prep.gen_bus]) & ~np.isin(np.arange(len(prep.gen_ids)), point.gen_out)
        on = net.gen.in_service.to_numpy(dtype=bool) & energised
        gen_p = np.where(on, net.res_gen.p_mw.to_numpy(dtype=np.float64), np.where(energised, point.gen_p_mw, 0.0))
        return RawSolution(
            converged=True,
            v=v,
            gen_q_mvar=np.where(on, net.res_gen.q_mvar.to_numpy(dtype=np.float64), 0.0),
            gen_p_mw=gen_p,
            slack_p_mw=float(gen_p[prep.slack_gen]),
            p_from_mw=np.concatenate([res_line.p_from_mw, res_trafo.p_hv_mw]),
            q_from_mvar=np.concatenate([res_line.q_from_mvar, res_trafo.q_hv_mvar]),
            p_to_mw=np.concatenate([res_line.p_to_mw, res_trafo.p_lv_mw]),
            q_to_mvar=np.concatenate([res_line.q_to_mvar, res_trafo.q_lv_mvar]),
            iterations=_iterations(net),
        )


def _iterations(net: pp.pandapowerNet) -> int:
    """Newton iterations of pandapower's last solve (it records them only in its internal case)."""
    ppc = net._ppc  # noqa: SLF001 - pandapower keeps the solved internal case only here
    return int(ppc["iterations"]) if ppc is not None and "iterations" in ppc else 0
