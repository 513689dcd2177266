"""Hourly load profiles: the ACTIVSg scenario files and uploaded CSV files, read without executing
anything, every problem reported with its line.

A profile is a year of hourly values in columns: one per area, one per zone, or one for the whole
system, in MW or per unit of the case's load in that column. MATPOWER's scenario files are change
tables (``chgtab``) for ``apply_changes``: each row replaces an area's total active load
(``CT_TAREALOAD``, ``CT_LOAD_ALL_P``, ``CT_REP``); this module reads exactly that subset.

CSV format (UTF-8)::

    # unit: MW            (or: # unit: pu; required)
    # year: 2016          (optional; the first hour is 1 January 00:00 of this year)
    timestamp,area 1,area 2          (or zone 3, ..., or system; timestamp is optional)
    2016-01-01T00:00,946.9,806.8
    ...

8,760 or 8,784 rows of numbers; a ``timestamp`` column, when present, must step by one hour.
"""

from __future__ import annotations

import csv
import io
import itertools
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from pathlib import Path

import numpy as np
import numpy.typing as npt

from grid_models.catalog.entries import catalog_entry, matpower_data_dir
from grid_models.errors import GridValidationError, ValidationIssue

__all__ = [
    "MAX_PROFILE_BYTES",
    "LoadProfile",
    "ProfileColumns",
    "ProfileUnit",
    "ProfileValidationError",
    "catalog_profile",
    "parse_chgtab",
    "parse_profile_csv",
    "system_shape",
]

FloatArray = npt.NDArray[np.float64]

MAX_PROFILE_BYTES = 16 * 1024 * 1024  # a year of 100 columns in CSV is about 9 MB
_HOURS = (8760, 8784)
_MAX_COLUMNS = 500
_MAX_LISTED = 50


class ProfileColumns(StrEnum):
    """What a profile's columns are."""

    AREA = "area"
    ZONE = "zone"
    SYSTEM = "system"


class ProfileUnit(StrEnum):
    """The unit of a profile's values."""

    MW = "mw"  # the column's total active load, MW
    PU = "pu"  # per unit of the case's active load in the column


class ProfileValidationError(GridValidationError):
    """An hourly profile that cannot be used; ``issues`` lists every problem found."""

    code = "profile_invalid"


@dataclass(frozen=True)
class LoadProfile:
    """A year of hourly load: ``values`` is hours x columns."""

    name: str
    source: str
    columns_kind: ProfileColumns
    unit: ProfileUnit
    columns: tuple[int, ...]  # area or zone numbers; (0,) for a system column
    values: FloatArray
    start: datetime  # the first hour

    @property
    def hours(self) -> int:
        """Rows of the profile."""
        return int(self.values.shape[0])

    def timestamps(self) -> list[datetime]:
        """The hour each row stands for."""
        return [self.start + timedelta(hours=hour) for hour in range(self.hours)]

    def system_per_unit(self, case_load_mw: FloatArray) -> FloatArray:
        """The system's hourly load as a share of the case's (``case_load_mw``: per column)."""
        total = float(case_load_mw.sum())
        if self.unit is ProfileUnit.PU:
            return np.asarray(self.values @ case_load_mw / total, dtype=np.float64)
        return np.asarray(self.values.sum(axis=1) / total, dtype=np.float64)


# --- MATPOWER change tables ----------------------------------------------------------------------

# the subset of MATPOWER's idx_ct a load profile uses (MATPOWER 8, lib/idx_ct.m)
_CT = {"CT_TAREALOAD": 8, "CT_LOAD_ALL_P": 4, "CT_REP": 1}
_CHGTAB_ROW = re.compile(r"^\s*(\S+)\s+(\S+)\s+(\S+)\s+(\S+)\s+(\S+)\s+(\S+)\s+([^\s;]+)\s*;?\s*$")


def parse_chgtab(text: str, *, name: str) -> tuple[FloatArray, tuple[int, ...]]:
    """The hours x areas table of a scenario file's ``chgtab`` (area load replacements only).

    Returns ``(values, areas)``: row ``label - 1`` holds each area's total active load (MW).

    Raises:
        ProfileValidationError: a row that is not an area-load replacement, or a table with gaps.
    """
    body = text.split("chgtab = [", 1)[-1].split("];", 1)[0] if "chgtab = [" in text else ""
    issues: list[ValidationIssue] = []
    rows: list[tuple[int, int, float]] = []
    for number, line in enumerate(body.splitlines(), start=1):
        code = line.split("%", 1)[0].strip()
        if not code:
            continue
        match = _CHGTAB_ROW.match(code)
        fields = match.groups() if match else ()
        if len(fields) != 7 or fields[2] != "CT_TAREALOAD" or fields[4] != "CT_LOAD_ALL_P" or fields[5] != "CT_REP":
            issues.append(ValidationIssue("chgtab", "row", f"{name}: chgtab line {number} is not an area-load replacement"))
            continue
        rows.append((int(fields[0]), int(fields[3]), float(fields[6])))
    if not rows:
        issues.append(ValidationIssue("chgtab", "value", f"{name} holds no chgtab rows"))
    if issues:
        raise ProfileValidationError(issues[:_MAX_LISTED])
    table = np.array(rows, dtype=np.float64)
    areas = tuple(sorted({int(a) for a in table[:, 1]}))
    hours = int(table[:, 0].max())
    values = np.full((hours, len(areas)), np.nan)
    values[table[:, 0].astype(np.int64) - 1, np.searchsorted(areas, table[:, 1].astype(np.int64))] = table[:, 2]
    if np.isnan(values).any():
        raise ProfileValidationError([ValidationIssue("chgtab", "value", f"{name}: some hours lack some areas' loads")])
    return values, areas


