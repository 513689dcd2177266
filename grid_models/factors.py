"""The emission, permit and water factor tables (``grid_models/data/*.csv``).

Every number the environmental analyses use is a row with ``key, value, unit, source, year, mark``
(marks as in REFERENCE.md: S sourced, S2 secondary transcription, K standard's content as commonly
published, C computed). :data:`TABLES_VERSION` names this set of tables; every result records it
with a digest of each table, so a reader can tell which numbers produced it.
"""

from __future__ import annotations

import csv
import hashlib
from dataclasses import dataclass
from datetime import date
from functools import cache
from importlib import resources

__all__ = [
    "KG_PER_LB",
    "LB_PER_SHORT_TON",
    "LITERS_PER_GALLON",
    "METRIC_TONNES_PER_SHORT_TON",
    "TABLES",
    "TABLES_VERSION",
    "Factor",
    "FactorSet",
    "factor",
    "table",
    "table_digests",
]

TABLES_VERSION = "2026.11"  # bump when a row changes
TABLES = ("fuel_co2", "heat_rates", "technology_rates", "egrid", "turbines", "thresholds", "water")

LB_PER_SHORT_TON = 2000.0  # definition of the US short ton
KG_PER_LB = 0.45359237  # definition of the avoirdupois pound (exact)
METRIC_TONNES_PER_SHORT_TON = LB_PER_SHORT_TON * KG_PER_LB / 1000.0  # 0.90718474: greenhouse-gas reports use metric tonnes
LITERS_PER_GALLON = 3.785411784  # definition of the US liquid gallon


@dataclass(frozen=True)
class Factor:
    """One row of a factor table."""

    table: str
    key: str
    raw: str
    unit: str
    source: str
    year: int | None
    mark: str

    @property
    def value(self) -> float:
        """The number."""
        return float(self.raw)

    def as_date(self) -> date:
        """The value as an ISO date (for the rows whose unit is ``date``)."""
        return date.fromisoformat(self.raw)

    def cite(self) -> str:
        """``value unit (source, year)`` for findings and the report."""
        year = f", {self.year}" if self.year else ""
        return f"{self.raw} {self.unit} ({self.source}{year})"


def _text(name: str) -> str:
    return resources.files("grid_models.data").joinpath(f"{name}.csv").read_text(encoding="utf-8")


@cache
def table(name: str) -> dict[str, Factor]:
    """All rows of a table by key.

    Raises:
        KeyError: for a table that does not exist.
    """
    if name not in TABLES:
        raise KeyError(f"no factor table {name!r}; tables: {', '.join(TABLES)}")
    rows = csv.DictReader(_text(name).splitlines())
    return {
        row["key"]: Factor(
            table=name,
            key=row["key"],
            raw=row["value"],
            unit=row["unit"],
            source=row["source"],
            year=int(row["year"]) if row["year"] else None,
            mark=row["mark"],
        )
        for row in rows
    }


def factor(name: str, key: str) -> Factor:
    """One row.

    Raises:
        KeyError: with the keys the table has.
    """
    rows = table(name)
    if key not in rows:
        raise KeyError(f"table {name!r} has no row {key!r}; rows: {', '.join(rows)}")
    return rows[key]


@cache
def table_digests() -> dict[str, str]:
    """SHA-256 (first 16 hex digits) of each table's text, for provenance."""
    return {name: hashlib.sha256(_text(name).encode()).hexdigest()[:16] for name in TABLES}


class FactorSet:
    """The tables with a study's overrides (``{"table.key": value}``) on top."""

    def __init__(self, overrides: dict[str, float] | None = None) -> None:
        self.overrides = dict(overrides or {})
        for name in self.overrides:
            table_name, _, key = name.partition(".")
            factor(table_name, key)  # raises KeyError naming the valid keys

    def value(self, table_name: str, key: str) -> float:
        """The study's override, or the table's value."""
        override = self.overrides.get(f"{table_name}.{key}")
        return override if override is not None else factor(table_name, key).value

    def rows(self, table_name: str) -> dict[str, Factor]:
        """The rows of a table (to test whether a key exists)."""
        return table(table_name)

    def cite(self, table_name: str, key: str) -> str:
        """Where the value used comes from."""
        name = f"{table_name}.{key}"
        row = factor(table_name, key)
        if name in self.overrides:
            return f"{self.overrides[name]:g} {row.unit} (study override of {row.cite()})"
        return row.cite()
