"""What a worker does with a study: claim, load the grid, plan, then either solve the outages
itself or fan them out to the fleet (:mod:`workers.fanout`), and store the result.

- A study is claimed atomically; a duplicate or redelivered message for a study another live
  worker holds is a no-op, and only the holder of the claim can write progress or the result.
- A heartbeat thread records liveness every ``heartbeat_s`` while the engine runs, and reads the
  cancel flag; the progress callback raises ``StudyCanceled`` at the next checkpoint.
- Engine errors (invalid grid, unknown bus, ...) fail the study with their code and message;
  database and broker errors propagate so the task is retried (and the sweeper requeues a study
  whose worker died).
"""

from __future__ import annotations

import logging
import time
from datetime import timedelta

from impact_service.queue.client import send_run_study
from impact_service.queue.dispatch import dispatch_queued
from impact_service.settings import Settings
from impact_service.store import repository as repo
from impact_service.store.db import session_scope
from impact_service.store.models import utcnow
from workers.execution import Beat, ClaimLost, catalog_grid, plan_for, store_result, study_errors, worker_name
from workers.fanout import fan_out, sweep_fanouts
from workers.liveness import expire_dead_local_claims

__all__ = ["run_study_job", "sweep", "warm_up"]

logger = logging.getLogger(__name__)


def _execute(settings: Settings, study_id: str, token: str) -> None:
    from grid_models.pipeline import finish_here
    from grid_models.spec import StudySpec

    with session_scope(settings.database()) as session:
        study = repo.get_study(session, study_id=study_id)
        if study is None:
            raise ClaimLost(f"study {study_id} was deleted after this worker claimed it")
        spec, grid_key, tenant_id = StudySpec.model_validate(study.spec), study.grid_key, study.tenant_id
    with Beat(settings, study_id, token) as beat:
        beat.progress(0.0, "loading the grid")
        # the hosting-capacity search waits for the completion: a fanned-out study starts its parts sooner
        plan = plan_for(settings, spec, grid_key, tenant_id, progress=beat.progress)
        if fan_out(settings, study_id=study_id, token=token, plan=plan):
            return
        result = finish_here(plan, progress=beat.progress)
    store_result(settings, study_id, token, result)


def run_study_job(study_id: str, *, task_id: str, redelivered: bool, settings: Settings) -> None:
    """Claim and run one study (see module doc)."""
    with session_scope(settings.database()) as session:
        token = repo.claim_study(
            session,
            study_id=study_id,
            worker=worker_name(),
            task_id=task_id,
            redelivered=redelivered,
            stale_after=timedelta(seconds=settings.stale_after_s),
        )
    if token is None:
        logger.info("study_not_claimable study_id=%s task_id=%s redelivered=%s", study_id, task_id, redelivered)
        return
    logger.info("study_claimed study_id=%s task_id=%s worker=%s", study_id, task_id, worker_name())
    _dispatch_next(settings)  # this tenant's waiting place in the broker is free: its next study goes
    try:
        with study_errors(settings, study_id, token):
            _execute(settings, study_id, token)
    finally:
        _dispatch_next(settings)  # a running place is free (with tenant_max_running)


def _dispatch_next(settings: Settings) -> None:
    try:
        dispatch_queued(settings)
    except Exception as exc:  # noqa: BLE001 - the sweeper and the next claim try again; this study goes on
        logger.warning("dispatch_failed error=%s", exc)


def sweep(settings: Settings) -> dict[str, int]:
    """Requeue studies whose worker stopped beating (or fail them after ``max_attempts``), re-send
    studies queued too long (their message may be lost; a duplicate is a no-op), and sweep the
    parts of fanned-out studies."""
    with session_scope(settings.database()) as session:
        expire_dead_local_claims(session)
    now = utcnow()
    resend: list[tuple[str, int | None]] = []
    counts = {"requeued": 0, "failed": 0, "resent": 0}
    with session_scope(settings.database()) as session:
        for study in repo.stale_running(session, heartbeat_before=now - timedelta(seconds=settings.stale_after_s)):
            if study.attempts >= settings.max_attempts:
                message = f"the worker died {study.attempts} times running this study"
                repo.fail_study(session, study_id=study.id, code="worker_lost", message=message)
                counts["failed"] += 1
            else:
                repo.requeue(study=study, reason=f"worker {study.worker} stopped")
                resend.append((study.id, repo.grid_bus_count(session, key=study.grid_key)))
                counts["requeued"] += 1
        for study in repo.queued_before(session, queued_before=now - timedelta(seconds=settings.requeue_after_s)):
            study.queued_at = now
            resend.append((study.id, repo.grid_bus_count(session, key=study.grid_key)))
            counts["resent"] += 1
    for study_id, buses in resend:
        task_id = send_run_study(settings.broker(), study_id, buses=buses)
        with session_scope(settings.database()) as session:
            repo.record_sent(session, study_id=study_id, task_id=task_id)
    counts["resent"] += dispatch_queued(settings)  # held back for fairness, or their send failed (broker down)
    for key, value in sweep_fanouts(settings).items():  # both count "failed": add, do not overwrite
        counts[key] = counts.get(key, 0) + value
    if any(counts.values()):
        logger.info("sweep %s", counts)
    return counts


def warm_up(settings: Settings) -> None:
    """Import the engine and run a tiny study, so the first real study pays no import or cache cost."""
    started = time.perf_counter()
    try:
        from grid_models.pipeline import run_study
        from grid_models.spec import StudySpec

        grid = catalog_grid("activsg200", str(settings.cache_dir))
        spec = StudySpec.model_validate(
            {"grid": {"catalog": "activsg200"}, "site": {"bus": int(grid.net.bus.index[0])}, "stages": [{"mw": 1}]}
        )
        run_study(spec, grid)
    except Exception as exc:  # noqa: BLE001 - warm-up must never stop a worker from starting
        logger.warning("warm_up_failed error=%s", exc)
    logger.info("worker_warm duration_s=%.2f", time.perf_counter() - started)
