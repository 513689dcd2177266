"""Validate a grid before anything is solved; every problem becomes a :class:`ValidationIssue`.

Checks: references between tables, finite and physical values, exactly one reference machine,
element types both solver paths support, and that every energised bus is connected to the
reference machine. Each message says how to fix the problem.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pandapower as pp
import pandas as pd
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from grid_models.catalog.matpower_text import MatpowerCase
from grid_models.errors import ValidationIssue

__all__ = ["MAX_BUSES", "SUPPORTED_ELEMENTS", "TRAFO3W_SIDES", "validate_matpower_case", "validate_net", "validate_trafo3w"]

MAX_BUSES = 100_000
SUPPORTED_ELEMENTS = ("bus", "load", "sgen", "gen", "ext_grid", "line", "trafo", "trafo3w", "shunt", "poly_cost")
_MAX_IDS = 20


def _ids(index: pd.Index | np.ndarray) -> list[int | str]:
    return [int(i) if isinstance(i, (int, np.integer)) else str(i) for i in list(index)[:_MAX_IDS]]


def _issue(element: str, field: str, bad: pd.Index | np.ndarray, message: str) -> list[ValidationIssue]:
    if len(bad) == 0:
        return []
    return [ValidationIssue(element=element, field=field, ids=_ids(bad), message=f"{len(bad)} rows: {message}")]


_BUS_REFERENCES = (
    ("load", ("bus",)),
    ("sgen", ("bus",)),
    ("gen", ("bus",)),
    ("ext_grid", ("bus",)),
    ("shunt", ("bus",)),
    ("line", ("from_bus", "to_bus")),
    ("trafo", ("hv_bus", "lv_bus")),
)


def _references(
    net: pp.pandapowerNet, tables: tuple[tuple[str, tuple[str, ...]], ...] = _BUS_REFERENCES
) -> list[ValidationIssue]:
    issues: list[ValidationIssue] = []
    buses = net.bus.index
    for element, columns in tables:
        table = net[element]
        for column in columns:
            bad = table.index[~table[column].isin(buses)]
            issues += _issue(
                element,
                column,
                bad,
                f"{element}.{column} names a bus that is not in the bus table; fix the bus id or add the bus",
            )
    return issues


def _finite(table: pd.DataFrame, element: str, columns: tuple[str, ...]) -> list[ValidationIssue]:
    issues: list[ValidationIssue] = []
    for column in columns:
        if column not in table.columns:
            issues.append(ValidationIssue(element=element, field=column, message=f"{element} has no '{column}' column; add it"))
            continue
        values = pd.to_numeric(table[column], errors="coerce")
        bad = table.index[~np.isfinite(values.to_numpy(dtype=np.float64, na_value=np.nan))]
        issues += _issue(element, column, bad, f"{element}.{column} must be a finite number")
    return issues


def _off_nominal(net: pp.pandapowerNet, table: pd.DataFrame, rated: str, bus: str) -> npt.NDArray[np.bool_]:
    """Rows whose rated voltage ``rated`` differs from the nominal voltage of the bus in ``bus``."""
    bus_kv = net.bus.vn_kv.reindex(table[bus]).to_numpy(float)
    return np.asarray(~np.isclose(table[rated].to_numpy(float), bus_kv, rtol=1e-3), dtype=np.bool_)


def _untyped_taps(table: pd.DataFrame, element: str) -> list[ValidationIssue]:
    """A tap position without a tap changer type: pandapower ignores the tap, lightsim2grid would
    not. Empty is null, or the text pandapower's three-winding constructor leaves ('nan')."""
    if not {"tap_changer_type", "tap_pos"} <= set(table.columns):
        return []
    position = pd.to_numeric(table.tap_pos, errors="coerce")
    neutral = pd.to_numeric(table.get("tap_neutral", pd.Series(0.0, index=table.index)), errors="coerce").fillna(0.0)
    kind = table.tap_changer_type
    empty = kind.isna() | kind.astype(str).str.strip().str.lower().isin(["nan", "none", "<na>", ""])
    return _issue(
        element,
        "tap_changer_type",
        table.index[empty & position.notna() & (position != neutral)],
        "tap_pos is set but tap_changer_type is empty (pandapower ignores the tap): set tap_changer_type to 'Ratio' "
        "or tap_pos to tap_neutral",
    )


