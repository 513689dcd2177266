"""The Celery application of the worker fleet (``celery -A workers.celery_app worker``).

Reliability settings: late acknowledgement and rejection on worker loss (a study whose worker
dies is redelivered), prefetch 1 (a worker holds one study at a time), JSON only, no result
backend (the database is the system of record), a Redis visibility timeout above the largest
hard time limit, and the sweeper on a beat schedule.
"""

from __future__ import annotations

from celery import Celery

from impact_service.queue.limits import VISIBILITY_TIMEOUT_S
from impact_service.queue.names import MERGE_STUDY, QUEUE_LIGHT, QUEUE_STUDIES, RUN_PART, RUN_STUDY, SWEEP
from impact_service.settings import Settings, get_settings

__all__ = ["app", "make_celery"]


def make_celery(settings: Settings) -> Celery:
    """The worker app for ``settings`` (broker from IMPACT_REDIS_URL)."""
    app = Celery("gridimpact", broker=settings.broker(), include=["workers.tasks"])
    app.conf.update(
        task_serializer="json",
        accept_content=["json"],
        task_ignore_result=True,
        result_backend=None,
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        task_default_queue=QUEUE_STUDIES,
        task_routes={name: {"queue": QUEUE_STUDIES} for name in (RUN_STUDY, RUN_PART, MERGE_STUDY)}
        | {SWEEP: {"queue": QUEUE_LIGHT}},
        broker_transport_options={"visibility_timeout": VISIBILITY_TIMEOUT_S},
        broker_connection_retry_on_startup=True,
        worker_hijack_root_logger=False,
        # a new pool process only starts (the warm-up runs before the fork): Celery's 4 s default
        # to hear from it is still short on a machine busy with studies
        worker_proc_alive_timeout=30.0,
        beat_schedule={"sweep": {"task": SWEEP, "schedule": settings.sweep_every_s, "options": {"queue": QUEUE_LIGHT}}},
    )
    return app


app = make_celery(get_settings())
