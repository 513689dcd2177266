"""What every study task shares: the worker's name, grid loading, the heartbeat and progress
callback, storing a result, and turning engine errors into a failed study."""

from __future__ import annotations

import logging
import os
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

from celery.exceptions import SoftTimeLimitExceeded, TaskPredicate
from kombu.exceptions import OperationalError as BrokerError
from redis.exceptions import ConnectionError as RedisConnectionError
from sqlalchemy.exc import OperationalError as DatabaseError

from grid_models.errors import GridModelError, StudyCanceled
from impact_service.node import node_name
from impact_service.settings import Settings
from impact_service.store import parts as part_repo
from impact_service.store import repository as repo
from impact_service.store.db import session_scope
from impact_service.store.models import ClaimState, StudyStatus

if TYPE_CHECKING:
    from grid_models.catalog.profiles import LoadProfile
    from grid_models.grid import Grid
    from grid_models.pipeline import ProgressCallback, StudyPlan
    from grid_models.results import StudyResult
    from grid_models.spec import StudySpec

__all__ = [
    "Beat",
    "ClaimLost",
    "catalog_grid",
    "fail",
    "load_grid",
    "load_profile",
    "plan_for",
    "store_result",
    "study_errors",
    "worker_name",
]

logger = logging.getLogger(__name__)
_PROGRESS_EVERY_S = 0.5
_UPLOADS_KEPT = 4
_parsed_uploads: dict[str, Grid] = {}  # upload id -> its parsed grid, in this worker process


def worker_name() -> str:
    """node:pid of this worker process (the node names the container inside Docker)."""
    return f"{node_name()}:{os.getpid()}"


@lru_cache(maxsize=4)
def catalog_grid(grid_id: str, cache_dir: str) -> Grid:
    """A catalog grid, parsed once per worker process."""
    from grid_models.catalog.registry import load_catalog_grid

    return load_catalog_grid(grid_id, cache_dir=Path(cache_dir))


def load_grid(settings: Settings, grid_key: str, tenant_id: str) -> Grid:
    """The grid of a study: ``catalog:<id>`` or ``upload:<id>`` (the tenant's upload, from the store)."""
    kind, _, grid_id = grid_key.partition(":")
    if kind == "catalog":
        return catalog_grid(grid_id, str(settings.cache_dir))
    from grid_models.catalog.uploads import load_upload

    with session_scope(settings.database()) as session:
        upload = repo.get_upload(session, upload_id=grid_id, tenant_id=tenant_id)  # the tenant's, every time
        if upload is None:
            raise GridModelError(f"the uploaded grid {grid_id} no longer exists")
        if grid_id in _parsed_uploads:
            return _parsed_uploads[grid_id]
        content, name = upload.content, upload.name
    grid = load_upload(content, grid_id=grid_id, filename=name, max_bytes=max(len(content), 1))
    _parsed_uploads[grid_id] = grid  # an upload never changes; keep the last few parsed, like the catalog grids
    while len(_parsed_uploads) > _UPLOADS_KEPT:
        _parsed_uploads.pop(next(iter(_parsed_uploads)))
    return grid


def load_profile(settings: Settings, spec: StudySpec, tenant_id: str) -> LoadProfile | None:
    """The uploaded hourly profile an annual study names (None when it names none)."""
    annual = spec.analyses.annual
    if annual is None or annual.profile.upload_id is None:
        return None
    from grid_models.catalog.profiles import parse_profile_csv

    with session_scope(settings.database()) as session:
        row = repo.get_profile(session, profile_id=annual.profile.upload_id, tenant_id=tenant_id)
        if row is None:
            raise GridModelError(f"the uploaded profile {annual.profile.upload_id} no longer exists")
        content, name = row.content, row.name
    return parse_profile_csv(content, name=name)


def plan_for(settings: Settings, spec: StudySpec, grid_key: str, tenant_id: str, *, progress: ProgressCallback) -> StudyPlan:
    """The study's plan, as every worker computes it (the hosting search waits for the completion)."""
    from grid_models.pipeline import plan_study

    grid, profile = load_grid(settings, grid_key, tenant_id), load_profile(settings, spec, tenant_id)
    return plan_study(spec, grid, progress=progress, hosting=False, profile=profile)


class ClaimLost(Exception):
    """This worker no longer holds the study (or the part) it works on: stop without writing."""


