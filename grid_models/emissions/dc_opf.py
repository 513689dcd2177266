"""Network-constrained economic dispatch: a DC optimal power flow as a sparse linear program
(bus angles, generator cost segments, soft branch limits) solved by HiGHS through SciPy.

The DC model is pandapower's own (``rundcpp`` builds the bus and branch susceptance matrices and
the phase-shift injections), so our flows equal pandapower's DC flows for the same injections
(tested). Costs: the quadratic ``gencost`` of each unit is followed by linear segments of at most
10 MW between Pmin and Pmax (at most 20 per unit: the same blocks as the merit-order rule); a
cost rank of 1e-6 $/MWh breaks ties between identical units the same way in every solve, so the
difference of two dispatches shows only what the demand changed. Branch limits are the normal
ratings; a limit the case already breaks is relaxed at 10,000 $/MWh and reported, never infeasible.
Units outside the dispatchable fuels keep their schedule. The network is lossless: the AC power
flow's added losses are served with the facility at the POI.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from functools import cached_property

import numpy as np
import numpy.typing as npt
import pandapower as pp
import scipy.sparse as sp
from scipy.optimize import linprog
from scipy.sparse.linalg import splu

from grid_models.errors import SolverError
from grid_models.solver.network import PreparedNetwork

__all__ = ["DcDispatch", "DcNetwork", "dc_network", "dc_opf"]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

_SEGMENT_MW = 10.0
_MAX_SEGMENTS = 20
_TIE_BREAK = 1e-6  # $/MWh per rank
_OVERLOAD_COST = 1e4  # $/MWh of flow above a normal rating
_UNSERVED_COST = 1e5  # $/MWh of demand the network cannot serve (or generation it cannot absorb)
_FLOW_TOLERANCE_MW = 1e-3
_ROUND_SIZE = 200  # most overloaded branches added per round
_MAX_ROUNDS = 50
# HiGHS presolve compares columns pairwise, and the cost segments are all parallel in the balance
# row: on activsg70k's 35,000 segments presolve cost an order of magnitude more than it saved
_HIGHS = {"presolve": False}

# pypower column indices (pandapower.pypower.idx_bus / idx_brch)
_BUS_TYPE, _PD, _GS, _F_BUS, _T_BUS = 1, 2, 4, 0, 1


@dataclass
class DcNetwork:
    """The DC model of a prepared network, indexed like pandapower's internal case (ppc)."""

    base_mva: float
    bus_of_position: IntArray  # ppc bus of each prepared bus position
    b_bus: sp.csr_matrix  # MW per rad
    b_branch: sp.csr_matrix  # MW per rad, one row per prepared branch position
    p_bus_shift_mw: FloatArray
    p_branch_shift_mw: FloatArray
    demand_mw: FloatArray  # loads, static generators (negative) and shunt conductance per ppc bus
    energized: npt.NDArray[np.bool_]
    ref_bus: int
    rate_mw: FloatArray  # normal rating per branch position (NaN: unrated or out of service)

    @cached_property
    def solver(self) -> _Flows:
        """DC flows and PTDF rows (one sparse LU, made on first use and kept)."""
        return _Flows(self)


