"""Thin Celery tasks: all the work is in ``workers.runner``."""

from __future__ import annotations

import logging
from typing import Any

from celery import signals

from impact_service.queue.names import MERGE_STUDY, RUN_PART, RUN_STUDY, SWEEP
from impact_service.settings import get_settings
from workers import fanout, runner
from workers.celery_app import app
from workers.execution import INFRASTRUCTURE_ERRORS
from workers.liveness import die_with_parent, remember_main_process

logger = logging.getLogger(__name__)

_INFRASTRUCTURE = INFRASTRUCTURE_ERRORS


@app.task(name=RUN_STUDY, bind=True, autoretry_for=_INFRASTRUCTURE, retry_backoff=2, retry_backoff_max=60, max_retries=8)
def run_study_task(self: Any, study_id: str) -> None:
    """Claim and run one study (a duplicate or redelivered message for a claimed study is a no-op)."""
    delivery = self.request.delivery_info or {}
    runner.run_study_job(
        study_id, task_id=str(self.request.id), redelivered=bool(delivery.get("redelivered")), settings=get_settings()
    )


@app.task(name=RUN_PART, bind=True, autoretry_for=_INFRASTRUCTURE, retry_backoff=2, retry_backoff_max=60, max_retries=8)
def run_part_task(self: Any, part_id: str) -> None:
    """Claim, solve and store one part of a fanned-out study (a duplicate message is a no-op)."""
    delivery = self.request.delivery_info or {}
    fanout.run_part_job(
        part_id, task_id=str(self.request.id), redelivered=bool(delivery.get("redelivered")), settings=get_settings()
    )


@app.task(name=MERGE_STUDY, autoretry_for=_INFRASTRUCTURE, retry_backoff=2, retry_backoff_max=60, max_retries=8)
def merge_study_task(study_id: str) -> None:
    """Join the parts of a fanned-out study and store its result (a duplicate message is a no-op)."""
    fanout.merge_job(study_id, settings=get_settings())


@app.task(name=SWEEP, autoretry_for=_INFRASTRUCTURE, max_retries=2)
def sweep_task() -> None:
    """Requeue studies whose message was lost or whose worker died."""
    runner.sweep(get_settings())


@signals.worker_process_init.connect
def _bound_to_the_worker(**_: Any) -> None:
    """A pool process dies with its worker's main process (see :mod:`workers.liveness`)."""
    die_with_parent()


@signals.worker_init.connect
def _warm_up(**_: Any) -> None:
    """Import the engine and prepare the small catalog grids before the first study arrives: once,
    in the worker's main process before it forks its pool, so every pool process (a replacement for
    one that died included) starts warm at once. Warming up in each new pool process takes
    seconds, and Celery kills a pool process that is not up within ``worker_proc_alive_timeout``."""
    remember_main_process()
    runner.warm_up(get_settings())