class Beat:
    """The heartbeat thread and the progress callback of a claimed study (or of one of its parts:
    then both the part and the study beat, and losing either claim stops the work)."""

    def __init__(self, settings: Settings, study_id: str, token: str, *, part: tuple[str, str] | None = None) -> None:
        self.settings, self.study_id, self.token, self.part = settings, study_id, token, part
        self.state = ClaimState.OK
        self._stop = threading.Event()
        self._last_write = 0.0
        self._thread = threading.Thread(target=self._run, name=f"heartbeat-{study_id}", daemon=True)

    def __enter__(self) -> Beat:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def write(self, fraction: float | None = None, step: str | None = None) -> None:
        """Record liveness (and progress); a failed write is logged, the next one may get through."""
        try:
            with session_scope(self.settings.database()) as session:
                state = repo.heartbeat(session, study_id=self.study_id, token=self.token, fraction=fraction, step=step)
                if self.part is not None and not part_repo.part_heartbeat(session, part_id=self.part[0], token=self.part[1]):
                    state = ClaimState.LOST
            if state is not ClaimState.OK:
                self.state = state
        except Exception as exc:  # noqa: BLE001 - a failed beat is logged; the next one may get through
            logger.warning("heartbeat_failed study_id=%s error=%s", self.study_id, exc)

    def _run(self) -> None:
        while not self._stop.wait(self.settings.heartbeat_s):
            self.write()

    def check(self, _fraction: float = 0.0, _step: str = "") -> None:
        """Progress callback that writes nothing: stop when asked to."""
        if self.state is ClaimState.CANCEL:
            raise StudyCanceled("canceled by the user")
        if self.state is ClaimState.LOST:
            raise ClaimLost("this worker lost its claim (the study or part was requeued, or has finished)")

    def progress(self, fraction: float, step: str) -> None:
        """Engine callback: record progress (at most every 0.5 s) and stop when asked to."""
        now = time.monotonic()
        if now - self._last_write >= _PROGRESS_EVERY_S or fraction >= 1.0:
            self._last_write = now
            self.write(fraction, step)
        self.check()


def _netcdf_bytes(result: StudyResult) -> bytes:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "result.nc"
        result.dataset.to_netcdf(path)
        return path.read_bytes()


def _final_status(result: StudyResult) -> StudyStatus:
    solved = result.base_case.converged and all(stage.converged for stage in result.stages)
    return StudyStatus.SUCCEEDED if solved else StudyStatus.PARTIALLY_SUCCEEDED


def store_result(settings: Settings, study_id: str, token: str, result: StudyResult) -> bool:
    """Store the result and the final status, if ``token`` still holds the study."""
    payload, netcdf = result.model_dump_json(), _netcdf_bytes(result)
    with session_scope(settings.database()) as session:
        stored = repo.finish_study(
            session, study_id=study_id, token=token, status=_final_status(result), result_json=payload, netcdf=netcdf
        )
    logger.info("study_finished study_id=%s stored=%s", study_id, stored)
    return stored


def fail(
    settings: Settings, study_id: str, token: str | None, code: str, message: str, *, status: StudyStatus = StudyStatus.FAILED
) -> None:
    """Fail (or cancel) a study, if ``token`` still holds it."""
    with session_scope(settings.database()) as session:
        repo.fail_study(session, study_id=study_id, code=code, message=message, token=token, status=status)
    logger.info("study_ended study_id=%s status=%s code=%s", study_id, status.value, code)


# errors of the machinery around a study: the task retries them (the study itself may be fine)
INFRASTRUCTURE_ERRORS = (DatabaseError, BrokerError, RedisConnectionError)


@contextmanager
def study_errors(settings: Settings, study_id: str, token: str) -> Iterator[None]:
    """Turn what the engine raises into the study's final status; infrastructure errors propagate
    (the task retries them). Any other exception is an engine bug that fails the study at once
    with its type and message (a TypeError once left the study 'running' until the sweeper,
    three redeliveries later, blamed a dead worker)."""
    try:
        yield
    except (*INFRASTRUCTURE_ERRORS, TaskPredicate):
        raise
    except ClaimLost as exc:
        logger.info("claim_lost study_id=%s detail=%s", study_id, exc)
    except StudyCanceled as exc:
        fail(settings, study_id, token, "study_canceled", exc.message, status=StudyStatus.CANCELED)
    except SoftTimeLimitExceeded:
        message = "the study ran past its time limit; run fewer analyses or a smaller study area"
        fail(settings, study_id, token, "time_limit", message)
    except GridModelError as exc:
        fail(settings, study_id, token, exc.code, exc.message)
    except Exception as exc:  # engine bugs (and MemoryError): fail with a trace in the log
        logger.exception("study_internal_error study_id=%s", study_id)
        fail(settings, study_id, token, "internal_error", f"{type(exc).__name__}: {exc}"[:2000])