def dc_network(prepared: PreparedNetwork) -> DcNetwork:
    """Build the DC model with pandapower's ``rundcpp`` on a copy of the working net."""
    net = copy.deepcopy(prepared.net)
    net.load.loc[prepared.facility_load, "p_mw"] = 0.0
    pp.rundcpp(net)
    ppc, internal = net._ppc, net._ppc["internal"]  # noqa: SLF001 - pandapower keeps the solved internal case only here
    if len(internal["bus"]) != len(ppc["bus"]) or len(internal["branch"]) != len(ppc["branch"]):
        raise SolverError("the DC model dropped out-of-service buses or branches; remove them from the grid first")
    base = float(ppc["baseMVA"])
    lookup = np.asarray(net._pd2ppc_lookups["bus"], dtype=np.int64)  # noqa: SLF001 - pandapower keeps the solved internal case only here
    rows = _branch_rows(net, prepared)
    bus = ppc["bus"]
    rate = np.where(prepared.branch_in_service, prepared.rate_normal_mva, np.nan)
    return DcNetwork(
        base_mva=base,
        bus_of_position=lookup[np.arange(prepared.n_bus)],
        b_bus=sp.csr_matrix(internal["Bbus"]) * base,
        b_branch=sp.csr_matrix(internal["Bf"])[rows] * base,
        p_bus_shift_mw=np.asarray(internal["Pbusinj"], dtype=np.float64) * base,
        p_branch_shift_mw=np.asarray(internal["Pfinj"], dtype=np.float64)[rows] * base,
        demand_mw=bus[:, _PD].astype(np.float64) + bus[:, _GS].astype(np.float64),
        energized=bus[:, _BUS_TYPE] != 4,
        ref_bus=int(lookup[prepared.slack_bus]),
        rate_mw=rate,
    )


def _branch_rows(net: pp.pandapowerNet, prepared: PreparedNetwork) -> IntArray:
    """ppc branch row of each prepared branch position (lines, then transformers)."""
    spans = net._pd2ppc_lookups["branch"]  # noqa: SLF001 - pandapower keeps the solved internal case only here
    line_start, _ = spans.get("line", (0, 0))
    trafo_start, _ = spans.get("trafo", (0, 0))
    line_pos = {int(e): i for i, e in enumerate(net.line.index)}
    trafo_pos = {int(e): i for i, e in enumerate(net.trafo.index)}
    return np.array(
        [
            line_start + line_pos[int(e)] if kind == "line" else trafo_start + trafo_pos[int(e)]
            for kind, e in zip(prepared.branch_kind, prepared.branch_element, strict=True)
        ],
        dtype=np.int64,
    )


@dataclass
class DcDispatch:
    """One DC OPF solution."""

    p_mw: FloatArray  # per generator position
    flow_mw: FloatArray  # per branch position
    overload_mw: FloatArray  # flow above the normal rating the solve had to accept
    unserved_mw: float
    spilled_mw: float
    cost_per_h: float

    def congested(self, network: DcNetwork, *, tolerance_mw: float = 1e-3) -> IntArray:
        """Branch positions at (or above) their normal rating."""
        rate = np.nan_to_num(network.rate_mw, nan=np.inf)
        return np.flatnonzero(np.abs(self.flow_mw) >= rate - tolerance_mw)


@dataclass
class _Segments:
    unit: IntArray  # generator position of each segment
    width: FloatArray
    slope: FloatArray


def _segments(prepared: PreparedNetwork, movable: IntArray) -> _Segments:
    units: list[int] = []
    widths: list[float] = []
    slopes: list[float] = []
    for rank, g in enumerate(movable):
        low, high = prepared.gen_pmin_mw[g], prepared.gen_pmax_mw[g]
        span = max(high - low, 0.0)
        count = int(min(max(np.ceil(span / _SEGMENT_MW), 1), _MAX_SEGMENTS))
        edges = np.linspace(low, low + span, count + 1)
        c2, c1 = np.nan_to_num(prepared.gen_cost[g, 0]), np.nan_to_num(prepared.gen_cost[g, 1])
        units.extend([g] * count)
        widths.extend(np.diff(edges))
        slopes.extend(c1 + c2 * (edges[:-1] + edges[1:]) + _TIE_BREAK * rank)
    return _Segments(np.asarray(units, np.int64), np.asarray(widths, np.float64), np.asarray(slopes, np.float64))


