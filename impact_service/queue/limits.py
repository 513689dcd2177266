"""Per-study time limits (no Celery import: the API uses them when it sends a study)."""

from __future__ import annotations

__all__ = ["LARGEST_HARD_LIMIT_S", "VISIBILITY_TIMEOUT_S", "time_limits"]

LARGEST_HARD_LIMIT_S = 5 * 3600
VISIBILITY_TIMEOUT_S = 6 * 3600  # Redis redelivers an unacknowledged message after this: above every hard limit


def time_limits(buses: int | None) -> tuple[int, int]:
    """Soft and hard time limits (s) for a study, part or merge on a grid of ``buses`` buses
    (the largest limits when unknown). The soft limit fails the study with a message; the hard
    one kills a worker that ignored it."""
    soft = min(900 + int(0.1 * (buses if buses is not None else 10**6)), LARGEST_HARD_LIMIT_S - 300)
    return soft, soft + 300
