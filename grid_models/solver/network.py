"""The solver's working copy of a net, and the index arrays every analysis shares.

Both solver paths (lightsim2grid and plain pandapower) run on the same prepared copy, so their
results line up element by element:

- buses are renumbered 0..n-1 in the order of the caller's ``net.bus`` (``bus_ids`` maps back);
- out-of-service generators are dropped (lightsim2grid would keep their buses voltage-controlled);
- generators are grouped by bus: a group is one voltage regulator with the summed reactive range
  (MATPOWER and pandapower share a bus's reactive output in proportion to the ranges);
- every regulating bus gets a companion static generator, idle until the reactive-limit loop pins
  the bus at a limit (then the group's generators are switched off and the companion injects
  their active power and the limit);
- one facility load, idle until a stage places it at the point of interconnection.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from functools import cached_property

import numpy as np
import numpy.typing as npt
import pandapower as pp
import pandapower.toolbox as pp_toolbox
import pandas as pd

from grid_models.errors import GridValidationError, InternalError, StudySpecError, ValidationIssue
from grid_models.grid import TRAFO3W_COLUMN, rating_set_column, star_bus_ids

__all__ = ["FACILITY_LOAD_NAME", "PreparedNetwork", "RatingChoice", "group_reactive_limits", "prepare_network"]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]

FACILITY_LOAD_NAME = "gridimpact facility"
_FIXED_Q_TOL_MVAR = 1e-6


@dataclass
class PreparedNetwork:
    """The working net and the arrays that describe it (all by position, 0-based).

    Buses: ``bus_ids`` (caller's index), ``bus_vn_kv``, ``bus_names``, ``bus_area``, ``vm_case_pu``
    and ``va_case_degree`` (NaN when the grid has no stored solution).
    Generators (in service): ``gen_ids`` (index in the working net's gen table), ``gen_labels``
    (the caller's element: ``gen 3``, or ``ext_grid 0`` for an external grid modelled as a
    generator), ``gen_bus`` (position), ``gen_p_mw`` (set-point), limits, ``gen_fuel``,
    ``gen_cost`` (c2, c1, c0 per row), ``gen_group``.
    Groups (one per regulating bus): ``group_bus``, ``group_qmin_mvar``, ``group_qmax_mvar``,
    ``group_vm_set_pu``, ``group_is_slack``, ``group_fixed_q`` (zero reactive range), and two
    companions at each group's bus, both at zero until used: ``group_sgen`` carries a pinned
    group's active power and reactive limit, ``group_load`` lets a batch of outages pin groups
    row by row (see :mod:`grid_models.solver.sweep`).
    Branches (lines then transformers): ``branch_kind``, ``branch_element``, ``branch_from``,
    ``branch_to`` (positions; transformers from the hv side), ``branch_in_service``,
    ``rate_normal_mva``, ``rate_emergency_mva`` (NaN: unrated), ``branch_names``, ``branch_group``
    (the three-winding transformer a branch is a leg of, -1 for the others) and ``bus_is_star``
    (the star buses of those transformers: fictitious, never monitored or counted as cut off).
    """

    net: pp.pandapowerNet
    bus_ids: IntArray
    bus_vn_kv: FloatArray
    bus_names: list[str]
    bus_area: IntArray
    vm_case_pu: FloatArray
    va_case_degree: FloatArray
    slack_bus: int
    slack_gen: int
    gen_ids: IntArray
    gen_labels: list[str]
    gen_bus: IntArray
    gen_p_mw: FloatArray
    gen_pmin_mw: FloatArray
    gen_pmax_mw: FloatArray
    gen_qmin_mvar: FloatArray
    gen_qmax_mvar: FloatArray
    gen_fuel: list[str]
    gen_cost: FloatArray
    gen_group: IntArray
    group_bus: IntArray
    group_qmin_mvar: FloatArray
    group_qmax_mvar: FloatArray
    group_vm_set_pu: FloatArray
    group_is_slack: BoolArray
    group_fixed_q: BoolArray
    group_sgen: IntArray
    group_load: IntArray
    facility_load: int
    branch_kind: list[str]
    branch_element: IntArray
    branch_from: IntArray
    branch_to: IntArray
    branch_in_service: BoolArray
    rate_normal_mva: FloatArray
    rate_emergency_mva: FloatArray
    branch_names: list[str]
    branch_group: IntArray
    bus_is_star: BoolArray

    @property
    def n_bus(self) -> int:
        """Number of buses."""
        return len(self.bus_ids)

    @property
    def n_branch(self) -> int:
        """Number of branches (lines and transformers)."""
        return len(self.branch_kind)

    @cached_property
    def generator_terminal(self) -> BoolArray:
        """Per bus: a generator terminal, i.e. a bus with an in-service generator whose every
        in-service branch is a transformer on whose low-voltage side it sits (its step-up)."""
        on = self.branch_in_service
        trafo = np.asarray([kind == "trafo" for kind in self.branch_kind], dtype=np.bool_)
        other = np.zeros(self.n_bus, dtype=np.int64)  # branches that make a bus more than a terminal
        np.add.at(other, self.branch_from[on], 1)  # every from end (a transformer's high-voltage side too)
        np.add.at(other, self.branch_to[on & ~trafo], 1)  # line ends
        stepped_up = np.bincount(self.branch_to[on & trafo], minlength=self.n_bus) > 0
        has_gen = np.bincount(self.gen_bus, minlength=self.n_bus) > 0
        return np.asarray(has_gen & stepped_up & (other == 0), dtype=np.bool_)

    @property
    def bus_vm_set_pu(self) -> FloatArray:
        """Per bus: the voltage set-point of the generators that regulate it (NaN: none does)."""
        setpoint = np.full(self.n_bus, np.nan)
        setpoint[self.group_bus] = self.group_vm_set_pu
        return setpoint

    def bus_position(self, bus_id: int) -> int:
        """Position of a bus given its id in the caller's net."""
        hits = np.flatnonzero(self.bus_ids == bus_id)
        if len(hits) == 0:
            raise KeyError(bus_id)
        return int(hits[0])

    def branch_label(self, position: int) -> str:
        """Stable label of a branch: ``line 12`` or ``trafo 3`` (caller's element index)."""
        return f"{self.branch_kind[position]} {int(self.branch_element[position])}"


def _column(table: pd.DataFrame, name: str, default: float) -> FloatArray:
    if name in table.columns:
        return table[name].to_numpy(dtype=np.float64, na_value=default)
    return np.full(len(table), default)


def _gen_costs(net: pp.pandapowerNet, gen_ids: IntArray) -> FloatArray:
    costs = np.full((len(gen_ids), 3), np.nan)
    poly = net.poly_cost[net.poly_cost.et == "gen"]
    if len(poly):
        lookup = poly.set_index("element")[["cp2_eur_per_mw2", "cp1_eur_per_mw", "cp0_eur"]]
        lookup = lookup[~lookup.index.duplicated()]
        known = np.isin(gen_ids, lookup.index.to_numpy())
        costs[known] = lookup.loc[gen_ids[known]].to_numpy(dtype=np.float64)
    return costs


_UNRATED_I_KA = 99999.0  # the converter's marker for RATE_A = 0


def _texts(column: pd.Series, *, missing: str = "") -> list[str]:
    """A text column as strings, ``missing`` for null cells (None/NaN: pandapower's unnamed elements)."""
    return [missing if pd.isna(value) else str(value) for value in column]


@dataclass(frozen=True)
class RatingChoice:
    """Which rating sets are the normal and the emergency ratings (1-based: RATE_A-C of a MATPOWER
    case, RATE1-RATE12 of a RAW v34/v35 file). ``None``: the default rule, normal RATE_A and
    emergency RATE_B, else RATE_C, else the normal rating; with only ``normal`` chosen, that set is
    the emergency rating too."""

    normal: int | None = None
    emergency: int | None = None


def _rating_set(table: pd.DataFrame, number: int, element: str) -> FloatArray:
    column = rating_set_column(number)
    if len(table) and column not in table.columns:
        raise StudySpecError(
            f"the grid's {element} table has no rating set {number}: a MATPOWER case has sets 1-3 (RATE_A-C), a RAW v34/v35 "
            "file 1-12, other grids one rating; choose another criteria.normal_rating_set / emergency_rating_set"
        )
    return _column(table, column, np.nan)


def _table_ratings(
    table: pd.DataFrame, derived_mva: FloatArray, choice: RatingChoice, element: str
) -> tuple[FloatArray, FloatArray]:
    """Normal and emergency ratings of one branch table (NaN: unrated).

    Converted MATPOWER and RAW grids carry ``rate_normal_mva``/``rate_emergency_mva`` (the default
    rule) and their rating sets; other nets fall back to pandapower's own ratings (line
    ``max_i_ka`` at nominal voltage, transformer ``sn_mva``). A chosen emergency set falls back to
    the normal rating where a branch has none.
    """
    normal = _column(table, "rate_normal_mva", np.nan) if "rate_normal_mva" in table.columns else derived_mva
    if choice.normal is not None:
        normal = _rating_set(table, choice.normal, element)
    if choice.emergency is not None:
        emergency = _rating_set(table, choice.emergency, element)
    elif choice.normal is not None:
        emergency = np.full(len(table), np.nan)  # only the normal set chosen: it is the emergency rating too
    else:
        emergency = _column(table, "rate_emergency_mva", np.nan)
    return normal, np.where(np.isfinite(emergency), emergency, normal)


def _branch_arrays(net: pp.pandapowerNet, positions: pd.Series, ratings: RatingChoice) -> dict[str, object]:
    line, trafo = net.line, net.trafo
    line_vn = net.bus.vn_kv.loc[line.from_bus].to_numpy(dtype=np.float64)
    max_i_ka = line.max_i_ka.to_numpy(dtype=np.float64)
    line_derived = np.where(max_i_ka >= _UNRATED_I_KA, np.nan, np.sqrt(3) * max_i_ka * line_vn)
    line_normal, line_emergency = _table_ratings(line, line_derived, ratings, "line")
    trafo_normal, trafo_emergency = _table_ratings(trafo, trafo.sn_mva.to_numpy(dtype=np.float64), ratings, "trafo")
    names = _texts(line.name) + _texts(trafo.name)
    return {
        "branch_kind": ["line"] * len(line) + ["trafo"] * len(trafo),
        "branch_element": np.concatenate([line.index.to_numpy(), trafo.index.to_numpy()]).astype(np.int64),
        "branch_from": positions.loc[np.concatenate([line.from_bus, trafo.hv_bus])].to_numpy().astype(np.int64),
        "branch_to": positions.loc[np.concatenate([line.to_bus, trafo.lv_bus])].to_numpy().astype(np.int64),
        "branch_in_service": np.concatenate([line.in_service, trafo.in_service]).astype(bool),
        "rate_normal_mva": np.concatenate([line_normal, trafo_normal]),
        "rate_emergency_mva": np.concatenate([line_emergency, trafo_emergency]),
        "branch_names": names,
        "branch_group": np.concatenate([_column(line, TRAFO3W_COLUMN, -1), _column(trafo, TRAFO3W_COLUMN, -1)]).astype(np.int64),
    }


def _groups(gen: pd.DataFrame, gen_bus: IntArray) -> dict[str, object]:
    group_bus, gen_group = np.unique(gen_bus, return_inverse=True)
    qmin = np.bincount(gen_group, weights=gen.min_q_mvar.to_numpy(dtype=np.float64, na_value=-1e9))
    qmax = np.bincount(gen_group, weights=gen.max_q_mvar.to_numpy(dtype=np.float64, na_value=1e9))
    first = pd.Series(np.arange(len(gen))).groupby(gen_group).first().to_numpy()
    slack = np.bincount(gen_group, weights=gen.slack.to_numpy(dtype=np.float64)) > 0
    return {
        "group_bus": group_bus.astype(np.int64),
        "gen_group": gen_group.astype(np.int64),
        "group_qmin_mvar": qmin,
        "group_qmax_mvar": qmax,
        "group_vm_set_pu": gen.vm_pu.to_numpy(dtype=np.float64)[first],
        "group_is_slack": slack,
        "group_fixed_q": np.abs(qmax - qmin) <= _FIXED_Q_TOL_MVAR,
    }


def _finite(value: object, default: float) -> float:
    number = float(value) if isinstance(value, (int, float, np.number)) else np.nan
    return number if np.isfinite(number) else default


def _ext_grids_to_gens(work: pp.pandapowerNet) -> dict[int, int]:
    """Turn in-service ext_grids into slack generators (the engine models one slack machine);
    returns the ext_grid each new generator stands for."""
    ext = work.ext_grid[work.ext_grid.in_service.astype(bool)]
    standing_for: dict[int, int] = {}
    for _, row in ext.iterrows():
        slack = not bool(work.gen.slack.any())
        index = pp.create_gen(
            work,
            int(row.bus),
            p_mw=0.0,
            vm_pu=float(row.vm_pu),
            slack=slack,
            slack_weight=1.0 if slack else 0.0,
            max_p_mw=_finite(row.get("max_p_mw", np.nan), np.inf),
            min_p_mw=_finite(row.get("min_p_mw", np.nan), -np.inf),
            min_q_mvar=_finite(row.get("min_q_mvar", np.nan), -1e9),
            max_q_mvar=_finite(row.get("max_q_mvar", np.nan), 1e9),
            name=f"ext_grid {row.name}",
        )
        work.gen.loc[index, "fuel"] = "external"
        standing_for[int(index)] = int(row.name)
    pp_toolbox.drop_elements_simple(work, "ext_grid", work.ext_grid.index)
    return standing_for


def _check_slack(gen: pd.DataFrame) -> None:
    slack = gen.index[gen.slack.astype(bool)].tolist()
    if len(slack) != 1:
        raise GridValidationError(
            [
                ValidationIssue(
                    element="gen",
                    field="slack",
                    ids=[int(i) for i in slack],
                    message=f"the grid needs exactly one in-service slack generator, found {len(slack)}: "
                    "set slack=True on the reference machine's gen (ext_grid is converted to one).",
                )
            ]
        )


_BUS_COLUMNS = {
    "load": ("bus",),
    "sgen": ("bus",),
    "gen": ("bus",),
    "ext_grid": ("bus",),
    "shunt": ("bus",),
    "line": ("from_bus", "to_bus"),
    "trafo": ("hv_bus", "lv_bus"),
}


def _switch_off_at_dead_buses(work: pp.pandapowerNet) -> None:
    """pandapower's rule: an element at an out-of-service bus, and a branch with an end at one, is
    out of service (lightsim2grid would energise the bus through the branch, or fail to solve)."""
    dead = work.bus.index[~work.bus.in_service.astype(bool)]
    if len(dead) == 0:
        return
    for table, columns in _BUS_COLUMNS.items():
        frame = work[table]
        at_dead = np.zeros(len(frame), dtype=bool)
        for column in columns:
            at_dead |= frame[column].isin(dead).to_numpy()
        frame.loc[at_dead, "in_service"] = False


def prepare_network(net: pp.pandapowerNet, *, ratings: RatingChoice | None = None) -> PreparedNetwork:
    """Build the solver's working copy of ``net`` (the caller's net is not modified), with the
    normal and emergency ratings ``ratings`` chooses (default: :class:`RatingChoice`'s rule).

    Raises:
        GridValidationError: when the net has no single in-service slack generator.
        StudySpecError: ``ratings`` names a rating set the grid does not have.
    """
    work = copy.deepcopy(net)
    work["_options"] = {}  # options of the uploader's last runpp (e.g. trafo_model="pi") are not the model
    _switch_off_at_dead_buses(work)
    bus_ids = work.bus.index.to_numpy().astype(np.int64)
    positions = pd.Series(np.arange(len(bus_ids)), index=bus_ids)
    pp_toolbox.drop_elements_simple(work, "gen", work.gen.index[~work.gen.in_service.astype(bool)])
    ext_grids = _ext_grids_to_gens(work)
    gen = work.gen
    _check_slack(gen)
    gen_bus = positions.loc[gen.bus].to_numpy().astype(np.int64)
    groups = _groups(gen, gen_bus)
    branches = _branch_arrays(work, positions, ratings or RatingChoice())
    branches["bus_is_star"] = np.isin(bus_ids, list(star_bus_ids(net)))
    pp_toolbox.reindex_buses(work, dict(zip(bus_ids.tolist(), range(len(bus_ids)), strict=True)))
    group_bus = groups["group_bus"]
    if not isinstance(group_bus, np.ndarray):
        raise InternalError("regulator groups came back without a bus array")
    for table in ("load", "sgen"):  # lightsim2grid addresses loads and sgens by position: make labels positions
        pp_toolbox.reindex_elements(work, table, new_indices=np.arange(len(work[table])))
    sgen_index = pp.create_sgens(work, group_bus, p_mw=0.0, q_mvar=0.0, name="gridimpact q-limit")
    facility = pp.create_load(work, 0, p_mw=0.0, q_mvar=0.0, name=FACILITY_LOAD_NAME)
    load_index = pp.create_loads(work, group_bus, p_mw=0.0, q_mvar=0.0, name="gridimpact q-limit")
    slack_gen = int(np.flatnonzero(gen.slack.to_numpy(dtype=bool))[0])
    return PreparedNetwork(
        net=work,
        bus_ids=bus_ids,
        bus_vn_kv=work.bus.vn_kv.to_numpy(dtype=np.float64),
        bus_names=_texts(net.bus.name),
        bus_area=_column(net.bus, "area", 0).astype(np.int64),
        vm_case_pu=_column(net.bus, "vm_case_pu", np.nan),
        va_case_degree=_column(net.bus, "va_case_degree", np.nan),
        slack_bus=int(gen_bus[slack_gen]),
        slack_gen=slack_gen,
        gen_ids=gen.index.to_numpy().astype(np.int64),
        gen_labels=[f"ext_grid {ext_grids[i]}" if i in ext_grids else f"gen {i}" for i in gen.index.tolist()],
        gen_bus=gen_bus,
        gen_p_mw=gen.p_mw.to_numpy(dtype=np.float64),
        gen_pmin_mw=_column(gen, "min_p_mw", 0.0),
        gen_pmax_mw=_column(gen, "max_p_mw", np.inf),
        gen_qmin_mvar=_column(gen, "min_q_mvar", -1e9),
        gen_qmax_mvar=_column(gen, "max_q_mvar", 1e9),
        gen_fuel=_texts(gen["fuel"], missing="unknown") if "fuel" in gen.columns else ["unknown"] * len(gen),
        gen_cost=_gen_costs(work, gen.index.to_numpy().astype(np.int64)),
        group_sgen=np.asarray(sgen_index, dtype=np.int64),
        group_load=np.asarray(load_index, dtype=np.int64),
        facility_load=int(facility),
        **groups,  # type: ignore[arg-type]
        **branches,  # type: ignore[arg-type]
    )


def group_reactive_limits(prepared: PreparedNetwork, gen_out: tuple[int, ...] = ()) -> tuple[FloatArray, FloatArray, BoolArray]:
    """Reactive range of each regulator group without the generators in ``gen_out``.

    Returns ``(qmin_mvar, qmax_mvar, fixed)``; ``fixed`` marks groups with no range left.
    """
    if not gen_out:
        return prepared.group_qmin_mvar, prepared.group_qmax_mvar, prepared.group_fixed_q
    out = np.asarray(gen_out, dtype=np.int64)
    groups = prepared.gen_group[out]
    n_groups = len(prepared.group_bus)
    qmin = prepared.group_qmin_mvar - np.bincount(groups, weights=prepared.gen_qmin_mvar[out], minlength=n_groups)
    qmax = prepared.group_qmax_mvar - np.bincount(groups, weights=prepared.gen_qmax_mvar[out], minlength=n_groups)
    return qmin, qmax, np.asarray(np.abs(qmax - qmin) <= _FIXED_Q_TOL_MVAR, dtype=np.bool_)
