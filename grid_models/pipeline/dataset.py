"""Array results as an xarray Dataset (per stage x bus, branch, generator), written to NetCDF."""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import xarray as xr

from grid_models.solver.network import PreparedNetwork
from grid_models.solver.qlimits import generator_q_mvar
from grid_models.studies.evaluation import actual_generation_mw, branch_loading_percent
from grid_models.studies.n1.analysis import ContingencyRun
from grid_models.studies.power_flow import StageSolve

__all__ = ["build_dataset"]


def _coords(prepared: PreparedNetwork, solves: list[StageSolve]) -> dict[str, tuple[str, object]]:
    return {
        "stage": ("stage", np.array([s.index for s in solves])),
        "stage_label": ("stage", np.array([s.load.label if s.load else "base" for s in solves], dtype=str)),
        "facility_p_mw": ("stage", np.array([s.load.p_mw if s.load else 0.0 for s in solves])),
        "facility_q_mvar": ("stage", np.array([s.load.q_mvar if s.load else 0.0 for s in solves])),
        "bus": ("bus", prepared.bus_ids),
        "bus_name": ("bus", np.array(prepared.bus_names, dtype=str)),
        "bus_vn_kv": ("bus", prepared.bus_vn_kv),
        "bus_area": ("bus", prepared.bus_area),
        "branch": ("branch", np.array([prepared.branch_label(i) for i in range(prepared.n_branch)], dtype=str)),
        "branch_from_bus": ("branch", prepared.bus_ids[prepared.branch_from]),
        "branch_to_bus": ("branch", prepared.bus_ids[prepared.branch_to]),
        "rate_normal_mva": ("branch", prepared.rate_normal_mva),
        "rate_emergency_mva": ("branch", prepared.rate_emergency_mva),
        "gen": ("gen", prepared.gen_ids),
        "gen_label": ("gen", np.array(prepared.gen_labels, dtype=str)),
        "gen_bus": ("gen", prepared.bus_ids[prepared.gen_bus]),
        "gen_fuel": ("gen", np.array(prepared.gen_fuel, dtype=str)),
        "gen_pmax_mw": ("gen", prepared.gen_pmax_mw),
    }


def _variables(
    prepared: PreparedNetwork, solves: list[StageSolve]
) -> dict[str, tuple[tuple[str, str], np.ndarray, dict[str, str]]]:
    def stack(values: list[np.ndarray]) -> np.ndarray:
        return np.vstack(values).astype(np.float64)

    sols = [s.solution for s in solves]
    return {
        "vm_pu": (("stage", "bus"), stack([s.vm_pu for s in sols]), {"long_name": "bus voltage magnitude", "units": "pu"}),
        "va_degree": (
            ("stage", "bus"),
            stack([s.va_degree for s in sols]),
            {"long_name": "bus voltage angle vs slack bus", "units": "degree"},
        ),
        "p_from_mw": (
            ("stage", "branch"),
            stack([s.p_from_mw for s in sols]),
            {"long_name": "active power into branch at from/hv end", "units": "MW"},
        ),
        "q_from_mvar": (("stage", "branch"), stack([s.q_from_mvar for s in sols]), {"units": "MVAr"}),
        "p_to_mw": (
            ("stage", "branch"),
            stack([s.p_to_mw for s in sols]),
            {"long_name": "active power into branch at to/lv end", "units": "MW"},
        ),
        "q_to_mvar": (("stage", "branch"), stack([s.q_to_mvar for s in sols]), {"units": "MVAr"}),
        "loading_percent": (
            ("stage", "branch"),
            stack([branch_loading_percent(prepared, s) for s in sols]),
            {"long_name": "max end apparent power / normal rating", "units": "%"},
        ),
        "gen_p_mw": (("stage", "gen"), stack([actual_generation_mw(s) for s in solves]), {"units": "MW"}),
        "gen_q_mvar": (
            ("stage", "gen"),
            stack([generator_q_mvar(prepared, s.solution, s.q_state) for s in solves]),
            {"units": "MVAr"},
        ),
    }


def _contingency_variables(run: ContingencyRun, stages: np.ndarray) -> tuple[dict[str, Any], dict[str, Any]]:
    """Per stage and contingency: convergence, worst loading (% of emergency rating), voltage extremes."""
    n_stage, n_cont = len(stages), len(run.contingencies)
    worst = np.full((n_stage, n_cont), np.nan)
    vmin, vmax = np.full((n_stage, n_cont), np.nan), np.full((n_stage, n_cont), np.nan)
    converged = np.zeros((n_stage, n_cont), dtype=np.int8)
    for i, stage in enumerate(stages):
        table = run.tables.get(int(stage))
        if table is None:
            continue
        converged[i] = table.converged
        with np.errstate(all="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN rows (no solution) stay NaN
            worst[i] = np.nanmax(table.loading_percent, axis=1)
            vmin[i], vmax[i] = np.nanmin(table.vm_pu, axis=1), np.nanmax(table.vm_pu, axis=1)
    dims = ("stage", "contingency")
    data = {
        "n1_converged": (dims, converged, {"long_name": "1 if the post-contingency power flow converged"}),
        "n1_worst_loading_percent": (dims, worst, {"long_name": "highest loading in % of emergency rating", "units": "%"}),
        "n1_min_vm_pu": (dims, vmin, {"units": "pu"}),
        "n1_max_vm_pu": (dims, vmax, {"units": "pu"}),
    }
    coords = {
        "contingency": ("contingency", np.array([c.label for c in run.contingencies], dtype=str)),
        "contingency_name": ("contingency", np.array([c.name for c in run.contingencies], dtype=str)),
    }
    return data, coords


def build_dataset(
    prepared: PreparedNetwork,
    solves: list[StageSolve],
    *,
    attrs: dict[str, str],
    monitored: np.ndarray,
    contingency: ContingencyRun | None = None,
) -> xr.Dataset:
    """Dataset of every solved stage (stage 0 = base case); non-converged stages hold NaN.
    ``monitored``: per bus, whether the voltage criteria apply there."""
    data_vars: dict[str, tuple[tuple[str, ...], np.ndarray, dict[str, str]]] = dict(_variables(prepared, solves))
    data_vars["bus_monitored"] = (
        ("bus",),
        np.asarray(monitored, dtype=np.int8),
        {"long_name": "1 if the voltage criteria are checked at this bus"},
    )
    data_vars["converged"] = (
        ("stage",),
        np.array([s.converged for s in solves], dtype=np.int8),
        {"long_name": "1 if the power flow converged"},
    )
    coords: dict[str, Any] = dict(_coords(prepared, solves))
    if contingency is not None:
        n1_vars, n1_coords = _contingency_variables(contingency, np.array([s.index for s in solves]))
        data_vars.update(n1_vars)
        coords.update(n1_coords)
    dataset = xr.Dataset(data_vars=data_vars, coords=coords)
    dataset.attrs.update({"Conventions": "CF-1.8", **attrs})
    return dataset
