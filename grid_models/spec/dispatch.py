"""The dispatch part of a study request: which generators pick up the facility's demand, and by
which rule (the rules themselves: :mod:`grid_models.studies.dispatch`)."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

from pydantic import BaseModel, Field

from grid_models.facility import LENIENT, REQUEST_CONFIG

__all__ = ["DEFAULT_DISPATCHABLE_FUELS", "DispatchOptions", "DispatchRule"]

DEFAULT_DISPATCHABLE_FUELS = ("coal", "ng", "dfo", "rfo", "oil", "gas", "external")


class DispatchRule(StrEnum):
    """How the change in demand is shared among generators."""

    PARTICIPATION = "participation"
    MERIT_ORDER = "merit_order"


class DispatchOptions(BaseModel):
    """Generator pick-up rule of a study."""

    model_config = REQUEST_CONFIG

    rule: Annotated[DispatchRule, LENIENT] = DispatchRule.PARTICIPATION
    dispatchable_fuels: list[Annotated[str, Field(min_length=1, max_length=40)]] = Field(
        default_factory=lambda: list(DEFAULT_DISPATCHABLE_FUELS),
        min_length=1,
        max_length=50,
        description="generator fuels (MATPOWER genfuel) that follow load (at least one the grid has)",
    )
    same_area_only: bool = Field(default=False, description="only units in the POI's area pick up the demand")
