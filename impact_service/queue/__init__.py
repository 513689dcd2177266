"""The task queue as the service sees it: task and queue names, time limits, and sending a task
by name. The API, the sweeper and the fan-out send through here; the task code (``workers``)
consumes the same names, so the service never imports it."""

from __future__ import annotations

from impact_service.queue.client import producer, queue_depth, send_merge, send_run_part, send_run_study
from impact_service.queue.limits import LARGEST_HARD_LIMIT_S, VISIBILITY_TIMEOUT_S, time_limits
from impact_service.queue.names import MERGE_STUDY, QUEUE_LIGHT, QUEUE_STUDIES, RUN_PART, RUN_STUDY, SWEEP

__all__ = [
    "LARGEST_HARD_LIMIT_S",
    "MERGE_STUDY",
    "QUEUE_LIGHT",
    "QUEUE_STUDIES",
    "RUN_PART",
    "RUN_STUDY",
    "SWEEP",
    "VISIBILITY_TIMEOUT_S",
    "producer",
    "queue_depth",
    "send_merge",
    "send_run_part",
    "send_run_study",
    "time_limits",
]
