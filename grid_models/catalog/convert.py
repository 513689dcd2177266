"""Convert a parsed MATPOWER case into a pandapower net that both solver paths accept.

Why not ``pandapower.converter.from_mpc``: it turns every transformer with a nominal ratio into an
``impedance`` element (847 on activsg2000, which lightsim2grid refuses), makes only the first
generator of a bus a voltage-controlling ``gen`` (the others become fixed-Q ``sgen``, losing their
reactive capability), drops RATE_B/RATE_C, areas, fuel types and the stored solution. This
converter keeps all of them:

- bus: index = MATPOWER bus number, ``name`` from ``mpc.bus_name``, plus ``area``, ``vm_case_pu``
  and ``va_case_degree`` (the solution stored in the file).
- gen: every in-service generator is a ``gen`` (``fuel``, ``unit_type``, ``mp_gen`` = 1-based row
  in the file); the first one at the reference bus has ``slack=True``. Out-of-service generators
  are dropped (lightsim2grid would otherwise keep their buses voltage-controlled).
  Generators at PQ buses are fixed injections (``sgen``), as MATPOWER treats them.
- branch: a line when both ends have the same base kV and the ratio is nominal, otherwise a
  ``trafo`` whose parameters reproduce MATPOWER's branch model exactly (negative reactances keep
  their sign). Both tables get ``rate_a_mva``, ``rate_b_mva``, ``rate_c_mva`` (NaN: no limit),
  ``rate_normal_mva`` (RATE_A) and ``rate_emergency_mva`` (RATE_B, else RATE_C, else RATE_A).
- gencost (polynomial, up to quadratic) -> ``poly_cost``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt
import pandapower as pp
import pandas as pd

from grid_models.catalog.matpower_text import MatpowerCase
from grid_models.errors import GridValidationError, ValidationIssue
from grid_models.grid import TRAFO3W_COLUMN, rating_set_column

__all__ = ["CONVERTER_VERSION", "ConversionReport", "matpower_to_net"]

# Bump whenever the produced net changes: it is part of the on-disk cache key.
CONVERTER_VERSION = "4"

# MATPOWER column indices (0-based), MATPOWER manual appendix B.
BUS_I, BUS_TYPE, PD, QD, GS, BS, BUS_AREA, VM, VA, BASE_KV, ZONE, VMAX, VMIN = range(13)
GEN_BUS, PG, QG, QMAX, QMIN, VG, MBASE, GEN_STATUS, PMAX, PMIN = range(10)
F_BUS, T_BUS, BR_R, BR_X, BR_B, RATE_A, RATE_B, RATE_C, TAP, SHIFT, BR_STATUS = range(11)
REF_BUS_TYPE, PV_BUS_TYPE, ISOLATED_BUS_TYPE = 3, 2, 4
F_HZ = 60.0  # the ACTIVSg grids are US grids
UNRATED_I_KA = 99999.0  # pandapower needs a finite max_i_ka; our loading uses rate_*_mva


@dataclass
class ConversionReport:
    """What the conversion changed or dropped, for the grid summary and provenance."""

    dropped_out_of_service_gens: int = 0
    transformers: int = 0
    lines: int = 0
    unrated_branches: int = 0
    notes: list[str] = field(default_factory=list)


def _bus_positions(case: MatpowerCase, numbers: npt.NDArray[np.float64], element: str) -> npt.NDArray[np.int64]:
    bus_ids = case.bus[:, BUS_I].astype(np.int64)
    lookup = pd.Series(np.arange(len(bus_ids)), index=bus_ids)
    wanted = numbers.astype(np.int64)
    missing = sorted(set(wanted.tolist()) - set(bus_ids.tolist()))
    if missing:
        raise GridValidationError(
            [
                ValidationIssue(
                    element=element,
                    field="bus",
                    ids=list(missing[:20]),
                    message=f"{element} rows refer to {len(missing)} bus numbers that are not in "
                    "mpc.bus; add those buses or fix the bus numbers.",
                )
            ]
        )
    return lookup.reindex(wanted).to_numpy().astype(np.int64)


def _add_buses(net: pp.pandapowerNet, case: MatpowerCase) -> None:
    bus = case.bus
    ids = bus[:, BUS_I].astype(np.int64)
    names = case.bus_name if case.bus_name and len(case.bus_name) == len(ids) else [str(i) for i in ids]
    pp.create_buses(
        net,
        len(ids),
        vn_kv=bus[:, BASE_KV],
        name=names,
        index=ids,
        zone=bus[:, ZONE].astype(np.int64),
        in_service=bus[:, BUS_TYPE] != ISOLATED_BUS_TYPE,
        max_vm_pu=bus[:, VMAX],
        min_vm_pu=bus[:, VMIN],
        type="b",
    )
    net.bus["area"] = bus[:, BUS_AREA].astype(np.int64)
    net.bus["vm_case_pu"] = bus[:, VM]
    net.bus["va_case_degree"] = bus[:, VA]


def _add_loads_and_shunts(net: pp.pandapowerNet, case: MatpowerCase) -> None:
    bus = case.bus
    ids = bus[:, BUS_I].astype(np.int64)
    has_load = (bus[:, PD] != 0) | (bus[:, QD] != 0)
    pp.create_loads(net, ids[has_load], p_mw=bus[has_load, PD], q_mvar=bus[has_load, QD])
    has_shunt = (bus[:, GS] != 0) | (bus[:, BS] != 0)
    # MATPOWER GS/BS are MW/MVAr consumed/injected at 1 pu; pandapower's q_mvar > 0 absorbs.
    pp.create_shunts(net, ids[has_shunt], p_mw=bus[has_shunt, GS], q_mvar=-bus[has_shunt, BS])


def _add_generators(net: pp.pandapowerNet, case: MatpowerCase, report: ConversionReport) -> npt.NDArray[np.int64]:
    """Create gens/sgens; returns the 0-based file rows of the created ``gen`` rows."""
    gen = case.gen
    positions = _bus_positions(case, gen[:, GEN_BUS], "gen")
    bus_type = case.bus[positions, BUS_TYPE]
    bus_in_service = case.bus[positions, BUS_TYPE] != ISOLATED_BUS_TYPE
    on = (gen[:, GEN_STATUS] > 0) & bus_in_service
    report.dropped_out_of_service_gens = int((~on).sum())
    regulating = on & ((bus_type == PV_BUS_TYPE) | (bus_type == REF_BUS_TYPE))
    rows = np.flatnonzero(regulating)
    fuel = _string_column(case.genfuel, len(gen), "unknown")
    unit_type = _string_column(case.gentype, len(gen), "unknown")
    bus_numbers = gen[:, GEN_BUS].astype(np.int64)
    # MATPOWER uses the voltage set-point of the first in-service generator at each bus.
    first_vg = pd.Series(gen[rows, VG], index=bus_numbers[rows]).groupby(level=0).first()
    ref_rows = rows[bus_type[rows] == REF_BUS_TYPE]
    slack = np.isin(rows, ref_rows[:1])
    pp.create_gens(
        net,
        bus_numbers[rows],
        p_mw=gen[rows, PG],
        vm_pu=first_vg.reindex(bus_numbers[rows]).to_numpy(),
        sn_mva=gen[rows, MBASE],
        max_q_mvar=gen[rows, QMAX],
        min_q_mvar=gen[rows, QMIN],
        max_p_mw=gen[rows, PMAX],
        min_p_mw=gen[rows, PMIN],
        slack=slack,
        controllable=True,
        name=[f"gen {row + 1}" for row in rows],
    )
    net.gen["fuel"] = [fuel[row] for row in rows]
    net.gen["unit_type"] = [unit_type[row] for row in rows]
    net.gen["mp_gen"] = rows + 1
    fixed = np.flatnonzero(on & ~regulating)
    if len(fixed):
        pp.create_sgens(
            net,
            bus_numbers[fixed],
            p_mw=gen[fixed, PG],
            q_mvar=gen[fixed, QG],
            name=[f"gen {row + 1}" for row in fixed],
        )
        report.notes.append(f"{len(fixed)} in-service generators at PQ buses kept as fixed injections")
    return rows


def _string_column(values: list[str] | None, length: int, default: str) -> list[str]:
    if values is None or len(values) != length:
        return [default] * length
    return [value.strip().lower() if value.strip() else default for value in values]


def _add_costs(net: pp.pandapowerNet, case: MatpowerCase, gen_rows: npt.NDArray[np.int64], report: ConversionReport) -> None:
    cost = case.gencost
    if cost is None or cost.shape[0] < case.gen.shape[0] or cost.shape[1] < 5:
        report.notes.append("no usable mpc.gencost: merit-order dispatch is unavailable")
        return
    rows = cost[gen_rows]
    polynomial = rows[:, 0] == 2
    ncost = rows[:, 3].astype(np.int64)
    usable = polynomial & (ncost >= 1) & (ncost <= 3) & (rows.shape[1] >= 4 + ncost)
    coefficients = np.zeros((len(rows), 3))  # c2, c1, c0
    for index in np.flatnonzero(usable):
        n = ncost[index]
        coefficients[index, 3 - n :] = rows[index, 4 : 4 + n]
    if (~usable).any():
        report.notes.append(f"{int((~usable).sum())} generator costs are not polynomial (<= quadratic) and were skipped")
    gens = net.gen.index.to_numpy()[usable]
    if len(gens):
        pp.create_poly_costs(
            net,
            gens,
            "gen",
            cp1_eur_per_mw=coefficients[usable, 1],
            cp0_eur=coefficients[usable, 2],
            cp2_eur_per_mw2=coefficients[usable, 0],
            check=False,
        )


def _ratings(branch: npt.NDArray[np.float64]) -> dict[str, npt.NDArray[np.float64]]:
    """Normal (RATE_A) and emergency (RATE_B, else RATE_C, else RATE_A) ratings; NaN: unrated."""
    rate_a = np.where(branch[:, RATE_A] > 0, branch[:, RATE_A], np.nan)
    rate_b = np.where(branch[:, RATE_B] > 0, branch[:, RATE_B], np.nan)
    rate_c = np.where(branch[:, RATE_C] > 0, branch[:, RATE_C], np.nan)
    emergency = np.where(np.isfinite(rate_b), rate_b, np.where(np.isfinite(rate_c), rate_c, rate_a))
    return {
        "rate_a_mva": rate_a,
        "rate_b_mva": rate_b,
        "rate_c_mva": rate_c,
        "rate_normal_mva": rate_a,
        "rate_emergency_mva": emergency,
    }


def _set_branch_columns(table: pd.DataFrame, case: MatpowerCase, rows: npt.NDArray[np.int64]) -> None:
    for name, values in _ratings(case.branch[rows]).items():
        table[name] = values
    table["mp_branch"] = rows + 1
    sets = case.rating_sets[rows] if case.rating_sets is not None else case.branch[rows][:, [RATE_A, RATE_B, RATE_C]]
    for k in range(sets.shape[1]):  # every rating set the source gives, for criteria that choose one
        table[rating_set_column(k + 1)] = np.where(sets[:, k] > 0, sets[:, k], np.nan)
    if case.branch_group is not None:  # legs of three-winding transformers (one N-1 contingency each)
        table[TRAFO3W_COLUMN] = case.branch_group[rows]


def _add_lines(net: pp.pandapowerNet, case: MatpowerCase, rows: npt.NDArray[np.int64], kv: npt.NDArray[np.float64]) -> None:
    branch = case.branch[rows]
    z_base_ohm = kv**2 / case.base_mva
    rate = branch[:, RATE_A]
    max_i_ka = np.where(rate > 0, rate / (math.sqrt(3) * kv), UNRATED_I_KA)
    pp.create_lines_from_parameters(
        net,
        branch[:, F_BUS].astype(np.int64),
        branch[:, T_BUS].astype(np.int64),
        length_km=1.0,
        r_ohm_per_km=branch[:, BR_R] * z_base_ohm,
        x_ohm_per_km=branch[:, BR_X] * z_base_ohm,
        c_nf_per_km=branch[:, BR_B] / z_base_ohm / (2 * math.pi * F_HZ) * 1e9,
        max_i_ka=max_i_ka,
        in_service=branch[:, BR_STATUS] > 0,
        name=[f"branch {row + 1}" for row in rows],
    )
    _set_branch_columns(net.line, case, rows)


def _add_transformers(
    net: pp.pandapowerNet,
    case: MatpowerCase,
    rows: npt.NDArray[np.int64],
    from_kv: npt.NDArray[np.float64],
    to_kv: npt.NDArray[np.float64],
) -> None:
    """Transformers equivalent to MATPOWER's branch model.

    MATPOWER puts the tap t (ratio and shift) at the from end and the series impedance z on the
    to side. When the from end is the high-voltage side, that is pandapower's trafo with the
    tap at hv. When it is the low-voltage side, the same two-port seen from the hv end has the
    tap 1/t at hv and the impedance z*t^2, which is pandapower's trafo with a tap of (t - 1) on
    the lv side (its impedance is scaled by the lv tap squared) and the shift negated.
    """
    branch = case.branch[rows]
    ratio = np.where(branch[:, TAP] == 0, 1.0, branch[:, TAP])
    from_is_hv = from_kv >= to_kv
    sn_mva = np.where(branch[:, RATE_A] > 0, branch[:, RATE_A], case.base_mva)
    r_pu, x_pu = branch[:, BR_R], branch[:, BR_X]
    z_pu = np.hypot(r_pu, x_pu)
    vk_percent = np.sign(x_pu) * z_pu * sn_mva / case.base_mva * 100
    vkr_percent = r_pu * sn_mva / case.base_mva * 100
    tap_percent = (ratio - 1.0) * 100
    from_bus = branch[:, F_BUS].astype(np.int64)
    to_bus = branch[:, T_BUS].astype(np.int64)
    pp.create_transformers_from_parameters(
        net,
        hv_buses=np.where(from_is_hv, from_bus, to_bus),
        lv_buses=np.where(from_is_hv, to_bus, from_bus),
        sn_mva=sn_mva,
        vn_hv_kv=np.where(from_is_hv, from_kv, to_kv),
        vn_lv_kv=np.where(from_is_hv, to_kv, from_kv),
        vk_percent=vk_percent,
        vkr_percent=vkr_percent,
        pfe_kw=0.0,
        i0_percent=0.0,
        shift_degree=np.where(from_is_hv, branch[:, SHIFT], -branch[:, SHIFT]),
        tap_side=np.where(from_is_hv, "hv", "lv"),
        tap_neutral=0,
        tap_pos=np.sign(tap_percent).astype(np.int64),
        tap_step_percent=np.abs(tap_percent),
        tap_changer_type="Ratio",
        in_service=branch[:, BR_STATUS] > 0,
        name=[f"branch {row + 1}" for row in rows],
    )
    _set_branch_columns(net.trafo, case, rows)
    net.trafo["from_is_hv"] = from_is_hv


def _add_transformer_charging(
    net: pp.pandapowerNet, case: MatpowerCase, rows: npt.NDArray[np.int64], report: ConversionReport
) -> None:
    """MATPOWER branch charging on transformer branches, as fixed shunts at both ends."""
    branch = case.branch[rows]
    charged = branch[:, BR_B] != 0
    if not charged.any():
        return
    ratio = np.where(branch[charged, TAP] == 0, 1.0, branch[charged, TAP])
    half_b_mvar = branch[charged, BR_B] / 2 * case.base_mva
    pp.create_shunts(net, branch[charged, F_BUS].astype(np.int64), q_mvar=-half_b_mvar / ratio**2, p_mw=0.0)
    pp.create_shunts(net, branch[charged, T_BUS].astype(np.int64), q_mvar=-half_b_mvar, p_mw=0.0)
    report.notes.append(f"charging of {int(charged.sum())} transformer branches modelled as bus shunts")


def _add_branches(net: pp.pandapowerNet, case: MatpowerCase, report: ConversionReport) -> None:
    branch = case.branch
    from_kv = case.bus[_bus_positions(case, branch[:, F_BUS], "branch"), BASE_KV]
    to_kv = case.bus[_bus_positions(case, branch[:, T_BUS], "branch"), BASE_KV]
    nominal = ((branch[:, TAP] == 0) | (branch[:, TAP] == 1)) & (branch[:, SHIFT] == 0)
    is_line = nominal & (from_kv == to_kv)
    line_rows = np.flatnonzero(is_line)
    trafo_rows = np.flatnonzero(~is_line)
    _add_lines(net, case, line_rows, from_kv[line_rows])
    if len(trafo_rows):
        _add_transformers(net, case, trafo_rows, from_kv[trafo_rows], to_kv[trafo_rows])
        _add_transformer_charging(net, case, trafo_rows, report)
    report.lines = len(line_rows)
    report.transformers = len(trafo_rows)
    report.unrated_branches = int((branch[:, RATE_A] <= 0).sum())


def matpower_to_net(case: MatpowerCase, *, name: str = "") -> tuple[pp.pandapowerNet, ConversionReport]:
    """Build a pandapower net from a parsed MATPOWER case.

    Parameters:
        case: the parsed case (see :func:`parse_matpower_text`); validate it first with
            :func:`grid_models.catalog.validation.validate_matpower_case`.
        name: the net's name.

    Returns:
        The net (60 Hz, ``sn_mva`` = the case's baseMVA) and a report of what was changed.

    Raises:
        GridValidationError: when rows refer to buses that do not exist.
    """
    report = ConversionReport()
    net = pp.create_empty_network(name=name, f_hz=F_HZ, sn_mva=case.base_mva)
    _add_buses(net, case)
    _add_loads_and_shunts(net, case)
    gen_rows = _add_generators(net, case, report)
    _add_costs(net, case, gen_rows, report)
    _add_branches(net, case, report)
    return net, report