class _Flows:
    """DC flows of any injection vector, and PTDF rows on demand, from one sparse LU of B."""

    def __init__(self, network: DcNetwork) -> None:
        self.network = network
        keep = np.flatnonzero(network.energized)
        self.keep = keep[keep != network.ref_bus]
        reduced = network.b_bus[self.keep][:, self.keep].tocsc()
        try:
            self.lu = splu(reduced)
        except RuntimeError:
            raise SolverError("the DC model is singular: the grid has more than one energized island") from None
        self.b_branch_reduced = network.b_branch[:, self.keep].tocsr()

    def flows(self, injection_mw: FloatArray) -> FloatArray:
        """Branch flows (MW) of bus injections (MW, ppc order; the reference bus balances)."""
        theta = np.zeros(self.network.b_bus.shape[0])
        theta[self.keep] = self.lu.solve(injection_mw[self.keep] - self.network.p_bus_shift_mw[self.keep])
        return np.asarray(self.network.b_branch @ theta + self.network.p_branch_shift_mw, dtype=np.float64)

    def ptdf_rows(self, branches: IntArray) -> FloatArray:
        """d flow / d injection (injection at a bus, withdrawn at the reference bus), one row per branch."""
        rows = np.zeros((len(branches), self.network.b_bus.shape[0]))
        dense = self.b_branch_reduced[branches].toarray()
        rows[:, self.keep] = self.lu.solve(dense.T, trans="T").T
        return rows


@dataclass
class _Problem:
    seg: _Segments
    seg_bus: IntArray
    constant_mw: FloatArray  # injection per ppc bus with every movable unit at Pmin
    fixed_mw: FloatArray  # per generator: Pmin (movable) or schedule
    poi: int


def _solve_lp(problem: _Problem, ptdf: FloatArray, limits: FloatArray, base_flow: FloatArray) -> tuple[FloatArray, float]:
    """Least cost with the balance row and the active flow limits (soft); returns x and the cost."""
    seg, n_active = problem.seg, len(limits)
    n_seg = len(seg.unit)
    # variables: segments, overload +, overload -, unserved, spilled
    cost = np.concatenate([seg.slope, np.full(2 * n_active, _OVERLOAD_COST), [_UNSERVED_COST, _UNSERVED_COST]])
    balance = np.concatenate([np.ones(n_seg), np.zeros(2 * n_active), [1.0, -1.0]])
    a_eq, b_eq = balance[None, :], np.array([-problem.constant_mw.sum()])
    bounds = [(0.0, w) for w in seg.width] + [(0.0, None)] * (2 * n_active + 2)
    if n_active == 0:
        solved = linprog(cost, A_eq=a_eq, b_eq=b_eq, bounds=bounds, method="highs", options=_HIGHS)
    else:
        coefficient = ptdf[:, problem.seg_bus]
        shed = ptdf[:, problem.poi]
        eye = np.eye(n_active)
        upper = np.hstack([coefficient, -eye, np.zeros((n_active, n_active)), shed[:, None], -shed[:, None]])
        lower = np.hstack([-coefficient, np.zeros((n_active, n_active)), -eye, -shed[:, None], shed[:, None]])
        a_ub = np.vstack([upper, lower])
        b_ub = np.concatenate([limits - base_flow, limits + base_flow])
        solved = linprog(cost, A_ub=a_ub, b_ub=b_ub, A_eq=a_eq, b_eq=b_eq, bounds=bounds, method="highs", options=_HIGHS)
    if solved.status != 0:
        raise SolverError(f"the DC optimal power flow failed: {solved.message}")
    return np.asarray(solved.x, dtype=np.float64), float(solved.fun)