@dataclass(frozen=True)
class _Scenario:
    file_name: str
    columns_kind: ProfileColumns  # ACTIVSg200's file names zones in the area column (its header says to swap them)
    year: int


_SCENARIOS = {
    "activsg2000": _Scenario("scenarios_ACTIVSg2000.m", ProfileColumns.AREA, 2016),
    "activsg200": _Scenario("scenarios_ACTIVSg200.m", ProfileColumns.ZONE, 2017),
}


def catalog_profile(grid_id: str, *, data_dir: Path | None = None) -> LoadProfile | None:
    """The hourly scenarios a catalog grid ships (ACTIVSg2000: 8 areas, 2016; ACTIVSg200: 6 zones,
    2017), or None when it ships none."""
    entry = catalog_entry(grid_id)
    scenario = _SCENARIOS.get(entry.grid_id)
    if scenario is None:
        return None
    path = (data_dir or matpower_data_dir()) / scenario.file_name
    values, columns = parse_chgtab(path.read_text(encoding="utf-8"), name=scenario.file_name)
    return LoadProfile(
        name=scenario.file_name,
        source=f"matpower:{scenario.file_name} (Birchfield et al., CC BY 4.0)",
        columns_kind=scenario.columns_kind,
        unit=ProfileUnit.MW,
        columns=columns,
        values=values,
        start=datetime(scenario.year, 1, 1),
    )


def system_shape(grid_id: str, *, data_dir: Path | None = None) -> LoadProfile | None:
    """A catalog grid's hourly profile as one system column in per unit of its case's load: the
    shape another grid borrows as a proxy. None when the grid ships no scenarios."""
    profile = catalog_profile(grid_id, data_dir=data_dir)
    if profile is None:
        return None
    path = (data_dir or matpower_data_dir()) / catalog_entry(grid_id).file_name
    case_mw = _case_load_mw(path.read_text(encoding="utf-8"))
    return LoadProfile(
        name=f"{profile.name} (system shape)",
        source=f"proxy: {profile.source}, total per unit of the case's {case_mw:,.0f} MW",
        columns_kind=ProfileColumns.SYSTEM,
        unit=ProfileUnit.PU,
        columns=(0,),
        values=profile.values.sum(axis=1, keepdims=True) / case_mw,
        start=profile.start,
    )


def _case_load_mw(text: str) -> float:
    from grid_models.catalog.matpower_text import parse_matpower_text

    bus = parse_matpower_text(text).bus
    return float(bus[:, 2].sum())  # PD


# --- uploaded CSV --------------------------------------------------------------------------------

_COLUMN = re.compile(r"^\s*(area|zone)[ _]?(\d{1,9})\s*$|^\s*(system)\s*$", re.IGNORECASE)
_DIRECTIVE = re.compile(r"^\s*#\s*(unit|year)\s*:\s*(\S+)\s*$", re.IGNORECASE)


@dataclass
class _Header:
    unit: ProfileUnit | None = None
    year: int | None = None


def _directives(lines: list[str], issues: list[ValidationIssue]) -> tuple[_Header, list[str]]:
    header, rest = _Header(), []
    for number, line in enumerate(lines, start=1):
        match = _DIRECTIVE.match(line)
        if match is None:
            if not line.lstrip().startswith("#"):
                rest.append(line)
            continue
        key, value = match.group(1).lower(), match.group(2).lower()
        if key == "unit" and value in ("mw", "pu"):
            header.unit = ProfileUnit(value)
        elif key == "year" and value.isdigit() and 1900 <= int(value) <= 2100:
            header.year = int(value)
        else:
            shown = value if len(value) <= 40 else value[:40] + "..."
            text = f"line {number}: '# {key[:40]}: {shown}' is not understood"
            issues.append(ValidationIssue("profile", key[:40], text, [number]))
    if header.unit is None:
        issues.append(ValidationIssue("profile", "unit", "say what the values are: add a line '# unit: MW' or '# unit: pu'"))
    return header, rest


