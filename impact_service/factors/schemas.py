"""Response models of /v1/factors."""

from __future__ import annotations

from pydantic import BaseModel

__all__ = ["FactorRow", "FactorTables"]


class FactorRow(BaseModel):
    """One row of a factor table."""

    key: str
    value: str
    unit: str
    source: str
    year: int | None
    mark: str


class FactorTables(BaseModel):
    """Every factor the environmental analyses use; override a row per study with
    ``analyses.emissions.factor_overrides`` (or ``onsite_generation.factor_overrides``) as ``{"table.key": value}``."""

    version: str
    digests: dict[str, str]
    tables: dict[str, list[FactorRow]]
