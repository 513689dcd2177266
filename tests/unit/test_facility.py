"""GPU -> MW: the check rows of REFERENCE.md section 1 and the stage spec's validation."""

from __future__ import annotations

import csv
import math
from pathlib import Path

import pytest
from pydantic import ValidationError

from grid_models.facility import FacilityParameters, GpuModel, StageSpec, facility_defaults, gpu_power_table, stage_load

CASES = Path(__file__).parents[1] / "cases" / "facility_checks" / "cases.csv"


def _rows() -> list[dict[str, str]]:
    return list(csv.DictReader(CASES.read_text().splitlines()))


@pytest.mark.parametrize("row", _rows(), ids=lambda r: r["case"])
def test_reference_check_rows(row: dict[str, str]) -> None:
    params = FacilityParameters(
        pue=float(row["pue"]), network_storage_share=float(row["network_storage_share"]), utilization=float(row["utilization"])
    )
    load = stage_load(StageSpec(gpus=int(row["gpus"]), gpu_model=GpuModel(row["gpu_model"])), params, index=1)
    assert float(row["min_mw"]) <= load.p_mw <= float(row["max_mw"])


def test_100k_h100_is_153_mw_by_hand() -> None:
    # 100,000 x 1.275 kW x 1.2 = 153,000 kW (REFERENCE.md section 1, [C] row)
    load = stage_load(StageSpec(gpus=100_000, gpu_model="h100"), FacilityParameters(pue=1.2, network_storage_share=0.0), index=1)
    assert load.p_mw == pytest.approx(153.0, rel=1e-12)


def test_defaults_carry_sources_and_apply() -> None:
    defaults = facility_defaults()
    assert set(defaults) == {"pue", "network_storage_share", "utilization", "power_factor"}
    assert all(d.source for d in defaults.values())
    params = FacilityParameters()
    assert params.pue == defaults["pue"].value
    load = stage_load(StageSpec(gpus=100_000, gpu_model="h100"), params, index=2)
    expected = 100_000 * 1.275 * (1 + defaults["network_storage_share"].value) * defaults["pue"].value / 1000
    assert load.p_mw == pytest.approx(expected)
    assert load.label == "Stage 2"


def test_every_gpu_model_has_a_sourced_row() -> None:
    table = gpu_power_table()
    assert set(table) == set(GpuModel)
    assert all(row.source and row.server_kw_per_gpu > 0 for row in table.values())
    # DGX B200: 14.3 kW for 8 GPUs
    assert table[GpuModel.B200].server_kw_per_gpu == pytest.approx(14.3 / 8)


def test_power_factor_gives_mvar() -> None:
    load = stage_load(StageSpec(mw=100.0), FacilityParameters(power_factor=0.95), index=1)
    assert load.q_mvar == pytest.approx(100.0 * math.tan(math.acos(0.95)))
    assert stage_load(StageSpec(mw=100.0), FacilityParameters(power_factor=1.0), index=1).q_mvar == pytest.approx(0.0)


def test_server_power_override() -> None:
    params = FacilityParameters(pue=1.0, network_storage_share=0.0, server_kw_per_gpu={"h100": 2.0})
    assert stage_load(StageSpec(gpus=1000, gpu_model="h100"), params, index=1).p_mw == pytest.approx(2.0)


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        ({}, "either 'mw' or 'gpus'"),
        ({"mw": 10, "gpus": 5, "gpu_model": "h100"}, "either 'mw' or 'gpus'"),
        ({"gpus": 5}, "needs gpu_model"),
        ({"mw": 10, "gpu_model": "h100"}, "gpu_model only applies"),
        ({"mw": -5}, "greater than 0"),
        ({"gpus": 5, "gpu_model": "a100"}, "Input should be"),
    ],
)
def test_stage_validation_messages(payload: dict[str, object], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        StageSpec.model_validate(payload)