def _columns(names: list[str], issues: list[ValidationIssue]) -> tuple[ProfileColumns | None, tuple[int, ...], bool]:
    timestamped = bool(names) and names[0].strip().lower() == "timestamp"
    kinds, numbers = set(), []
    for name in names[1:] if timestamped else names:
        match = _COLUMN.match(name)
        if match is None:
            issues.append(ValidationIssue("profile", "header", f"column '{name[:40]}' is not 'area N', 'zone N' or 'system'"))
            continue
        kinds.add((match.group(1) or match.group(3)).lower())
        numbers.append(int(match.group(2)) if match.group(2) else 0)
    if len(kinds) > 1:
        issues.append(
            ValidationIssue("profile", "header", "do not mix kinds of columns: all areas, all zones, or one system column")
        )
        return None, (), timestamped
    if not numbers:
        issues.append(ValidationIssue("profile", "header", "the header names no load column ('area 1', 'zone 3' or 'system')"))
        return None, (), timestamped
    if len(set(numbers)) != len(numbers):
        issues.append(ValidationIssue("profile", "header", "a column is named twice"))
    if len(numbers) > _MAX_COLUMNS:
        issues.append(ValidationIssue("profile", "header", f"{len(numbers)} columns; at most {_MAX_COLUMNS}"))
    kind = ProfileColumns(kinds.pop())
    if kind is ProfileColumns.SYSTEM and len(numbers) != 1:
        issues.append(ValidationIssue("profile", "header", "a system profile has one column"))
    return kind, tuple(numbers), timestamped


def _values(rows: list[list[str]], width: int, skip: int, issues: list[ValidationIssue]) -> FloatArray:
    values = np.full((len(rows), width), np.nan)
    for number, row in enumerate(rows, start=2):
        cells = row[skip:]
        if len(cells) != width:
            issues.append(
                ValidationIssue("profile", "row", f"row {number} has {len(cells)} values, the header {width}", [number])
            )
            continue
        try:
            values[number - 2] = [float(cell) for cell in cells]
        except ValueError:
            issues.append(ValidationIssue("profile", "value", f"row {number} holds a value that is not a number", [number]))
    bad = np.flatnonzero(~np.isfinite(values).all(axis=1) & np.isfinite(values).any(axis=1)) + 2
    issues.extend(ValidationIssue("profile", "value", f"row {r} holds NaN or an infinite value", [int(r)]) for r in bad[:10])
    negative = np.flatnonzero((values < 0).any(axis=1)) + 2
    issues.extend(ValidationIssue("profile", "value", f"row {r} holds a negative load", [int(r)]) for r in negative[:10])
    return values


def _start(rows: list[list[str]], timestamped: bool, year: int | None, issues: list[ValidationIssue]) -> datetime:
    default = datetime(year or (2016 if len(rows) == 8784 else 2017), 1, 1)
    if not timestamped or not rows:
        return default
    try:
        stamps = [datetime.fromisoformat(row[0].strip()) for row in rows]
    except (ValueError, IndexError):
        issues.append(ValidationIssue("profile", "timestamp", "timestamps must be ISO 8601, e.g. 2016-01-01T00:00"))
        return default
    steps = {b - a for a, b in itertools.pairwise(stamps)}
    if steps and steps != {timedelta(hours=1)}:
        issues.append(ValidationIssue("profile", "timestamp", "timestamps must step by exactly one hour"))
    return stamps[0].replace(tzinfo=None)


def parse_profile_csv(content: bytes, *, name: str = "profile.csv", max_bytes: int = MAX_PROFILE_BYTES) -> LoadProfile:
    """Read and validate an uploaded hourly profile (see module doc).

    Raises:
        ProfileValidationError: listing every problem found (the first 50, and how many more).
    """
    issues: list[ValidationIssue] = []
    if len(content) > max_bytes:
        raise ProfileValidationError([ValidationIssue("profile", "size", f"{len(content):,} bytes; at most {max_bytes:,}")])
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ProfileValidationError([ValidationIssue("profile", "encoding", "the file is not UTF-8 text")]) from None
    header, lines = _directives(text.splitlines(), issues)
    rows = [row for row in csv.reader(io.StringIO("\n".join(lines))) if any(cell.strip() for cell in row)]
    kind, columns, timestamped = _columns(rows[0] if rows else [], issues)
    data = rows[1:]
    if len(data) not in _HOURS:
        issues.append(ValidationIssue("profile", "rows", f"{len(data):,} hourly rows; a year has 8,760 or 8,784"))
    values = _values(data, len(columns), 1 if timestamped else 0, issues)
    start = _start(data, timestamped, header.year, issues)
    if issues or kind is None or header.unit is None:  # a missing kind or unit has its issue listed
        more = f" ({len(issues) - _MAX_LISTED} more not listed)" if len(issues) > _MAX_LISTED else ""
        raise ProfileValidationError(issues[:_MAX_LISTED], f"{issues[0].message}{more}" if more else None)
    return LoadProfile(name, "upload", kind, header.unit, columns, values, start)
