"""Task and queue names: the API sends tasks by these names and never imports the task code."""

from __future__ import annotations

__all__ = ["MERGE_STUDY", "QUEUE_LIGHT", "QUEUE_STUDIES", "RUN_PART", "RUN_STUDY", "SWEEP"]

RUN_STUDY = "gridimpact.run_study"
RUN_PART = "gridimpact.run_part"  # one slice of a fanned-out study
MERGE_STUDY = "gridimpact.merge_study"  # joins the slices and finishes the study
SWEEP = "gridimpact.sweep"

QUEUE_STUDIES = "studies"  # heavy: one study per worker process at a time
QUEUE_LIGHT = "light"  # housekeeping (the sweeper)