def _transformer_ratios(net: pp.pandapowerNet) -> list[ValidationIssue]:
    """Ratios the engine would model differently from pandapower: rated voltages other than the
    buses' nominal ones (lightsim2grid's converter lands ~0.015 pu off pandapower on case14 with a
    5 % off-nominal rating), and a tap position without a tap changer type (pandapower ignores it)."""
    trafo = net.trafo
    if len(trafo) == 0:
        return []
    issues = _issue(
        "trafo",
        "vn_hv_kv",
        trafo.index[_off_nominal(net, trafo, "vn_hv_kv", "hv_bus") | _off_nominal(net, trafo, "vn_lv_kv", "lv_bus")],
        "rated voltages differ from the buses' nominal voltages (an off-nominal ratio): set vn_hv_kv and vn_lv_kv to "
        "the bus voltages and express the ratio with the tap changer (tap_changer_type 'Ratio', tap_pos, tap_step_percent)",
    )
    return issues + _untyped_taps(trafo, "trafo")


TRAFO3W_SIDES = ("hv", "mv", "lv")  # the windings of a three-winding transformer


def validate_trafo3w(net: pp.pandapowerNet) -> list[ValidationIssue]:
    """What stops a net's three-winding transformers from becoming two-winding ones: windings at
    buses that do not exist; missing or non-finite ratings, voltages and short-circuit voltages;
    zero ratings or short-circuit voltages; rated voltages other than the buses' (as for two-winding
    transformers) and a tap position without a tap changer type."""
    table = net.trafo3w
    columns = tuple(f"{name}_{side}_{unit}" for side in TRAFO3W_SIDES for name, unit in (("sn", "mva"), ("vn", "kv")))
    columns += tuple(f"{name}_{side}_percent" for side in TRAFO3W_SIDES for name in ("vk", "vkr"))
    issues = _references(net, (("trafo3w", tuple(f"{side}_bus" for side in TRAFO3W_SIDES)),)) + _finite(table, "trafo3w", columns)
    if issues:
        return issues  # the checks below need existing buses and finite numbers
    for side in TRAFO3W_SIDES:
        issues += _issue("trafo3w", f"sn_{side}_mva", table.index[~(table[f"sn_{side}_mva"] > 0)], "rated power must be > 0 MVA")
        issues += _issue("trafo3w", f"vn_{side}_kv", table.index[~(table[f"vn_{side}_kv"] > 0)], "rated voltage must be > 0 kV")
        issues += _issue(
            "trafo3w",
            f"vk_{side}_percent",
            table.index[table[f"vk_{side}_percent"] == 0],
            "short-circuit voltage must not be 0 %",
        )
        issues += _issue(
            "trafo3w",
            f"vn_{side}_kv",
            table.index[_off_nominal(net, table, f"vn_{side}_kv", f"{side}_bus")],
            "rated voltage differs from the bus's nominal voltage (an off-nominal ratio the engine's solver would model "
            "differently): set it to the bus voltage and express the ratio with the tap changer",
        )
    return issues + _untyped_taps(table, "trafo3w")


