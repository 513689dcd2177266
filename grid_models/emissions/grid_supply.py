"""Grid-supply emissions and water of each stage: which units serve the added demand, and what
they emit and consume, by three dispatch methods beside the eGRID rates regulators also use.

- ``power_flow``: the units the AC power flow moved under the study's dispatch rule;
- ``merit_order``: the AC power flow's added generation (demand plus added losses) given to the
  cheapest units with headroom (``gencost``), ignoring the network;
- ``dc_opf``: least-cost dispatch with the network's normal ratings (:mod:`.dc_opf`), with and
  without the stage's demand (plus its added AC losses) at the POI: congestion can change which
  units ramp.

Added tons/year = sum over units of dP (MW) x rate (lb/MWh) x 8,760 h x load factor / 2,000;
the marginal rate is that per MWh the facility consumes. The eGRID subregion average and
non-baseload rates are applied to the facility's consumption for comparison.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from grid_models.emissions.dc_opf import DcNetwork, dc_network, dc_opf
from grid_models.emissions.technology import GRID_POLLUTANTS, Technology, rates_lb_per_mwh, technology, water_gal_per_mwh
from grid_models.emissions.water import water_stage
from grid_models.errors import InternalError
from grid_models.facility import FacilityParameters
from grid_models.factors import LB_PER_SHORT_TON, FactorSet
from grid_models.results.environment import (
    DispatchMethod,
    GridSupplyResult,
    GridSupplyStage,
    MethodEmissions,
    Pollutant,
    UnitIncrement,
)
from grid_models.results.text import named
from grid_models.solver.network import PreparedNetwork
from grid_models.spec.dispatch import DispatchRule
from grid_models.spec.environment import EgridSubregion, EmissionsOptions
from grid_models.studies.dispatch import share_change
from grid_models.studies.power_flow import DispatchContext, StageSolve

__all__ = ["HOURS_PER_YEAR", "SupplyInputs", "default_subregion", "run_grid_supply"]

FloatArray = npt.NDArray[np.float64]
HOURS_PER_YEAR = 8760.0
_MOVED_MW = 0.01
_LISTED_UNITS = 40
_DEFAULT_SUBREGION = {"activsg2000": EgridSubregion.ERCT}  # the Texas grid -> ERCOT (ERCT)


def default_subregion(grid_id: str) -> EgridSubregion:
    """The eGRID subregion used when the request names none."""
    return _DEFAULT_SUBREGION.get(grid_id, EgridSubregion.US)


@dataclass
class SupplyInputs:
    """What the grid-supply analysis needs from the solved study."""

    prepared: PreparedNetwork
    context: DispatchContext
    solves: list[StageSolve]
    options: EmissionsOptions
    facility: FacilityParameters
    grid_id: str


@dataclass
class _Units:
    techs: list[Technology]
    rates: list[dict[Pollutant, float | None]]
    water: list[float | None]
    heat_rate: list[float | None]


def _units(inputs: SupplyInputs, factors: FactorSet) -> _Units:
    techs = [technology(fuel, inputs.options) for fuel in inputs.prepared.gen_fuel]
    cooling = inputs.options.cooling.value
    return _Units(
        techs=techs,
        rates=[rates_lb_per_mwh(t, factors) for t in techs],
        water=[water_gal_per_mwh(t, factors, cooling=cooling) for t in techs],
        heat_rate=[factors.value("heat_rates", t.heat_rate_key) if t.heat_rate_key else None for t in techs],
    )


def _generation(prepared: PreparedNetwork, solve: StageSolve) -> FloatArray:
    p = solve.gen_p_mw.copy()
    p[prepared.slack_gen] = solve.solution.slack_p_mw
    return p


def _emissions(
    name: str, delta: FloatArray, units: _Units, inputs: SupplyInputs, *, facility_mw: float, unserved_mw: float = 0.0
) -> MethodEmissions:
    prepared, load_factor = inputs.prepared, inputs.options.load_factor
    moved = np.flatnonzero(delta != 0.0)  # every unit counts; only the unit list leaves out the tiny moves
    lb_per_h: dict[Pollutant, float] = dict.fromkeys(GRID_POLLUTANTS, 0.0)
    uncovered: dict[Pollutant, float] = dict.fromkeys(GRID_POLLUTANTS, 0.0)
    by_fuel: dict[str, float] = defaultdict(float)
    for g in moved:
        by_fuel[prepared.gen_fuel[g]] += float(delta[g])
        for pollutant, rate in units.rates[g].items():
            if rate is None:
                uncovered[pollutant] += abs(float(delta[g]))
            else:
                lb_per_h[pollutant] += float(delta[g]) * rate
    listed = sorted(np.flatnonzero(np.abs(delta) > _MOVED_MW), key=lambda g: -abs(delta[g]))[:_LISTED_UNITS]
    return MethodEmissions(
        method=name,
        delta_generation_mw=float(delta.sum()),
        by_fuel_mw=dict(sorted(by_fuel.items(), key=lambda item: -abs(item[1]))),
        units=[_increment(prepared, units, int(g), float(delta[g])) for g in listed],
        added_tpy={p: v * HOURS_PER_YEAR * load_factor / LB_PER_SHORT_TON for p, v in lb_per_h.items()},
        marginal_lb_per_mwh={p: v / facility_mw for p, v in lb_per_h.items()},
        uncovered_mw={p: v for p, v in uncovered.items() if v > 0},
        unserved_mw=unserved_mw,
    )


def _increment(prepared: PreparedNetwork, units: _Units, g: int, delta_mw: float) -> UnitIncrement:
    tech = units.techs[g]
    name = str(prepared.net.gen.name.iloc[g]) if "name" in prepared.net.gen.columns else ""
    return UnitIncrement(
        gen_id=int(prepared.gen_ids[g]),
        name=name if name not in ("None", "nan") else "",
        bus_id=int(prepared.bus_ids[prepared.gen_bus[g]]),
        fuel=prepared.gen_fuel[g],
        technology=tech.name,
        delta_p_mw=delta_mw,
        heat_rate_btu_per_kwh=units.heat_rate[g],
    )


@dataclass
class _DcState:
    network: DcNetwork
    base_p_mw: FloatArray
    base_losses_mw: float


def _dc_state(inputs: SupplyInputs) -> _DcState:
    base = inputs.solves[0]
    network = dc_network(inputs.prepared)
    losses = base.solution.losses_mw
    dispatch = dc_opf(network, inputs.prepared, schedule_mw=inputs.context.base_p_mw, movable=_movable(inputs), losses_mw=losses)
    return _DcState(network, dispatch.p_mw, losses)


def _movable(inputs: SupplyInputs) -> npt.NDArray[np.bool_]:
    return np.asarray(inputs.context.eligible & np.isfinite(inputs.prepared.gen_cost[:, 1]), dtype=bool)


def _dc_delta(
    inputs: SupplyInputs, state: _DcState, stage: StageSolve, *, added_mw: float
) -> tuple[FloatArray, float, list[str]]:
    """The DC OPF's change in dispatch, the demand it could not serve and the branches at their limit."""
    dispatch = dc_opf(
        state.network,
        inputs.prepared,
        schedule_mw=inputs.context.base_p_mw,
        movable=_movable(inputs),
        losses_mw=state.base_losses_mw,
        extra_demand_mw=added_mw,
        extra_bus=stage.poi,
    )
    names = inputs.prepared.branch_names
    congested = [named(inputs.prepared.branch_label(int(b)), names[b]) for b in dispatch.congested(state.network)[:_LISTED_UNITS]]
    return dispatch.p_mw - state.base_p_mw, dispatch.unserved_mw, congested


