"""Plain data passed between the solver backends and the analyses."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

import numpy as np
import numpy.typing as npt

from grid_models.solver.network import PreparedNetwork

__all__ = ["ComplexArray", "FloatArray", "IntArray", "OperatingPoint", "PowerFlowBackend", "RawSolution", "SolverSettings"]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
ComplexArray = npt.NDArray[np.complex128]

Q_FREE, Q_AT_MAX, Q_AT_MIN = 0, 1, -1


@dataclass(frozen=True)
class SolverSettings:
    """Numerical settings shared by both solver paths.

    Attributes:
        tolerance_pu: Newton-Raphson mismatch tolerance, per unit of the net's ``sn_mva``.
        max_iterations: Newton-Raphson iterations per solve.
        enforce_q_limits: pin generators at their reactive limits (PV <-> PQ switching).
        max_q_passes: solves allowed to settle which generators sit at a limit.
        q_tolerance_mvar: reactive output beyond a limit before a generator is pinned.
        v_tolerance_pu: voltage beyond the set-point before a pinned generator is released.
        loss_tolerance_mw: slack mismatch left after the dispatch iterations.
        max_dispatch_iterations: solves allowed to share the change in losses.
    """

    tolerance_pu: float = 1e-8
    max_iterations: int = 30
    enforce_q_limits: bool = True
    max_q_passes: int = 30
    q_tolerance_mvar: float = 1e-3
    v_tolerance_pu: float = 1e-6
    loss_tolerance_mw: float = 0.05
    max_dispatch_iterations: int = 8


@dataclass(frozen=True)
class OperatingPoint:
    """What a solve changes relative to the prepared net.

    Attributes:
        gen_p_mw: active set-point of every in-service generator (prepared order).
        facility_bus: bus position of the facility load, or -1 for none.
        facility_p_mw / facility_q_mvar: the facility's demand.
        branch_out: branch positions switched out (contingencies).
        gen_out: generator positions switched out (contingencies).
        slack_weights: per generator, the share of any power imbalance it takes (a distributed
            slack, used for the response to an outage); ``None``: the slack generator alone.
    """

    gen_p_mw: FloatArray
    facility_bus: int = -1
    facility_p_mw: float = 0.0
    facility_q_mvar: float = 0.0
    branch_out: tuple[int, ...] = ()
    gen_out: tuple[int, ...] = ()
    slack_weights: FloatArray | None = None


@dataclass
class RawSolution:
    """One solve's result, by position; angles are relative to the slack bus.

    When ``converged`` is False the arrays hold NaN. Buses cut off from the slack bus by an
    outage hold NaN voltages and their branches zero flow; ``slack_p_mw`` is the output of the
    slack generator (with a distributed slack, of the reference generator).
    """

    converged: bool
    v: ComplexArray
    gen_q_mvar: FloatArray
    gen_p_mw: FloatArray
    slack_p_mw: float
    p_from_mw: FloatArray
    q_from_mvar: FloatArray
    p_to_mw: FloatArray
    q_to_mvar: FloatArray
    iterations: int = 0
    notes: list[str] = field(default_factory=list)

    @classmethod
    def diverged(cls, *, n_bus: int, n_gen: int, n_branch: int, iterations: int) -> RawSolution:
        """A non-converged solve: every array NaN."""
        return cls(
            converged=False,
            v=np.full(n_bus, np.nan, dtype=np.complex128),
            gen_q_mvar=np.full(n_gen, np.nan),
            gen_p_mw=np.full(n_gen, np.nan),
            slack_p_mw=float("nan"),
            p_from_mw=np.full(n_branch, np.nan),
            q_from_mvar=np.full(n_branch, np.nan),
            p_to_mw=np.full(n_branch, np.nan),
            q_to_mvar=np.full(n_branch, np.nan),
            iterations=iterations,
        )

    @property
    def vm_pu(self) -> FloatArray:
        """Voltage magnitudes."""
        return np.abs(self.v)

    @property
    def va_degree(self) -> FloatArray:
        """Voltage angles relative to the slack bus."""
        return np.angle(self.v, deg=True)

    @property
    def losses_mw(self) -> float:
        """Active losses in all branches."""
        return float(np.nansum(self.p_from_mw + self.p_to_mw))


class PowerFlowBackend(Protocol):
    """A solver path: solves operating points on a prepared network."""

    prepared: PreparedNetwork
    name: str

    def solve(self, point: OperatingPoint, q_state: IntArray, v_init: ComplexArray | None) -> RawSolution:
        """Solve ``point`` with generator groups pinned as ``q_state`` says, from ``v_init``."""
        ...
