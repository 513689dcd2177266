"""Parse MATPOWER case files (``.m`` text) without executing them.

A MATPOWER case is MATLAB code, but the ACTIVSg files and every case MATPOWER ships only use
assignments of the form ``mpc.name = value;`` where ``value`` is a number, a quoted string, a
numeric matrix ``[ ... ]`` or a cell array of strings ``{ ... }``. This module reads exactly that
subset with regular expressions and numpy; anything else is reported as a validation issue.
Nothing in the file is evaluated.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from grid_models.errors import GridValidationError, ValidationIssue

__all__ = ["BRANCH_COLS", "BUS_COLS", "GEN_COLS", "MatpowerCase", "parse_matpower_text"]

FloatArray = npt.NDArray[np.float64]

# Minimum column counts of the MATPOWER version 2 format (MATPOWER manual, appendix B).
BUS_COLS = 13
GEN_COLS = 10
BRANCH_COLS = 13

_ASSIGN = re.compile(r"^\s*mpc\.(\w+)\s*=\s*", re.MULTILINE)
_NUMBER_TOKEN = re.compile(r"^[+-]?(\d+\.?\d*([eE][+-]?\d+)?|\.\d+([eE][+-]?\d+)?|Inf|inf|NaN|nan)$")
_STRING = re.compile(r"'((?:[^']|'')*)'")


@dataclass
class MatpowerCase:
    """The numeric tables and string columns of a MATPOWER case, as read from the file."""

    base_mva: float
    bus: FloatArray
    gen: FloatArray
    branch: FloatArray
    gencost: FloatArray | None = None
    bus_name: list[str] | None = None
    genfuel: list[str] | None = None
    gentype: list[str] | None = None
    extra: dict[str, str] = field(default_factory=dict)
    # per branch row: the three-winding transformer (0-based) it is a leg of, -1 for the others
    # (a converted RAW file's star legs; MATPOWER files have none)
    branch_group: npt.NDArray[np.int64] | None = None
    # per branch row: rating sets 1-12 (MVA, 0: none) where the source has more than RATE_A-C
    # (a RAW v34/v35 file); otherwise sets 1-3 are RATE_A-C
    rating_sets: npt.NDArray[np.float64] | None = None


def _strip_comments(text: str) -> str:
    """Remove MATLAB ``%`` comments, keeping ``%`` inside quoted strings."""
    out_lines = []
    for line in text.splitlines():
        kept = line
        if "%" in line:
            in_str = False
            for pos, char in enumerate(line):
                if char == "'":
                    in_str = not in_str
                elif char == "%" and not in_str:
                    kept = line[:pos]
                    break
        out_lines.append(kept)
    return "\n".join(out_lines)


def _split_assignments(text: str) -> dict[str, str]:
    """Map each ``mpc.<name>`` to the raw text of its value (up to the closing bracket)."""
    values: dict[str, str] = {}
    matches = list(_ASSIGN.finditer(text))
    for index, match in enumerate(matches):
        end = matches[index + 1].start() if index + 1 < len(matches) else len(text)
        values[match.group(1)] = text[match.end() : end].strip()
    return values


def _bracket_body(raw: str, opening: str, closing: str, name: str) -> str | None:
    if not raw.startswith(opening):
        return None
    end = raw.rfind(closing)
    if end < 0:
        raise GridValidationError(
            [
                ValidationIssue(
                    element=name,
                    field="value",
                    message=f"mpc.{name} opens with '{opening}' but is never closed with "
                    f"'{closing}': close the matrix and end it with '{closing};'.",
                )
            ]
        )
    return raw[1:end]


def _parse_matrix(raw: str, name: str, issues: list[ValidationIssue]) -> FloatArray | None:
    body = _bracket_body(raw, "[", "]", name)
    if body is None:
        issues.append(
            ValidationIssue(
                element=name,
                field="value",
                message=f"mpc.{name} must be a numeric matrix written as [ ... ]; "
                "expressions and function calls are not supported.",
            )
        )
        return None
    rows = [row.split() for row in re.split(r"[;\n]", body.replace(",", " "))]
    rows = [row for row in rows if row]
    if not rows:
        return np.zeros((0, 0))
    width = len(rows[0])
    for number, row in enumerate(rows, start=1):
        if len(row) != width:
            issues.append(
                ValidationIssue(
                    element=name,
                    field="row",
                    ids=[number],
                    message=f"row {number} of mpc.{name} has {len(row)} columns, the first row "
                    f"has {width}: every row of a MATPOWER matrix needs the same columns.",
                )
            )
            return None
    tokens = [token for row in rows for token in row]
    try:
        values = np.array(tokens, dtype=np.float64)
    except ValueError:
        bad = next(token for token in tokens if not _NUMBER_TOKEN.match(token))
        issues.append(
            ValidationIssue(
                element=name,
                field="value",
                message=f"mpc.{name} contains '{bad[:40]}', which is not a number: only plain "
                "numbers, Inf and NaN are accepted (no expressions or variables).",
            )
        )
        return None
    return values.reshape(len(rows), width)


def _parse_cell(raw: str, name: str, issues: list[ValidationIssue]) -> list[str] | None:
    body = _bracket_body(raw, "{", "}", name)
    if body is None:
        issues.append(
            ValidationIssue(
                element=name,
                field="value",
                message=f"mpc.{name} must be a cell array of quoted strings written as {{ ... }}.",
            )
        )
        return None
    return [value.replace("''", "'").strip() for value in _STRING.findall(body)]


def _parse_scalar(raw: str, name: str, issues: list[ValidationIssue]) -> float | None:
    token = raw.rstrip(";").strip()
    if _NUMBER_TOKEN.match(token):
        return float(token)
    issues.append(
        ValidationIssue(
            element=name,
            field="value",
            message=f"mpc.{name} must be a plain number, found '{token[:40]}'.",
        )
    )
    return None


def _required_table(values: dict[str, str], name: str, min_cols: int, issues: list[ValidationIssue]) -> FloatArray | None:
    if name not in values:
        issues.append(
            ValidationIssue(
                element=name,
                field="table",
                message=f"the case has no mpc.{name} matrix; a MATPOWER case needs mpc.bus, mpc.gen and mpc.branch.",
            )
        )
        return None
    matrix = _parse_matrix(values[name], name, issues)
    if matrix is not None and matrix.size and matrix.shape[1] < min_cols:
        issues.append(
            ValidationIssue(
                element=name,
                field="columns",
                message=f"mpc.{name} has {matrix.shape[1]} columns, MATPOWER format version 2 needs at least {min_cols}.",
            )
        )
        return None
    return matrix


def parse_matpower_text(text: str) -> MatpowerCase:
    """Read a MATPOWER version 2 case from its ``.m`` text.

    Parameters:
        text: the whole file content.

    Returns:
        The parsed case (tables as float arrays, optional string columns).

    Raises:
        GridValidationError: with one issue per problem found (unsupported syntax, missing or
            ragged tables, non-numeric entries).
    """
    values = _split_assignments(_strip_comments(text))
    issues: list[ValidationIssue] = []
    if not values:
        raise GridValidationError(
            [
                ValidationIssue(
                    element="case",
                    field="file",
                    message="no 'mpc.<name> = ...' assignments found: this does not look like a "
                    "MATPOWER case file (see the MATPOWER manual, 'Data File Format').",
                )
            ]
        )
    version = values.get("version", "'2'").rstrip(";").strip().strip("'")
    if version != "2":
        issues.append(
            ValidationIssue(
                element="version",
                field="value",
                message=f"MATPOWER case format version {version!r} is not supported; save the "
                "case in version 2 format (MATPOWER's savecase does).",
            )
        )
    base_mva = _parse_scalar(values.get("baseMVA", "100"), "baseMVA", issues)
    bus = _required_table(values, "bus", BUS_COLS, issues)
    gen = _required_table(values, "gen", GEN_COLS, issues)
    branch = _required_table(values, "branch", BRANCH_COLS, issues)
    gencost = _parse_matrix(values["gencost"], "gencost", issues) if "gencost" in values else None
    strings = {key: _parse_cell(values[key], key, issues) for key in ("bus_name", "genfuel", "gentype") if key in values}
    if issues or bus is None or gen is None or branch is None or base_mva is None:
        raise GridValidationError(issues)
    known = {"version", "baseMVA", "bus", "gen", "branch", "gencost", "bus_name", "genfuel", "gentype"}
    return MatpowerCase(
        base_mva=base_mva,
        bus=bus,
        gen=gen,
        branch=branch,
        gencost=gencost,
        bus_name=strings.get("bus_name"),
        genfuel=strings.get("genfuel"),
        gentype=strings.get("gentype"),
        extra={key: value[:200] for key, value in values.items() if key not in known},
    )