def _deltas(
    inputs: SupplyInputs, stage: StageSolve, dc: _DcState | None
) -> tuple[dict[str, tuple[FloatArray, float]], list[str]]:
    prepared, base = inputs.prepared, inputs.solves[0]
    flow_delta = _generation(prepared, stage) - _generation(prepared, base)
    added = float(flow_delta.sum())
    merit = share_change(
        rule=DispatchRule.MERIT_ORDER,
        delta_mw=added,
        p_mw=inputs.context.base_p_mw,
        pmin_mw=prepared.gen_pmin_mw,
        pmax_mw=prepared.gen_pmax_mw,
        eligible=inputs.context.eligible,
        cost=prepared.gen_cost,
    )
    deltas = {
        DispatchMethod.POWER_FLOW.value: (flow_delta, stage.unserved_mw),
        DispatchMethod.MERIT_ORDER.value: (merit.delta_p_mw, merit.unserved_mw),
    }
    congested: list[str] = []
    if dc is not None:
        delta, unserved, congested = _dc_delta(inputs, dc, stage, added_mw=added)
        deltas[DispatchMethod.DC_OPF.value] = (delta, unserved)
    return deltas, congested


def _gas_range(inputs: SupplyInputs, delta: FloatArray, units: _Units, factors: FactorSet) -> tuple[float, float]:
    """NOx of a dispatch with every gas unit at combined-cycle rates, and at combustion-turbine rates."""
    gas = np.array([t.name in ("gas_cc", "gas_ct") for t in units.techs], dtype=bool)
    other = sum(float(delta[g]) * (units.rates[g][Pollutant.NOX] or 0.0) for g in np.flatnonzero(~gas))
    mmbtu_per_mwh = factors.value("heat_rates", "natural_gas") / 1000.0
    gas_mw = float(delta[gas].sum())
    scale = HOURS_PER_YEAR * inputs.options.load_factor / LB_PER_SHORT_TON
    cc, ct = (factors.value("technology_rates", f"{name}.nox") * mmbtu_per_mwh for name in ("gas_cc", "gas_ct"))
    return ((other + gas_mw * cc) * scale, (other + gas_mw * ct) * scale)


