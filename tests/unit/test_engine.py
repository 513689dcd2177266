"""run_study: result serialisation, NetCDF, progress reporting, cancellation and spec errors."""

from __future__ import annotations

import copy
import importlib
import json
import pkgutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import xarray as xr

from grid_models.errors import BusNotFoundError, StudyCanceled, StudySpecError
from grid_models.grid import Grid
from grid_models.pipeline import run_study
from grid_models.results import StudyResult
from grid_models.spec import StudySpec

EXAMPLES = Path(__file__).parents[2] / "examples"


def _spec(**overrides: object) -> StudySpec:
    payload: dict[str, object] = {
        "grid": {"catalog": "activsg200"},
        "site": {"bus_name": "CLINTON 1 0"},
        "stages": [{"mw": 50}, {"mw": 120}],
    }
    payload.update(overrides)
    return StudySpec.model_validate(payload)


def test_result_round_trips_through_json_and_netcdf(catalog_grid: Callable[[str], Grid], tmp_path: Path) -> None:
    result = run_study(_spec(), catalog_grid("activsg200"))
    paths = result.write(tmp_path)
    again = StudyResult.model_validate_json(paths["json"].read_text())
    assert again.model_dump() == result.model_dump()
    with xr.open_dataset(paths["netcdf"]) as data:
        np.testing.assert_array_equal(data.vm_pu.to_numpy(), result.dataset.vm_pu.to_numpy())
        assert data.attrs["input_hash"] == result.provenance.input_hash
        assert list(data.stage_label.to_numpy()) == ["base", "Stage 1", "Stage 2"]
    provenance = result.provenance
    assert provenance.grid_checksum == catalog_grid("activsg200").checksum
    assert provenance.libraries["lightsim2grid"] == "1.2.0"
    assert provenance.solver["enforce_q_limits"] is True
    assert any("reactive limits enforced" in line for line in result.assumptions)


def test_input_hash_ignores_names_but_not_numbers() -> None:
    assert _spec(name="a").input_hash() == _spec(name="b").input_hash()
    assert _spec().input_hash() != _spec(stages=[{"mw": 51}]).input_hash()


def test_progress_is_reported_in_order(catalog_grid: Callable[[str], Grid]) -> None:
    steps: list[tuple[float, str]] = []
    run_study(_spec(), catalog_grid("activsg200"), progress=lambda fraction, step: steps.append((fraction, step)))
    fractions = [fraction for fraction, _ in steps]
    assert fractions == sorted(fractions)
    assert fractions[0] == 0.0
    assert fractions[-1] == 1.0
    assert any(step.startswith("stage 2/2") for _, step in steps)


def test_progress_callback_can_cancel(catalog_grid: Callable[[str], Grid]) -> None:
    def cancel_at_stage_two(_fraction: float, step: str) -> None:
        if step.startswith("stage 2/"):
            raise StudyCanceled("canceled by the user")

    with pytest.raises(StudyCanceled):
        run_study(_spec(), catalog_grid("activsg200"), progress=cancel_at_stage_two)


def test_site_errors(catalog_grid: Callable[[str], Grid]) -> None:
    with pytest.raises(BusNotFoundError, match="no bus named"):
        run_study(_spec(site={"bus_name": "NOWHERE 0"}), catalog_grid("activsg200"))
    with pytest.raises(BusNotFoundError, match="has no bus 5000"):
        run_study(_spec(site={"bus": 5000}), catalog_grid("activsg200"))
    grid = catalog_grid("activsg200")
    names = grid.net.bus.name
    duplicate = str(names.iloc[0])
    twin = Grid(net=copy.deepcopy(grid.net), grid_id="dup", title="dup", checksum="x", source="test")
    twin.net.bus.loc[twin.net.bus.index[1], "name"] = duplicate
    with pytest.raises(StudySpecError, match="matches buses"):
        run_study(_spec(site={"bus_name": duplicate}), twin)


def test_examples_are_valid_specs() -> None:
    paths = sorted(EXAMPLES.glob("*.json"))
    assert len(paths) >= 3, f"the examples folder {EXAMPLES} lost its examples"
    for path in paths:
        StudySpec.model_validate(json.loads(path.read_text()))


def test_plain_pandapower_net_is_accepted_and_not_modified(catalog_grid: Callable[[str], Grid]) -> None:
    net = catalog_grid("activsg200").net
    before = (len(net.load), net.gen.p_mw.sum(), len(net.sgen))
    result = run_study(_spec(), net)
    assert result.grid.grid_id == "custom"
    assert (len(net.load), net.gen.p_mw.sum(), len(net.sgen)) == before


def test_spec_schema_is_published() -> None:
    schema = StudySpec.model_json_schema()
    assert {"grid", "site", "stages"} <= set(schema["required"])
    assert "examples" in schema


def test_the_public_api_resolves_every_name() -> None:
    import grid_models

    assert len(grid_models.__all__) >= 10
    for name in grid_models.__all__:
        assert getattr(grid_models, name) is not None, name
    with pytest.raises(AttributeError, match="no attribute 'engine'"):
        _ = grid_models.engine  # type: ignore[attr-defined]


def test_the_api_process_does_not_load_the_solver_stack() -> None:
    """The API imports the engine's spec and results, never pandapower or lightsim2grid (their
    import costs seconds and hundreds of MB in every API process)."""
    probe = "import sys, impact_service.main; print(sorted(m for m in ('pandapower', 'lightsim2grid') if m in sys.modules))"
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=120)
    assert done.stdout.strip() == "[]"


@pytest.mark.parametrize("package", ["grid_models.results", "grid_models.spec"])
def test_a_package_exports_everything_its_modules_export(package: str) -> None:
    parent = importlib.import_module(package)
    modules = [importlib.import_module(f"{package}.{info.name}") for info in pkgutil.iter_modules(parent.__path__)]
    assert modules
    exported = {name for module in modules for name in module.__all__}
    assert exported == set(parent.__all__)
    for name in parent.__all__:
        assert getattr(parent, name) is not None
