"""The upload's check against the solution stored in the file: activsg200 within 1e-4 pu (MATPOWER
itself reaches 1.4e-5), and a file whose shunts moved after it was solved is listed, bus by bus."""

from __future__ import annotations

from grid_models.catalog.matpower_text import parse_matpower_text
from grid_models.catalog.registry import catalog_file
from grid_models.catalog.uploads import load_upload
from grid_models.studies.stored_solution import check_stored_solution


def test_activsg200_reproduces_its_stored_voltages() -> None:
    grid = load_upload(catalog_file("activsg200").read_bytes(), grid_id="x", filename="activsg200.m")
    check = check_stored_solution(grid)
    assert check is not None
    assert check.converged
    assert check.buses_beyond_tolerance == 0
    assert check.max_difference_pu is not None
    assert check.max_difference_pu < 1e-4


def test_a_file_whose_shunts_moved_is_listed() -> None:
    case = parse_matpower_text(catalog_file("activsg200").read_text())
    shunt_bus = int(case.bus[case.bus[:, 5] != 0][0, 0])
    text = catalog_file("activsg200").read_text()
    grid = load_upload(text.encode(), grid_id="x", filename="activsg200.m")
    grid.net.shunt.loc[grid.net.shunt.bus == shunt_bus, "q_mvar"] *= -3  # a capacitor bank switched the other way
    check = check_stored_solution(grid)
    assert check is not None
    assert check.buses_beyond_tolerance > 0
    assert check.worst[0]["bus"] in set(grid.net.bus.index)
    assert "differ from the file's voltages" in check.note