def _stage(inputs: SupplyInputs, stage: StageSolve, units: _Units, dc: _DcState | None, factors: FactorSet) -> GridSupplyStage:
    if stage.load is None:
        raise InternalError("grid supply was asked about the solve without the facility")
    base, facility = inputs.solves[0], stage.load.p_mw
    deltas, congested = _deltas(inputs, stage, dc)
    methods = [_emissions(name, d, units, inputs, facility_mw=facility, unserved_mw=u) for name, (d, u) in deltas.items()]
    if dc is not None:
        methods[-1].congested_branches = congested
    main_delta = list(deltas.values())[-1][0]
    energy = facility * HOURS_PER_YEAR * inputs.options.load_factor
    subregion = (inputs.options.egrid_subregion or default_subregion(inputs.grid_id)).value
    return GridSupplyStage(
        stage_index=stage.index,
        stage=stage.load.label,
        facility_p_mw=facility,
        delta_losses_mw=stage.solution.losses_mw - base.solution.losses_mw,
        energy_mwh_per_year=energy,
        methods=methods,
        egrid_average_co2e_tpy=energy * factors.value("egrid", f"{subregion}.co2e_total_output") / LB_PER_SHORT_TON,
        egrid_nonbaseload_co2_tpy=energy * factors.value("egrid", f"{subregion}.co2_nonbaseload") / LB_PER_SHORT_TON,
        gas_range_nox_tpy=_gas_range(inputs, main_delta, units, factors),
        water=water_stage(
            facility_mw=facility,
            pue=inputs.facility.pue,
            load_factor=inputs.options.load_factor,
            wue_l_per_kwh=inputs.options.wue_l_per_kwh,
            delta_mw=main_delta,
            water_gal_per_mwh=units.water,
            factors=factors,
            method=methods[-1].method,
        ),
    )


def _assumptions(inputs: SupplyInputs, dc_note: str) -> list[str]:
    o = inputs.options
    return [
        f"annual energy = stage demand x 8,760 h x load factor {o.load_factor:g}",
        f"the grid's gas units are treated as {o.gas_technology.value.replace('_', ' ')} units (ACTIVSg does not say which); "
        "gas_range_nox_tpy shows the other choice",
        f"coal units burn {o.coal_rank.value} coal, {'with' if o.coal_scrubbed else 'without'} SO2 scrubbers "
        "(not in the grid data)",
        "heat rates are the 2022 fleet averages of each fuel (EIA); PM2.5 has a factor for gas turbines only (AP-42 3.1): "
        "coal and oil PM2.5 are not counted (see uncovered_mw)",
        "the eGRID rates apply to the facility's consumption, without a line-loss gross-up",
        dc_note,
    ]


def _sources(factors: FactorSet, subregion: str) -> list[str]:
    keys = [("fuel_co2", "natural_gas"), ("heat_rates", "natural_gas"), ("technology_rates", "gas_cc.nox"),
            ("egrid", f"{subregion}.co2_nonbaseload"), ("water", "wue.average"), ("water", "cooling_tower.gas_cc")]  # fmt: skip
    return [factors.cite(table_name, key) for table_name, key in keys]


def run_grid_supply(inputs: SupplyInputs) -> GridSupplyResult:
    """Grid-supply emissions and water of every converged stage (see module doc)."""
    factors = FactorSet(inputs.options.factor_overrides)
    units = _units(inputs, factors)
    has_costs = bool(np.isfinite(inputs.prepared.gen_cost[inputs.context.eligible, 1]).any())
    dc = _dc_state(inputs) if inputs.options.dc_opf and has_costs else None
    if dc is not None:
        dc_note = (
            "the DC optimal power flow serves the base case's AC losses with the load and the stage's added AC losses at the POI"
        )
    else:
        dc_note = "no DC optimal power flow: " + (
            "switched off" if not inputs.options.dc_opf else "the grid has no generator costs"
        )
    subregion = (inputs.options.egrid_subregion or default_subregion(inputs.grid_id)).value
    stages = [_stage(inputs, s, units, dc, factors) for s in inputs.solves[1:] if s.converged and s.load is not None]
    return GridSupplyResult(
        main_method=DispatchMethod.DC_OPF.value if dc is not None else DispatchMethod.MERIT_ORDER.value,
        egrid_subregion=subregion,
        egrid_average_lb_per_mwh=factors.value("egrid", f"{subregion}.co2e_total_output"),
        egrid_nonbaseload_lb_per_mwh=factors.value("egrid", f"{subregion}.co2_nonbaseload"),
        stages=stages,
        assumptions=_assumptions(inputs, dc_note),
        sources=_sources(factors, subregion),
    )
