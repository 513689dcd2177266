"""The RAW record reader: fields as PSS/E writes them (commas or blanks, quotes, comments, empty
defaults), sections by position with bare ``0`` terminators, multi-line records (two- and three-
winding transformers, DC lines, v35 impedance tables), and every problem with its line."""

from __future__ import annotations

from pathlib import Path

import pytest

from grid_models.catalog.psse_text import number, parse_raw_text, split_fields
from grid_models.errors import GridValidationError

CASES = Path(__file__).parents[2] / "cases" / "psse"
V33 = (CASES / "hand_v33.raw").read_text()  # every section, 2- and 3-winding transformers, a DC line, bare 0s
V35 = (CASES / "hand_v35.raw").read_text()  # @! headers, system-wide data, switching device, impedance tables


@pytest.mark.parametrize(
    ("line", "fields"),
    [
        ("1,'ALPHA, NORTH', 345.0", ["1", "ALPHA, NORTH", "345.0"]),
        ("2 'B/ETA \"Q\"' 345.0 / a comment", ["2", 'B/ETA "Q"', "345.0"]),
        ("3,'O''NEIL',,4", ["3", "O'NEIL", None, "4"]),
        (",5", [None, "5"]),
        ('6,"TWO", 230.0', ["6", "TWO", "230.0"]),
        ("0 / END OF BUS DATA", ["0"]),
    ],
)
def test_fields_as_pss_e_writes_them(line: str, fields: list[str | None]) -> None:
    assert split_fields(line) == fields


def test_numbers_are_strict() -> None:
    assert number("1.5D2") == 150.0
    assert number(None) is None
    with pytest.raises(ValueError, match="not a number"):
        number("23x.0")


def test_a_v33_case_by_section_with_its_lines() -> None:
    case = parse_raw_text(V33)
    assert (case.version, case.base_mva, case.frequency_hz) == (33, 100.0, 60.0)
    assert case.headings == ("HEADING ONE", "HEADING TWO")
    counts = {section: len(records) for section, records in case.sections.items()}
    assert counts == {"bus": 4, "load": 1, "fixed_shunt": 1, "generator": 1, "branch": 1, "transformer": 2, "area": 1,
                      "two_terminal_dc": 1, "switched_shunt": 1}  # fmt: skip
    names = [record.lines[0][1] for record in case.records("bus")]
    assert names == ["ALPHA, NORTH", 'B/ETA "Q"', "O'NEIL", "STAR"]
    two, three = case.records("transformer")
    assert (len(two.lines), len(three.lines)) == (4, 5)
    assert (two.line, three.line) == (17, 21)
    assert len(case.records("two_terminal_dc")[0].lines) == 3
    assert case.records("switched_shunt")[0].line == 41
    assert not case.warnings


def test_a_v35_case_skips_column_headers_and_reads_multi_line_tables() -> None:
    case = parse_raw_text(V35)
    assert case.version == 35
    assert len(case.records("system_wide")) == 2
    assert [r.lines[0][1] for r in case.records("bus")] == ["ONE", "TWO"]
    assert len(case.records("system_switching_device")) == 1
    first, second = case.records("impedance_correction")
    assert (len(first.lines), len(second.lines)) == (2, 1)
    assert first.line == 23


def test_problems_are_listed_with_their_lines() -> None:
    broken = V33.replace("    3 'O''NEIL' 138.0", "    3 'O''NEIL 138.0").replace(
        " 0.00100, 0.05000,   100.00\n1.00000", "1.00000", 1
    )
    truncated = "\n".join(broken.splitlines()[:19])  # inside the first transformer
    with pytest.raises(GridValidationError) as failed:
        parse_raw_text(truncated)
    lines = [issue.field for issue in failed.value.issues]
    assert "line 6" in lines  # the unclosed quote
    assert "line 17" in lines  # the transformer the file ends inside


@pytest.mark.parametrize(("header", "message"), [("0, 100.0, 32, 0, 1, 60.0", "is 32"), ("0, 100.0", "missing")])
def test_another_version_is_refused_with_the_versions_read(header: str, message: str) -> None:
    with pytest.raises(GridValidationError, match=f"{message}; versions 33, 34 and 35 are read"):
        parse_raw_text(header + "\nA\nB\n1,'X',1.0\n0\nQ\n")


def test_a_terminator_naming_another_section_is_reported() -> None:
    text = V33.replace("0 / END OF LOAD DATA, BEGIN FIXED SHUNT DATA", "0 / END OF LOAD DATA, BEGIN GENERATOR DATA")
    warnings = parse_raw_text(text).warnings
    assert [w.field for w in warnings] == ["line 10"]
    assert "generator data begins, but version 33 puts fixed_shunt data here" in warnings[0].message
