"""The fixed vocabularies of a result: how much a finding matters, what it is about, how a
violation relates to the base case, and what kind of limit binds. Enums all the way down, so the
JSON schema (and the service's OpenAPI) lists every value the engine can write."""

from __future__ import annotations

from enum import StrEnum

__all__ = ["BindingKind", "FindingCategory", "Severity", "ViolationKind", "ViolationStatus"]


class Severity(StrEnum):
    """How much a finding matters, most severe first."""

    CRITICAL = "critical"  # the grid cannot serve the stage (no power-flow solution)
    VIOLATION = "violation"  # a planning criterion is violated because of the facility
    WARNING = "warning"  # pre-existing problems, numerical caveats, dispatch shortfalls
    INFO = "info"  # context: what the stage did


class FindingCategory(StrEnum):
    """What a finding is about."""

    SUMMARY = "summary"  # a stage's or a study's headline
    VOLTAGE = "voltage"  # an N-0 bus voltage outside its band
    THERMAL = "thermal"  # an N-0 branch above its normal rating
    CONVERGENCE = "convergence"  # no AC power-flow solution
    DISPATCH = "dispatch"  # generation without headroom for the demand
    REACTIVE = "reactive"  # generator reactive limits that did not settle
    CONTINGENCY = "contingency"  # N-1 outcomes
    HOSTING_CAPACITY = "hosting_capacity"  # the POI's limits
    LOAD_LOSS = "load_loss"  # the whole facility tripping
    EMISSIONS = "emissions"  # what the grid supply or the on-site units emit
    AIR_PERMIT = "air_permit"  # Clean Air Act thresholds of the on-site units
    WATER = "water"  # water on site and at the power plants
    ANNUAL = "annual"  # the year hour by hour: curtailment, firm size, headroom


class ViolationStatus(StrEnum):
    """A violation compared with the no-facility base case."""

    NEW = "new"  # not violated without the facility, and the facility moved it by at least the attribution threshold
    WORSENED = "worsened"  # violated without the facility, and the facility made it worse by at least the threshold
    MARGINAL = "marginal"  # newly beyond the limit, but the facility moved it by less than the threshold
    PRE_EXISTING = "pre-existing"

    @property
    def attributable(self) -> bool:
        """Whether the facility causes it (new or worsened)."""
        return self in (ViolationStatus.NEW, ViolationStatus.WORSENED)


class ViolationKind(StrEnum):
    """Which limit a monitored element crosses."""

    THERMAL = "thermal"
    LOW_VOLTAGE = "low_voltage"
    HIGH_VOLTAGE = "high_voltage"


class BindingKind(StrEnum):
    """What stops a hosting-capacity search: a crossed limit, or no AC solution."""

    THERMAL = "thermal"
    LOW_VOLTAGE = "low_voltage"
    HIGH_VOLTAGE = "high_voltage"
    NO_SOLUTION = "no_solution"  # the power flow (or an outage's) has no solution above the limit
    VOLTAGE_COLLAPSE = "voltage_collapse"  # N-1 secure up to the nose point, where N-0 itself ends

    @classmethod
    def of(cls, kind: ViolationKind) -> BindingKind:
        """The binding kind of a crossed limit."""
        return cls(kind.value)
