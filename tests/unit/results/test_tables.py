"""The result's tables as CSV and Excel: every list of records in the result is a table, values
are the result's own (read back from both files), units are in the headers, and sheet names obey
Excel's rules."""

from __future__ import annotations

import csv
import io
import json
import time
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from openpyxl import load_workbook

from grid_models.grid import Grid
from grid_models.pipeline import run_study
from grid_models.results import StudyResult
from grid_models.results.tables import Table, _sheet_names, result_tables, study_time, tables_csv_zip, tables_xlsx, unit_of
from grid_models.spec import StudySpec

EXAMPLE = Path(__file__).parents[3] / "examples" / "illinois_gpus.json"


def _illinois() -> StudySpec:
    """The Illinois example (every analysis, on-site turbines), a label with a comma and quotes."""
    document = json.loads(EXAMPLE.read_text())
    document["stages"][0]["label"] = 'first, "quoted"'
    return StudySpec.model_validate(document)


@pytest.fixture(scope="module")
def result(catalog_grid: Callable[[str], Grid]) -> StudyResult:
    return run_study(_illinois(), catalog_grid("activsg200"))


@pytest.fixture(scope="module")
def tables(result: StudyResult) -> dict[str, Table]:
    return {table.name: table for table in result_tables(result)}


def _column(table: Table, name: str) -> list[Any]:
    return [row[table.columns.index(name)] for row in table.rows]


@pytest.mark.parametrize(
    ("path", "unit"),
    [
        ("facility_p_mw", "MW"),
        ("co2_short_tons", "short tons"),
        ("added_tpy", "short tons/yr"),
        ("egrid_average_lb_per_mwh", "lb/MWh"),
        ("energy_mwh_per_year", "MWh/yr"),
        ("lb_per_mwh.co2", "lb/MWh"),
        ("onsite_million_gal_per_year", "million gal/yr"),
        ("duration_s", "s"),
        ("status", None),
        ("newton_solves", None),
    ],
)
def test_units_come_from_the_field_names(path: str, unit: str | None) -> None:
    assert unit_of(path) == unit


def test_every_record_list_of_the_result_is_a_table(result: StudyResult, tables: dict[str, Table]) -> None:
    document = result.model_dump(mode="json")
    stages = tables["stages"]
    assert _column(stages, "label") == [document["base_case"]["label"], *(s["label"] for s in document["stages"])]
    assert _column(stages, "facility_p_mw") == [
        document["base_case"]["facility_p_mw"],
        *(s["facility_p_mw"] for s in document["stages"]),
    ]
    assert "facility_p_mw (MW)" in stages.headers()
    violations = sum(len(stage["voltage_violations"]) for stage in [document["base_case"], *document["stages"]])
    assert len(tables["stages.voltage_violations"].rows) == violations > 0
    assert {"stages.label", "stages.index"} <= set(tables["stages.voltage_violations"].columns)  # which stage each row is
    assert len(tables["findings"].rows) == len(document["findings"])
    assert [row[0] for row in tables["assumptions"].rows] == document["assumptions"]
    for section in (
        "contingency",
        "hosting_capacity",
        "load_loss",
        "environment",
        "provenance",
        "spec",
    ):  # permits, water: environment
        assert any(name == section or name.startswith(f"{section}.") for name in tables), section
    provenance = dict((row[0], row[1]) for row in tables["provenance"].rows)
    assert provenance["grid_checksum"] == document["provenance"]["grid_checksum"]


def test_csv_and_excel_hold_the_same_values(tables: dict[str, Table]) -> None:
    listed = list(tables.values())
    archive = zipfile.ZipFile(io.BytesIO(tables_csv_zip(listed)))
    assert sorted(archive.namelist()) == sorted(f"{name}.csv" for name in tables)
    stages_csv = list(csv.reader(io.StringIO(archive.read("stages.csv").decode())))
    assert stages_csv[0] == tables["stages"].headers()
    assert stages_csv[2][tables["stages"].columns.index("label")] == 'first, "quoted"'  # commas and quotes survive
    workbook = load_workbook(io.BytesIO(tables_xlsx(listed)), read_only=True)
    assert len(workbook.sheetnames) == len(tables)
    sheet = workbook["stages"]
    width = len(tables["stages"].columns)
    rows = [[*row, *[None] * (width - len(row))] for row in sheet.iter_rows(values_only=True)]  # trailing blanks are not stored
    assert rows[0] == tables["stages"].headers()

    def as_excel(value: Any) -> Any:  # Excel keeps 15 significant digits and no empty strings
        return None if value == "" else pytest.approx(value, rel=1e-14) if isinstance(value, float) else value

    assert rows[1:] == [[as_excel(value) for value in row] for row in tables["stages"].rows]
    assert "provenance" in workbook.sheetnames


def test_the_same_result_gives_the_same_files(result: StudyResult, tables: dict[str, Table]) -> None:
    """Reproducible downloads: the files carry the study's end as their date, not the clock's."""
    listed, finished = list(tables.values()), study_time(result)
    first = (tables_xlsx(listed, created=finished), tables_csv_zip(listed, created=finished))
    time.sleep(1.1)
    assert (tables_xlsx(listed, created=finished), tables_csv_zip(listed, created=finished)) == first


def test_sheet_names_are_short_unique_and_legal() -> None:
    long = "contingency.stages.worst_post_contingency_branch_loadings"
    names = _sheet_names([Table(name=long), Table(name=long + "_x"), Table(name="a/b:c")])
    assert all(len(name) <= 31 for name in names)
    assert len(set(names)) == 3
    assert names[2] == "a_b_c"


def test_written_beside_result_json(result: StudyResult, tmp_path: Path) -> None:
    paths = result.write(tmp_path)
    assert paths["xlsx"].read_bytes()[:2] == b"PK"
    assert zipfile.ZipFile(paths["csv"]).namelist()
