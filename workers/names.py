"""Task and queue names: the API sends tasks by these names and never imports the task code."""

from __future__ import annotations

__all__ = ["QUEUE_LIGHT", "QUEUE_STUDIES", "RUN_STUDY", "SWEEP"]

RUN_STUDY = "gridimpact.run_study"
SWEEP = "gridimpact.sweep"

QUEUE_STUDIES = "studies"  # heavy: one study per worker process at a time
QUEUE_LIGHT = "light"  # housekeeping (the sweeper)
