"""The progress budget of a study, shared by every runner (one process, local processes, the fleet).

A study reports ``progress(fraction, step)`` with ``fraction`` in [0, 1]. The phases own fixed
shares of it, so that a study's bar moves the same way wherever it runs: the plan up to
``PLAN_END``, the parts up to ``PARTS_END`` (in proportion to the parts solved), the merge and the
completion the rest.
"""

from __future__ import annotations

from collections.abc import Callable

__all__ = [
    "ANNUAL",
    "AREA",
    "COMPLETION",
    "ENVIRONMENT",
    "HOSTING",
    "HOSTING_SEARCH",
    "LOAD_LOSS",
    "MERGING",
    "PARTS_END",
    "PLAN_END",
    "STAGES",
    "WRITING",
    "ProgressCallback",
    "parts_fraction",
    "stage_fraction",
]

ProgressCallback = Callable[[float, str], None]

# phase 1, the plan: the base case, the stages, the study area, the N-0 and nose hosting search
STAGES = (0.05, 0.30)
AREA = 0.32
HOSTING_SEARCH = (0.33, 0.35)
PLAN_END = 0.35
# phase 2, the parts
PARTS_END = 0.85
# phase 3, merge and completion
MERGING = 0.86
COMPLETION = 0.88
HOSTING = 0.9
LOAD_LOSS = 0.95
ENVIRONMENT = 0.96
ANNUAL = 0.965
WRITING = 0.97


def stage_fraction(number: int, count: int) -> float:
    """Progress when stage ``number`` (1-based) of ``count`` starts solving."""
    low, high = STAGES
    return low + (high - low) * (number - 1) / max(count, 1)


def parts_fraction(done: int, total: int) -> float:
    """Progress when ``done`` of ``total`` parts are solved."""
    return PLAN_END + (PARTS_END - PLAN_END) * done / max(total, 1)
