"""The table of post-contingency results and how a solved outage is recorded in it."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from grid_models.solver.lightsim import LightSimBackend
from grid_models.solver.network import BoolArray, PreparedNetwork
from grid_models.solver.types import FloatArray, IntArray, OperatingPoint, SolverSettings
from grid_models.studies.power_flow import StageSolve

__all__ = [
    "Contingency",
    "OutageContext",
    "OutageTable",
    "Stop",
    "loading_percent",
    "new_table",
    "outage_point",
    "record_row",
]

Float32Array = npt.NDArray[np.float32]


@dataclass(frozen=True)
class Contingency:
    """One outage: a branch (``line``/``trafo``), a three-winding transformer (``trafo3w``: its
    legs, ``position`` and ``legs``, out together) or a generator, by position in the prepared net.

    ``table`` names the caller's table when it is not ``kind``'s own: an external grid the engine
    models as a generator is outaged as kind ``gen`` and labelled ``ext_grid 0``.
    """

    kind: str
    position: int
    element_id: int
    name: str
    table: str | None = None
    legs: tuple[int, ...] = ()  # the other branches that go out with ``position``

    @property
    def branches_out(self) -> tuple[int, ...]:
        """Positions of the branches this outage switches off (none for a generator)."""
        return () if self.kind == "gen" else (self.position, *self.legs)

    @property
    def label(self) -> str:
        """``line 12``, ``trafo 3``, ``gen 40`` or ``ext_grid 0`` (index in the grid's tables)."""
        return f"{self.table or self.kind} {self.element_id}"


@dataclass
class OutageTable:
    """Post-contingency results, one row per contingency (float32 to keep large runs small).

    ``vm_pu`` is NaN for buses cut off and rows without a solution; ``loading_percent`` is in %
    of the emergency rating, NaN for the outaged, unrated or switched-out branches.
    """

    contingencies: list[Contingency]
    converged: BoolArray
    exact: BoolArray
    vm_pu: Float32Array
    loading_percent: Float32Array
    islanded_buses: IntArray
    islanded_load_mw: FloatArray
    islanded_generation_mw: FloatArray
    duration_s: float = 0.0

    def row(self, label: str) -> int:
        """Row of a contingency given its label."""
        return next(i for i, c in enumerate(self.contingencies) if c.label == label)

    @classmethod
    def join(cls, tables: list[OutageTable]) -> OutageTable:
        """The rows of ``tables`` one after the other."""
        return cls(
            contingencies=[c for table in tables for c in table.contingencies],
            converged=np.concatenate([t.converged for t in tables]),
            exact=np.concatenate([t.exact for t in tables]),
            vm_pu=np.vstack([t.vm_pu for t in tables]),
            loading_percent=np.vstack([t.loading_percent for t in tables]),
            islanded_buses=np.concatenate([t.islanded_buses for t in tables]),
            islanded_load_mw=np.concatenate([t.islanded_load_mw for t in tables]),
            islanded_generation_mw=np.concatenate([t.islanded_generation_mw for t in tables]),
            duration_s=sum(t.duration_s for t in tables),
        )

    def take(self, rows: IntArray) -> OutageTable:
        """A table of the given rows only."""
        return OutageTable(
            contingencies=[self.contingencies[int(r)] for r in rows],
            converged=self.converged[rows],
            exact=self.exact[rows],
            vm_pu=self.vm_pu[rows],
            loading_percent=self.loading_percent[rows],
            islanded_buses=self.islanded_buses[rows],
            islanded_load_mw=self.islanded_load_mw[rows],
            islanded_generation_mw=self.islanded_generation_mw[rows],
        )


Stop = Callable[[OutageTable, IntArray], bool]


@dataclass
class OutageContext:
    """What every outage of one run starts from: the stage, its operating point with the
    post-contingency participation, and the solver."""

    backend: LightSimBackend
    stage: StageSolve
    point: OperatingPoint
    settings: SolverSettings


def new_table(prepared: PreparedNetwork, contingencies: list[Contingency]) -> OutageTable:
    n = len(contingencies)
    return OutageTable(
        contingencies=contingencies,
        converged=np.zeros(n, dtype=bool),
        exact=np.zeros(n, dtype=bool),
        vm_pu=np.full((n, prepared.n_bus), np.nan, dtype=np.float32),
        loading_percent=np.full((n, prepared.n_branch), np.nan, dtype=np.float32),
        islanded_buses=np.zeros(n, dtype=np.int64),
        islanded_load_mw=np.zeros(n),
        islanded_generation_mw=np.zeros(n),
    )


def loading_percent(prepared: PreparedNetwork, flow_mva: FloatArray, outaged: tuple[int, ...]) -> FloatArray:
    rating = prepared.rate_emergency_mva
    with np.errstate(divide="ignore", invalid="ignore"):
        loading = np.where(prepared.branch_in_service & (rating > 0), flow_mva / rating * 100.0, np.nan)
    if outaged:
        loading[..., list(outaged)] = np.nan
    return np.asarray(loading, dtype=np.float64)


def _bus_load_mw(prepared: PreparedNetwork, point: OperatingPoint) -> FloatArray:
    load = prepared.net.load
    on = load.in_service.to_numpy(dtype=bool)
    per_bus = np.bincount(load.bus.to_numpy()[on], weights=load.p_mw.to_numpy(dtype=np.float64)[on], minlength=prepared.n_bus)
    if point.facility_bus >= 0:
        per_bus[point.facility_bus] += point.facility_p_mw
    return np.asarray(per_bus, dtype=np.float64)


def record_row(table: OutageTable, row: int, vm: FloatArray, loading: FloatArray, ctx: OutageContext, *, exact: bool) -> None:
    prep = ctx.backend.prepared
    table.converged[row] = True
    table.exact[row] = exact
    table.vm_pu[row] = vm
    table.loading_percent[row] = loading
    cut_off = np.isnan(vm) & prep.net.bus.in_service.to_numpy(dtype=bool) & ~prep.bus_is_star
    if cut_off.any():
        generation = np.bincount(prep.gen_bus, weights=ctx.point.gen_p_mw, minlength=prep.n_bus)
        table.islanded_buses[row] = int(cut_off.sum())
        table.islanded_load_mw[row] = float(_bus_load_mw(prep, ctx.point)[cut_off].sum())
        table.islanded_generation_mw[row] = float(generation[cut_off].sum())


def outage_point(ctx: OutageContext, contingency: Contingency) -> OperatingPoint:
    if contingency.kind == "gen":
        weights = ctx.point.slack_weights.copy() if ctx.point.slack_weights is not None else None
        if weights is not None:
            weights[contingency.position] = 0.0
        return dataclasses.replace(ctx.point, gen_out=(contingency.position,), slack_weights=weights)
    return dataclasses.replace(ctx.point, branch_out=contingency.branches_out)
