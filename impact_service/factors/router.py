"""/v1/factors: the emission, permit and water factor tables with their sources."""

from __future__ import annotations

from fastapi import APIRouter

from grid_models.factors import TABLES, TABLES_VERSION, table, table_digests
from impact_service.deps import TenantDep
from impact_service.errors import ERROR_RESPONSES
from impact_service.factors.schemas import FactorRow, FactorTables

router = APIRouter(prefix="/v1/factors", tags=["factors"], responses=ERROR_RESPONSES)


@router.get("", response_model=FactorTables)
def factors(_tenant: TenantDep) -> FactorTables:
    """The factor tables (value, unit, source, year, mark of every row)."""
    rows = {
        name: [
            FactorRow(key=f.key, value=f.raw, unit=f.unit, source=f.source, year=f.year, mark=f.mark)
            for f in table(name).values()
        ]
        for name in TABLES
    }
    return FactorTables(version=TABLES_VERSION, digests=table_digests(), tables=rows)
