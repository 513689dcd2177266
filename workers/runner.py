"""What a worker does with a study: claim, load the grid, run with progress and a heartbeat, store.

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
import os
import socket
import tempfile
import threading
import time
from datetime import timedelta
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

from celery.exceptions import SoftTimeLimitExceeded

from grid_models.errors import GridModelError, StudyCanceled
from impact_service.settings import Settings
from impact_service.store import repository as repo
from impact_service.store.db import session_scope
from impact_service.store.models import StudyStatus, utcnow
from workers.client import send_run_study

if TYPE_CHECKING:
    from grid_models.grid import Grid
    from grid_models.results import StudyResult

__all__ = ["run_study_job", "sweep", "warm_up", "worker_name"]

logger = logging.getLogger(__name__)
_PROGRESS_EVERY_S = 0.5


def worker_name() -> str:
    """host:pid of this worker process."""
    return f"{socket.gethostname()}:{os.getpid()}"


@lru_cache(maxsize=4)
def _catalog_grid(grid_id: str, cache_dir: str) -> Grid:
    from grid_models.catalog.registry import load_catalog_grid

    return load_catalog_grid(grid_id, cache_dir=Path(cache_dir))


def _load_grid(settings: Settings, grid_key: str, tenant_id: str) -> Grid:
    kind, _, grid_id = grid_key.partition(":")
    if kind == "catalog":
        return _catalog_grid(grid_id, str(settings.cache_dir))
    from grid_models.catalog.uploads import load_upload

    with session_scope(settings.database()) as session:
        upload = repo.get_upload(session, upload_id=grid_id, tenant_id=tenant_id)
        if upload is None:
            raise GridModelError(f"the uploaded grid {grid_id} no longer exists")
        content, name = upload.content, upload.name
    return load_upload(content, grid_id=grid_id, filename=name, max_bytes=max(len(content), 1))


class _Beat:
    """The heartbeat thread and the progress callback of one claimed study."""

    def __init__(self, settings: Settings, study_id: str, token: str) -> None:
        self.settings, self.study_id, self.token = settings, study_id, token
        self.state = "ok"
        self._stop = threading.Event()
        self._last_write = 0.0
        self._thread = threading.Thread(target=self._run, name=f"heartbeat-{study_id}", daemon=True)

    def __enter__(self) -> _Beat:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def _write(self, fraction: float | None = None, step: str | None = None) -> None:
        try:
            with session_scope(self.settings.database()) as session:
                state = repo.heartbeat(session, study_id=self.study_id, token=self.token, fraction=fraction, step=step)
            if state != "ok":
                self.state = state
        except Exception as exc:  # a missed heartbeat is not fatal; the next one may get through
            logger.warning("heartbeat_failed study_id=%s error=%s", self.study_id, exc)

    def _run(self) -> None:
        while not self._stop.wait(self.settings.heartbeat_s):
            self._write()

    def progress(self, fraction: float, step: str) -> None:
        """Engine callback: record progress (at most every 0.5 s) and stop when asked to."""
        now = time.monotonic()
        if now - self._last_write >= _PROGRESS_EVERY_S or fraction >= 1.0:
            self._last_write = now
            self._write(fraction, step)
        if self.state == "cancel":
            raise StudyCanceled("canceled by the user")
        if self.state == "lost":
            raise StudyCanceled("this worker lost its claim on the study (it was requeued)")


def _netcdf_bytes(result: StudyResult) -> bytes:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "result.nc"
        result.dataset.to_netcdf(path)
        return path.read_bytes()


def _final_status(result: StudyResult) -> StudyStatus:
    solved = result.base_case.converged and all(stage.converged for stage in result.stages)
    return StudyStatus.SUCCEEDED if solved else StudyStatus.PARTIALLY_SUCCEEDED


def _execute(settings: Settings, study_id: str, token: str) -> None:
    from grid_models.engine import run_study
    from grid_models.spec import StudySpec

    with session_scope(settings.database()) as session:
        study = repo.get_study(session, study_id=study_id)
        assert study is not None
        spec, grid_key, tenant_id = StudySpec.model_validate(study.spec), study.grid_key, study.tenant_id
    with _Beat(settings, study_id, token) as beat:
        beat.progress(0.0, "loading the grid")
        result = run_study(spec, _load_grid(settings, grid_key, tenant_id), progress=beat.progress)
        payload, netcdf = result.model_dump_json(), _netcdf_bytes(result)
    with session_scope(settings.database()) as session:
        stored = repo.finish_study(
            session, study_id=study_id, token=token, status=_final_status(result), result_json=payload, netcdf=netcdf
        )
    logger.info("study_finished study_id=%s stored=%s", study_id, stored)


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
    try:
        _execute(settings, study_id, token)
    except StudyCanceled as exc:
        _fail(settings, study_id, token, "study_canceled", exc.message, status=StudyStatus.CANCELED)
    except SoftTimeLimitExceeded:
        _fail(
            settings,
            study_id,
            token,
            "time_limit",
            "the study ran past its time limit; run fewer analyses or a smaller study area",
        )
    except GridModelError as exc:
        _fail(settings, study_id, token, exc.code, exc.message)
    except (MemoryError, ValueError, RuntimeError, KeyError, IndexError) as exc:  # engine bugs: fail with a trace in the log
        logger.exception("study_internal_error study_id=%s", study_id)
        _fail(settings, study_id, token, "internal_error", f"{type(exc).__name__}: {exc}"[:2000])


def _fail(
    settings: Settings, study_id: str, token: str, code: str, message: str, *, status: StudyStatus = StudyStatus.FAILED
) -> None:
    with session_scope(settings.database()) as session:
        repo.fail_study(session, study_id=study_id, code=code, message=message, token=token, status=status)
    logger.info("study_ended study_id=%s status=%s code=%s", study_id, status.value, code)


def sweep(settings: Settings) -> dict[str, int]:
    """Requeue studies whose worker stopped beating (or fail them after ``max_attempts``) and re-send
    studies queued too long (their message may be lost; a duplicate is a no-op)."""
    now = utcnow()
    resend: list[str] = []
    counts = {"requeued": 0, "failed": 0, "resent": 0}
    with session_scope(settings.database()) as session:
        for study in repo.stale_running(session, heartbeat_before=now - timedelta(seconds=settings.stale_after_s)):
            if study.attempts >= settings.max_attempts:
                repo.fail_study(
                    session,
                    study_id=study.id,
                    code="worker_lost",
                    message=f"the worker died {study.attempts} times running this study",
                )
                counts["failed"] += 1
            else:
                repo.requeue(session, study=study, reason=f"worker {study.worker} stopped")
                resend.append(study.id)
                counts["requeued"] += 1
        for study in repo.queued_before(session, queued_before=now - timedelta(seconds=settings.requeue_after_s)):
            study.queued_at = now
            resend.append(study.id)
            counts["resent"] += 1
    for study_id in resend:
        send_run_study(settings.broker(), study_id)
    if any(counts.values()):
        logger.info("sweep %s", counts)
    return counts


def warm_up(settings: Settings) -> None:
    """Import the engine and run a tiny study, so the first real study pays no import or cache cost."""
    started = time.perf_counter()
    try:
        from grid_models.engine import run_study
        from grid_models.spec import StudySpec

        grid = _catalog_grid("activsg200", str(settings.cache_dir))
        spec = StudySpec.model_validate(
            {"grid": {"catalog": "activsg200"}, "site": {"bus": int(grid.net.bus.index[0])}, "stages": [{"mw": 1}]}
        )
        run_study(spec, grid)
    except Exception as exc:  # warm-up must never stop a worker from starting
        logger.warning("warm_up_failed error=%s", exc)
    logger.info("worker_warm duration_s=%.2f", time.perf_counter() - started)
