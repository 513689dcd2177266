"""Send tasks by name (used by the API, the sweeper and the fan-out; imports no task code, no engine).

Every message carries ids only, and the soft and hard time limits for the grid's size."""

from __future__ import annotations

from functools import cache

from celery import Celery

from impact_service.queue.limits import time_limits
from impact_service.queue.names import MERGE_STUDY, QUEUE_LIGHT, QUEUE_STUDIES, RUN_PART, RUN_STUDY, SWEEP

__all__ = ["producer", "queue_depth", "send_merge", "send_run_part", "send_run_study", "send_sweep"]


@cache
def producer(broker_url: str) -> Celery:
    """A Celery app used only to publish messages."""
    app = Celery("gridimpact-producer", broker=broker_url)
    app.conf.update(task_serializer="json", accept_content=["json"], broker_connection_retry_on_startup=False)
    app.conf.broker_transport_options = {"max_retries": 2, "interval_start": 0, "interval_step": 0.5, "interval_max": 1}
    return app


def _send(broker_url: str, name: str, argument: str, buses: int | None) -> str:
    soft, hard = time_limits(buses)
    result = producer(broker_url).send_task(
        name,
        args=[argument],
        queue=QUEUE_STUDIES,
        soft_time_limit=soft,
        time_limit=hard,
        retry=True,
        retry_policy={"max_retries": 2},
    )
    return str(result.id)


def send_run_study(broker_url: str, study_id: str, *, buses: int | None = None) -> str:
    """Queue a study (``buses``: size of its grid, for the time limits). Returns the task id."""
    return _send(broker_url, RUN_STUDY, study_id, buses)


def send_run_part(broker_url: str, part_id: str, *, buses: int | None = None) -> str:
    """Queue one part of a fanned-out study. Returns the task id."""
    return _send(broker_url, RUN_PART, part_id, buses)


def send_merge(broker_url: str, study_id: str, *, buses: int | None = None) -> str:
    """Queue the merge of a fanned-out study whose parts are all done. Returns the task id."""
    return _send(broker_url, MERGE_STUDY, study_id, buses)


def send_sweep(broker_url: str) -> str:
    """Ask for a sweep now (the beat schedule sends one every ``sweep_every_s`` anyway)."""
    return str(producer(broker_url).send_task(SWEEP, queue=QUEUE_LIGHT, retry=True, retry_policy={"max_retries": 2}).id)


def queue_depth(broker_url: str) -> int:
    """Messages waiting in the studies queue (Redis list length)."""
    with producer(broker_url).connection_for_write() as connection:
        client = connection.default_channel.client
        return int(client.llen(QUEUE_STUDIES))