def dc_opf(
    network: DcNetwork,
    prepared: PreparedNetwork,
    *,
    schedule_mw: FloatArray,
    movable: npt.NDArray[np.bool_],
    losses_mw: float = 0.0,
    extra_demand_mw: float = 0.0,
    extra_bus: int = 0,
) -> DcDispatch:
    """Least-cost dispatch of the ``movable`` units within [Pmin, Pmax]; the others stay at
    ``schedule_mw``. ``losses_mw`` (the AC case's losses) is added to the demand in proportion to
    the loads, so the dispatch serves what the AC case generates; ``extra_demand_mw`` is added at
    prepared bus position ``extra_bus``.

    Branch limits enter by constraint generation: solve with the limits found so far, compute the
    DC flows on every branch, add the overloaded ones (their PTDF rows), repeat until none is new.
    The answer is the optimum of the problem with every limit (the relaxation's optimum is feasible).

    Raises:
        SolverError: singular DC model (several islands), or no convergence in 50 rounds.
    """
    flows = network.solver
    problem = _problem(
        network,
        prepared,
        schedule_mw=schedule_mw,
        movable=movable,
        losses_mw=losses_mw,
        extra_demand_mw=extra_demand_mw,
        extra_bus=extra_bus,
    )
    rate = np.nan_to_num(network.rate_mw, nan=np.inf)
    base_all = flows.flows(problem.constant_mw)
    active = np.zeros(0, dtype=np.int64)
    ptdf = np.zeros((0, network.b_bus.shape[0]))
    for _ in range(_MAX_ROUNDS):
        x, cost = _solve_lp(problem, ptdf, rate[active], base_all[active])
        injection = _injection(problem, x, network.b_bus.shape[0])
        flow = flows.flows(injection)
        over = np.flatnonzero(np.abs(flow) > rate + _FLOW_TOLERANCE_MW)
        new = np.setdiff1d(over, active)
        if len(new) == 0:
            return _dispatch(problem, x, flow=flow, rate=rate, active=active, cost=cost)
        new = new[np.argsort(-(np.abs(flow[new]) - rate[new]))][:_ROUND_SIZE]
        active = np.concatenate([active, new])
        ptdf = np.vstack([ptdf, flows.ptdf_rows(new)])
    raise SolverError(f"the DC optimal power flow did not settle its branch limits in {_MAX_ROUNDS} rounds")


def _problem(
    network: DcNetwork,
    prepared: PreparedNetwork,
    *,
    schedule_mw: FloatArray,
    movable: npt.NDArray[np.bool_],
    losses_mw: float,
    extra_demand_mw: float,
    extra_bus: int,
) -> _Problem:
    n_bus = network.b_bus.shape[0]
    seg = _segments(prepared, np.flatnonzero(movable).astype(np.int64))
    gen_bus = network.bus_of_position[prepared.gen_bus]
    fixed = np.where(movable, prepared.gen_pmin_mw, schedule_mw)
    demand = network.demand_mw.copy()
    loads = np.clip(demand, 0.0, None)
    demand += losses_mw * loads / max(float(loads.sum()), 1e-9)
    poi = int(network.bus_of_position[extra_bus])
    demand[poi] += extra_demand_mw
    constant = np.bincount(gen_bus, weights=fixed, minlength=n_bus) - demand
    return _Problem(seg=seg, seg_bus=gen_bus[seg.unit], constant_mw=constant, fixed_mw=fixed, poi=poi)


def _injection(problem: _Problem, x: FloatArray, n_bus: int) -> FloatArray:
    n_seg = len(problem.seg.unit)
    injection = problem.constant_mw + np.bincount(problem.seg_bus, weights=x[:n_seg], minlength=n_bus)
    injection[problem.poi] += x[-2] - x[-1]
    return injection


def _dispatch(
    problem: _Problem, x: FloatArray, *, flow: FloatArray, rate: FloatArray, active: IntArray, cost: float
) -> DcDispatch:
    n_seg = len(problem.seg.unit)
    fixed = problem.fixed_mw
    overload = np.zeros(len(flow))
    overload[active] = np.clip(np.abs(flow[active]) - rate[active], 0.0, None)
    return DcDispatch(
        p_mw=fixed + np.bincount(problem.seg.unit, weights=x[:n_seg], minlength=len(fixed)),
        flow_mw=flow,
        overload_mw=overload,
        unserved_mw=float(x[-2]),
        spilled_mw=float(x[-1]),
        cost_per_h=cost,
    )