def _physical(net: pp.pandapowerNet) -> list[ValidationIssue]:
    issues: list[ValidationIssue] = []
    issues += _issue("bus", "vn_kv", net.bus.index[~(net.bus.vn_kv > 0)], "nominal voltage must be > 0 kV")
    line = net.line
    issues += _issue(
        "line",
        "x_ohm_per_km",
        line.index[(line.r_ohm_per_km == 0) & (line.x_ohm_per_km == 0)],
        "zero impedance (r = x = 0): merge the two buses or give the line an impedance",
    )
    issues += _issue("line", "length_km", line.index[~(line.length_km > 0)], "length must be > 0 km")
    issues += _issue(
        "line", "max_i_ka", line.index[~(line.max_i_ka > 0)], "thermal rating must be > 0 kA (a very large value: unrated)"
    )
    trafo = net.trafo
    issues += _issue("trafo", "sn_mva", trafo.index[~(trafo.sn_mva > 0)], "rated power must be > 0 MVA")
    issues += _issue("trafo", "vk_percent", trafo.index[trafo.vk_percent == 0], "short-circuit voltage must not be 0 %")
    issues += _transformer_ratios(net)
    for element in ("gen", "ext_grid"):
        table = net[element]
        issues += _issue(
            element, "vm_pu", table.index[~table.vm_pu.between(0.5, 1.5)], "voltage set-point must be within 0.5-1.5 pu"
        )
    issues += _magnitudes(net)
    gen = net.gen
    if {"min_q_mvar", "max_q_mvar"} <= set(gen.columns):
        issues += _issue(
            "gen", "min_q_mvar", gen.index[gen.min_q_mvar > gen.max_q_mvar], "min_q_mvar is above max_q_mvar; swap them"
        )
    if {"min_p_mw", "max_p_mw"} <= set(gen.columns):
        issues += _issue("gen", "min_p_mw", gen.index[gen.min_p_mw > gen.max_p_mw], "min_p_mw is above max_p_mw; swap them")
    for element in ("line", "trafo", "gen", "sgen", "load"):
        table = net[element]
        if "parallel" in table.columns:
            issues += _issue(
                element,
                "parallel",
                table.index[table.parallel != 1],
                "parallel != 1 is not supported: duplicate the rows instead",
            )
    return issues


# Larger values are data errors (a unit of 1e20 MW once overflowed the merit-order blocks); 1e9 MVAr
# is the common "no reactive limit" convention, and the engine's own for external grids
_MAX_ABS = {"p_mw": 1e6, "min_p_mw": 1e6, "max_p_mw": 1e6, "q_mvar": 1e9, "min_q_mvar": 1e9, "max_q_mvar": 1e9}


def _magnitudes(net: pp.pandapowerNet) -> list[ValidationIssue]:
    issues: list[ValidationIssue] = []
    for element in ("gen", "ext_grid", "sgen", "load"):
        table = net[element]
        for column, limit in _MAX_ABS.items():
            if column in table.columns:
                values = pd.to_numeric(table[column], errors="coerce")
                issues += _issue(
                    element, column, table.index[values.abs() > limit], f"|{column}| above {limit:g} is not plausible"
                )
    return issues


def _reference_machine(net: pp.pandapowerNet) -> list[ValidationIssue]:
    ext = net.ext_grid.index[net.ext_grid.in_service.astype(bool)]
    slack = net.gen.index[net.gen.in_service.astype(bool) & net.gen.slack.astype(bool)]
    if len(ext) + len(slack) == 1:
        return []
    found = f"{len(ext)} in-service ext_grid and {len(slack)} slack gens"
    return [
        ValidationIssue(
            element="ext_grid" if len(ext) else "gen",
            field="slack",
            ids=_ids(ext.append(slack)),
            message=f"the grid needs exactly one reference machine, found {found}: keep one ext_grid or one gen with slack=True",
        )
    ]


_ENGINE_ELEMENTS = tuple(e for e in SUPPORTED_ELEMENTS if e not in ("trafo3w", "poly_cost"))  # what the solvers take
_ADVICE = {
    "trafo3w": "the study engine takes three-winding transformers as three two-winding ones around a star bus: "
    "convert the net with grid_models.catalog.trafo3w.trafo3w_to_star (uploads are converted this way)",
}


def _unsupported(net: pp.pandapowerNet) -> list[ValidationIssue]:
    issues = []
    for key in ("switch", "trafo3w", "impedance", "dcline", "ward", "xward", "storage", "motor", "svc", "ssc", "tcsc", "vsc"):
        if key in net and isinstance(net[key], pd.DataFrame) and len(net[key]):
            issues.append(
                ValidationIssue(
                    element=key,
                    field="table",
                    ids=_ids(net[key].index),
                    message=_ADVICE.get(
                        key,
                        f"'{key}' elements are not supported by the study engine; convert them to "
                        f"{', '.join(_ENGINE_ELEMENTS)} (e.g. fuse buses joined by closed switches)",
                    ),
                )
            )
    return issues


