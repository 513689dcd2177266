"""The MATPOWER text reader: supported syntax, and structured errors for everything else."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from grid_models.catalog.matpower_text import parse_matpower_text
from grid_models.errors import GridValidationError

CASE3 = (Path(__file__).parents[2] / "cases" / "matpower" / "case3.m").read_text()


def test_parses_tables_strings_and_comments() -> None:
    case = parse_matpower_text(CASE3)
    assert case.base_mva == 100
    assert case.bus.shape == (3, 13)
    assert case.gen.shape == (2, 10)
    assert case.branch.shape == (3, 13)
    assert case.gencost is not None
    assert case.gencost[1, 4] == pytest.approx(0.085)
    assert case.bus_name == ["NORTH 0", "CENTER % not a comment", "SOUTH'S END"]
    assert case.genfuel == ["ng", "coal"]
    np.testing.assert_allclose(case.bus[:, 7], [1.02, 1.0, 1.01])


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("hello world", "does not look like a MATPOWER case"),
        (CASE3.replace("mpc.branch = [", "mpc.branch = ones(3, 13); %["), "must be a numeric matrix"),
        (CASE3.replace("0.01	0.085", "0.01	sqrt(2)"), "is not a number"),
        (
            CASE3.replace(
                "	1	2	0.01	0.085	0.176	250	250	250	0	0	1	-360	360;",
                "	1	2	0.01	0.085	0.176;",
            ),
            "columns",
        ),
        (CASE3.replace("mpc.version = '2';", "mpc.version = '1';"), "version '1' is not supported"),
        (CASE3.replace("mpc.gen = [", "mpc.generators = ["), "has no mpc.gen matrix"),
    ],
)
def test_bad_files_give_structured_issues(text: str, fragment: str) -> None:
    with pytest.raises(GridValidationError) as caught:
        parse_matpower_text(text)
    messages = " ".join(issue.message for issue in caught.value.issues)
    assert fragment in messages
    assert caught.value.to_dict()["code"] == "grid_invalid"


def test_short_bus_table_is_rejected() -> None:
    text = CASE3.replace("	1	3	0	0	0	0	1	1.02	0	230	1	1.1	0.9;", "	1	3	0	0;")
    with pytest.raises(GridValidationError) as caught:
        parse_matpower_text(text)
    assert caught.value.issues[0].element == "bus"
