"""The error tree of the study engine.

::

    GridModelError                 every expected failure of the engine; has ``code`` and ``message``
    ├── GridNotFoundError          unknown catalog id
    ├── GridValidationError        a grid file or net failed validation; carries ``issues``
    ├── BusNotFoundError           the point of interconnection does not exist in the grid
    ├── StudySpecError             the study request is inconsistent with the grid
    ├── SolverError                no solver could run the case (not a non-convergence: that is a finding)
    ├── PlanMismatchError          a study's parts, solved apart, do not fit together (mixed versions, corrupt part)
    ├── StudyCanceled              the caller's progress callback asked the study to stop
    └── InternalError              an invariant of the engine does not hold: a bug, never the caller's doing

Non-convergence of a power flow is not an exception: it is data in the result (a finding), so a
study always returns what it could compute.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from dataclasses import field as dataclass_field
from typing import Any

__all__ = [
    "BusNotFoundError",
    "GridModelError",
    "GridNotFoundError",
    "GridValidationError",
    "InternalError",
    "PlanMismatchError",
    "SolverError",
    "StudyCanceled",
    "StudySpecError",
    "ValidationIssue",
]


@dataclass(frozen=True)
class ValidationIssue:
    """One problem found in a grid: which element and field, which ids, and how to fix it."""

    element: str
    field: str
    message: str
    ids: list[int | str] = dataclass_field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """Plain-JSON form of the issue."""
        return asdict(self)


class GridModelError(Exception):
    """Base class of every expected engine failure."""

    code = "grid_model_error"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def to_dict(self) -> dict[str, Any]:
        """Plain-JSON form: ``code``, ``message`` and any extra detail."""
        return {"code": self.code, "message": self.message}


class GridNotFoundError(GridModelError):
    """The requested catalog grid does not exist."""

    code = "grid_not_found"


class GridValidationError(GridModelError):
    """A grid failed validation; ``issues`` lists every problem found."""

    code = "grid_invalid"

    def __init__(self, issues: list[ValidationIssue], message: str | None = None) -> None:
        self.issues = list(issues)
        first = self.issues[0].message if self.issues else "the grid is invalid"
        more = f" (and {len(self.issues) - 1} more problems)" if len(self.issues) > 1 else ""
        super().__init__(message or f"{first}{more}")

    def to_dict(self) -> dict[str, Any]:
        """Plain-JSON form including every issue."""
        return {**super().to_dict(), "issues": [issue.to_dict() for issue in self.issues]}

    def __reduce__(self) -> tuple[Any, ...]:
        """Pickle with the issues (an error raised in a forked outage process crosses to the parent)."""
        return (type(self), (self.issues, self.message))


class BusNotFoundError(GridModelError):
    """The point of interconnection names a bus the grid does not have."""

    code = "bus_not_found"


class StudySpecError(GridModelError):
    """The study request cannot be applied to this grid."""

    code = "study_spec_invalid"


class SolverError(GridModelError):
    """No power-flow solver could run the case (not a non-convergence)."""

    code = "solver_error"


class PlanMismatchError(GridModelError):
    """Parts of a study solved in different processes do not fit together: a worker computed another
    plan (different gridimpact or library versions in the fleet) or a stored part is unreadable."""

    code = "plan_mismatch"


class StudyCanceled(GridModelError):
    """The progress callback asked the running study to stop."""

    code = "study_canceled"


class InternalError(GridModelError):
    """An invariant of the engine does not hold (a part missing from a merge, two checks of one
    rule that disagree): a bug to report, not something the caller can fix."""

    code = "internal_error"