# values pandapower models but the study engine (lightsim2grid) would ignore silently: (table,
# column, the only value modelled, how to fold it into the supported fields)
_UNMODELLED = (
    ("load", "scaling", 1.0, "multiply p_mw and q_mvar by it"),
    ("load", "const_z_p_percent", 0.0, "only constant-power loads are modelled"),
    ("load", "const_i_p_percent", 0.0, "only constant-power loads are modelled"),
    ("load", "const_z_q_percent", 0.0, "only constant-power loads are modelled"),
    ("load", "const_i_q_percent", 0.0, "only constant-power loads are modelled"),
    ("sgen", "scaling", 1.0, "multiply p_mw and q_mvar by it"),
    ("gen", "scaling", 1.0, "multiply p_mw by it"),
    ("shunt", "step", 1.0, "multiply p_mw and q_mvar by it"),
)


def _unmodelled(net: pp.pandapowerNet) -> list[ValidationIssue]:
    issues: list[ValidationIssue] = []
    for table, column, modelled, advice in _UNMODELLED:
        frame = net[table]
        if column not in frame.columns:
            continue
        values = pd.to_numeric(frame[column], errors="coerce")
        bad = frame.index[frame.in_service.astype(bool) & values.notna() & (values != modelled)]
        message = f"{table}.{column} other than {modelled:g} is not modelled by the study engine: {advice}"
        issues += _issue(table, column, bad, message)
    return issues


def _connectivity(net: pp.pandapowerNet) -> list[ValidationIssue]:
    bus = net.bus[net.bus.in_service.astype(bool)]
    if len(bus) == 0:
        return [ValidationIssue(element="bus", field="in_service", message="the grid has no energised bus")]
    position = pd.Series(np.arange(len(bus)), index=bus.index)
    ends = []
    for element, a, b in (("line", "from_bus", "to_bus"), ("trafo", "hv_bus", "lv_bus")):
        table = net[element]
        table = table[table.in_service.astype(bool) & table[a].isin(bus.index) & table[b].isin(bus.index)]
        ends.append(np.column_stack([position.loc[table[a]].to_numpy(), position.loc[table[b]].to_numpy()]))
    edges = np.vstack(ends) if ends else np.zeros((0, 2), dtype=int)
    graph = coo_matrix((np.ones(len(edges)), (edges[:, 0], edges[:, 1])), shape=(len(bus), len(bus)))
    _, labels = connected_components(graph, directed=False)
    refs = pd.concat(
        [
            net.ext_grid.bus[net.ext_grid.in_service.astype(bool)],
            net.gen.bus[net.gen.in_service.astype(bool) & net.gen.slack.astype(bool)],
        ]
    )
    refs = refs[refs.isin(bus.index)]
    if len(refs) == 0:
        return []
    main = labels[position.loc[refs.iloc[0]]]
    stranded = bus.index[labels != main]
    return _issue(
        "bus",
        "in_service",
        stranded,
        "energised buses not connected to the reference machine: connect them or set bus.in_service = false",
    )


def validate_net(net: pp.pandapowerNet, *, max_buses: int = MAX_BUSES) -> list[ValidationIssue]:
    """Every problem that would stop a study on ``net``; an empty list means it can be solved."""
    if len(net.bus) > max_buses:
        return [ValidationIssue(element="bus", field="count", message=f"{len(net.bus)} buses exceed the limit of {max_buses}")]
    if len(net.bus) == 0:
        return [ValidationIssue(element="bus", field="count", message="the grid has no buses")]
    if not (net.line.in_service.astype(bool).any() or net.trafo.in_service.astype(bool).any()):
        message = "the grid has no in-service line or transformer: a study needs a network between the source and the site"
        return [ValidationIssue(element="line", field="count", message=message)]
    issues = _unsupported(net) + _references(net) + _unmodelled(net)
    issues += _finite(net.bus, "bus", ("vn_kv",))
    issues += _finite(net.load, "load", ("p_mw", "q_mvar"))
    issues += _finite(net.gen, "gen", ("p_mw", "vm_pu"))
    issues += _finite(net.sgen, "sgen", ("p_mw", "q_mvar"))
    issues += _finite(net.line, "line", ("r_ohm_per_km", "x_ohm_per_km", "c_nf_per_km", "length_km", "max_i_ka"))
    issues += _finite(net.trafo, "trafo", ("sn_mva", "vn_hv_kv", "vn_lv_kv", "vk_percent", "vkr_percent"))
    if issues:
        return issues  # the checks below need consistent, finite tables
    issues += _physical(net) + _reference_machine(net)
    return issues or _connectivity(net)


