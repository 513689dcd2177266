"""GPU campus -> facility demand at the point of interconnection.

Facility MW = GPUs x server power per GPU x (1 + network and storage share) x PUE x utilization,
and MVAr from the power factor. Every default comes from ``grid_models/data`` tables, each row
with its source (REFERENCE.md section 1); every default can be overridden per study.
"""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass
from enum import StrEnum
from functools import cache
from importlib import resources
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, Strict, model_validator

from grid_models.errors import InternalError

__all__ = [
    "LENIENT",
    "MAX_STAGE_MW",
    "PRINTABLE",
    "REQUEST_CONFIG",
    "FacilityParameters",
    "GpuModel",
    "GpuPower",
    "StageLoad",
    "StageSpec",
    "facility_defaults",
    "gpu_power_table",
    "stage_load",
]


PRINTABLE = r"^[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f]*$"  # free text: no NUL or control characters


class GpuModel(StrEnum):
    """GPU generations with a sourced server power per GPU."""

    H100 = "h100"
    H200 = "h200"
    B200 = "b200"
    GB200 = "gb200"
    B300 = "b300"


@dataclass(frozen=True)
class GpuPower:
    """One row of ``data/gpu_power.csv``."""

    gpu_model: GpuModel
    gpu_tdp_w: float | None
    server_kw_per_gpu: float
    source: str
    mark: str


@dataclass(frozen=True)
class DefaultValue:
    """One row of ``data/facility_defaults.csv``."""

    parameter: str
    value: float
    unit: str
    source: str
    mark: str


def _read_csv(name: str) -> list[dict[str, str]]:
    text = resources.files("grid_models.data").joinpath(name).read_text(encoding="utf-8")
    return list(csv.DictReader(text.splitlines()))


@cache
def gpu_power_table() -> dict[GpuModel, GpuPower]:
    """Server power per GPU by model, with sources."""
    return {
        GpuModel(row["gpu_model"]): GpuPower(
            gpu_model=GpuModel(row["gpu_model"]),
            gpu_tdp_w=float(row["gpu_tdp_w"]) if row["gpu_tdp_w"] else None,
            server_kw_per_gpu=float(row["server_kw_per_gpu"]),
            source=row["source"],
            mark=row["mark"],
        )
        for row in _read_csv("gpu_power.csv")
    }


@cache
def facility_defaults() -> dict[str, DefaultValue]:
    """Default facility parameters, with sources."""
    return {
        row["parameter"]: DefaultValue(row["parameter"], float(row["value"]), row["unit"], row["source"], row["mark"])
        for row in _read_csv("facility_defaults.csv")
    }


def _default(name: str) -> float:
    return facility_defaults()[name].value


# Request models refuse what JSON would only coerce: true or "100" where a number belongs, 1 where a
# boolean does ("mw": true ran a 1 MW study). Enum fields opt out with LENIENT: in a parsed JSON body
# their values arrive as strings, which strict mode would refuse.
REQUEST_CONFIG = ConfigDict(extra="forbid", allow_inf_nan=False, strict=True)
LENIENT = Strict(False)

MAX_STAGE_MW = 50_000.0  # a stage's demand, whether given in MW or in GPUs


class FacilityParameters(BaseModel):
    """How GPUs become MW; defaults and their sources in ``grid_models/data/facility_defaults.csv``."""

    model_config = REQUEST_CONFIG

    pue: float = Field(default_factory=lambda: _default("pue"), ge=1.0, le=3.0, description="power usage effectiveness")
    network_storage_share: float = Field(
        default_factory=lambda: _default("network_storage_share"),
        ge=0.0,
        le=1.0,
        description="network and storage as a share of GPU server power",
    )
    utilization: float = Field(
        default_factory=lambda: _default("utilization"), gt=0.0, le=1.0, description="share of the servers' maximum power drawn"
    )
    power_factor: float = Field(
        default_factory=lambda: _default("power_factor"), gt=0.5, le=1.0, description="lagging power factor at the POI"
    )
    server_kw_per_gpu: dict[Annotated[GpuModel, LENIENT], Annotated[float, Field(gt=0.0, le=20.0)]] = Field(
        default_factory=dict, description="overrides of the server power per GPU (kW, 0-20) by GPU model"
    )

    def kw_per_gpu(self, model: GpuModel) -> float:
        """Server power per GPU (kW), the study's override or the sourced default."""
        override = self.server_kw_per_gpu.get(model)
        return override if override is not None else gpu_power_table()[model].server_kw_per_gpu


class StageSpec(BaseModel):
    """One growth stage: a GPU count with a GPU model, or a demand in MW."""

    model_config = REQUEST_CONFIG

    label: str = Field(default="", max_length=80, pattern=PRINTABLE)
    gpus: int | None = Field(default=None, gt=0, le=20_000_000)
    gpu_model: Annotated[GpuModel, LENIENT] | None = None
    mw: float | None = Field(default=None, gt=0.0, le=MAX_STAGE_MW, description="facility demand at the POI, MW")

    @model_validator(mode="after")
    def _one_size(self) -> StageSpec:
        if (self.gpus is None) == (self.mw is None):
            raise ValueError("give a stage either 'mw' or 'gpus' (with 'gpu_model'), not both and not neither")
        if self.gpus is not None and self.gpu_model is None:
            raise ValueError(f"a stage with gpus needs gpu_model, one of: {', '.join(m.value for m in GpuModel)}")
        if self.mw is not None and self.gpu_model is not None:
            raise ValueError("gpu_model only applies to stages given as gpus; remove it or give gpus instead of mw")
        return self


@dataclass(frozen=True)
class StageLoad:
    """The demand a stage puts at the POI."""

    label: str
    p_mw: float
    q_mvar: float
    gpus: int | None
    gpu_model: GpuModel | None


def stage_load(stage: StageSpec, params: FacilityParameters, *, index: int) -> StageLoad:
    """Facility demand of a stage.

    Parameters:
        stage: the stage (GPUs or MW).
        params: facility parameters (PUE, network share, utilization, power factor).
        index: 1-based stage number, used for the default label.

    Returns:
        P in MW (for GPU stages: GPUs x kW/GPU x (1 + network share) x PUE x utilization / 1000)
        and Q in MVAr from the power factor.
    """
    if stage.mw is not None:
        p_mw = stage.mw
    else:
        if stage.gpus is None or stage.gpu_model is None:
            raise InternalError(f"stage {stage.label!r} has neither mw nor gpus with a gpu_model (the spec requires one)")
        it_kw = stage.gpus * params.kw_per_gpu(stage.gpu_model) * (1.0 + params.network_storage_share)
        p_mw = it_kw * params.pue * params.utilization / 1000.0
    q_mvar = p_mw * math.tan(math.acos(params.power_factor))
    return StageLoad(
        label=stage.label or f"Stage {index}",
        p_mw=p_mw,
        q_mvar=q_mvar,
        gpus=stage.gpus,
        gpu_model=stage.gpu_model,
    )
