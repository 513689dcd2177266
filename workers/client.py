"""Send tasks by name (used by the API and the sweeper; imports no task code, no engine)."""

from __future__ import annotations

from functools import cache

from celery import Celery

from workers.names import QUEUE_STUDIES, RUN_STUDY

__all__ = ["producer", "queue_depth", "send_run_study"]


@cache
def producer(broker_url: str) -> Celery:
    """A Celery app used only to publish messages."""
    app = Celery("gridimpact-producer", broker=broker_url)
    app.conf.update(task_serializer="json", accept_content=["json"], broker_connection_retry_on_startup=False)
    app.conf.broker_transport_options = {"max_retries": 2, "interval_start": 0, "interval_step": 0.5, "interval_max": 1}
    return app


def send_run_study(broker_url: str, study_id: str) -> str:
    """Queue a study; the message carries its id only. Returns the task id."""
    result = producer(broker_url).send_task(
        RUN_STUDY, args=[study_id], queue=QUEUE_STUDIES, retry=True, retry_policy={"max_retries": 2}
    )
    return str(result.id)


def queue_depth(broker_url: str) -> int:
    """Messages waiting in the studies queue (Redis list length)."""
    with producer(broker_url).connection_for_write() as connection:
        client = connection.default_channel.client
        return int(client.llen(QUEUE_STUDIES))