def validate_matpower_case(case: MatpowerCase, *, max_buses: int = MAX_BUSES) -> list[ValidationIssue]:
    """Checks that must pass before a MATPOWER case can be converted."""
    issues: list[ValidationIssue] = []
    n_bus = case.bus.shape[0]
    if n_bus == 0 or n_bus > max_buses:
        return [ValidationIssue(element="bus", field="count", message=f"mpc.bus has {n_bus} rows; 1 to {max_buses} are accepted")]
    for name in ("gen", "branch"):
        if getattr(case, name).ndim != 2 or getattr(case, name).shape[0] == 0:
            message = f"mpc.{name} has no rows; a study needs generators and branches"
            return [ValidationIssue(element=f"mpc.{name}", field="count", message=message)]
    for name in ("bus", "gen", "branch"):
        table: np.ndarray = getattr(case, name)
        bad_rows = np.flatnonzero(~np.isfinite(table[:, :10]).all(axis=1)) + 1
        issues += _issue(f"mpc.{name}", "value", bad_rows, f"mpc.{name} rows (1-based) hold Inf or NaN in their first 10 columns")
    bus_ids = case.bus[:, 0]
    duplicated = pd.Index(bus_ids).duplicated()
    issues += _issue(
        "mpc.bus", "BUS_I", np.unique(bus_ids[duplicated]).astype(int), "bus numbers appear more than once; make them unique"
    )
    references = (("mpc.gen", case.gen, (0,)), ("mpc.branch", case.branch, (0, 1)))
    for name, table, columns in references:
        for column in columns:
            unknown = np.unique(table[~np.isin(table[:, column], bus_ids), column]).astype(int)
            issues += _issue(name, "bus", unknown, "bus numbers not found in mpc.bus; add the buses or fix the numbers")
    issues += _issue(
        "mpc.bus", "BUS_TYPE", bus_ids[~np.isin(case.bus[:, 1], (1, 2, 3, 4))].astype(int), "BUS_TYPE must be 1, 2, 3 or 4"
    )
    issues += _issue(
        "mpc.branch",
        "BR_STATUS",
        np.flatnonzero(~np.isin(case.branch[:, 10], (0, 1))) + 1,
        "BR_STATUS (rows, 1-based) must be 0 or 1",
    )
    for column, name, limit in ((1, "PG", 1e6), (8, "PMAX", 1e6), (9, "PMIN", 1e6), (3, "QMAX", 1e9), (4, "QMIN", 1e9)):
        rows = np.flatnonzero(np.abs(case.gen[:, column]) > limit) + 1
        issues += _issue("mpc.gen", name, rows, f"{name} (rows, 1-based) above {limit:g} in magnitude is not plausible")
    rates = case.branch[:, 5:8]
    tiny = np.flatnonzero(((rates != 0) & (np.abs(rates) < 1e-3)).any(axis=1)) + 1
    issues += _issue("mpc.branch", "RATE_A", tiny, "ratings (rows, 1-based) must be 0 (unrated) or at least 0.001 MVA")
    ref = np.flatnonzero(case.bus[:, 1] == 3)
    if len(ref) != 1:
        issues.append(
            ValidationIssue(
                element="mpc.bus",
                field="BUS_TYPE",
                ids=_ids(bus_ids[ref].astype(int)),
                message=f"the case needs exactly one reference bus (BUS_TYPE 3), found {len(ref)}",
            )
        )
    if case.bus_name is not None and len(case.bus_name) != n_bus:
        issues.append(
            ValidationIssue(
                element="mpc.bus_name",
                field="length",
                message=f"mpc.bus_name has {len(case.bus_name)} names for {n_bus} buses; give one name per bus",
            )
        )
    return issues
