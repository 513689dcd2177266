"""Uploads are checked in child processes, a few at a time, so the API stays responsive.

A large file takes seconds and gigabytes to parse and refuse, and inside the API process that
parse holds the interpreter and stalls status polling. Here the parse runs in a pool of
``MAX_PARALLEL`` spawned processes (each recycled after ``_TASKS_PER_CHILD`` uploads, so a large
parse does not keep its memory), the API thread only waits for the answer, and a request that
finds every slot busy is refused at once with a 503 and ``Retry-After`` instead of queueing behind
the others. Row counts beyond the limits are refused before any full parse (in the engine's
readers).

The file is spooled to a private temporary file and only its path goes to the child; the API reads
the bytes (to store them) only once they validate. The functions sent to the children return plain
data (``("ok", ...)`` or ``("invalid", message, issues)``): nothing but builtins crosses the process
boundary.
"""

from __future__ import annotations

import multiprocessing
import os
import tempfile
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from fastapi import UploadFile

from impact_service.errors import PayloadTooLarge, ServiceUnavailable, UnprocessableEntity

__all__ = ["MAX_PARALLEL", "check_grid", "check_profile", "in_child", "shutdown", "spooled"]

MAX_PARALLEL = 2
_TASKS_PER_CHILD = 50
_TIMEOUT_S = 300.0
_CHUNK_BYTES = 1024 * 1024
_slots = threading.BoundedSemaphore(MAX_PARALLEL)
_lock = threading.Lock()
_pool: ProcessPoolExecutor | None = None


@contextmanager
def spooled(upload: UploadFile, *, limit: int, empty_code: str) -> Iterator[Path]:
    """The uploaded file copied, a megabyte at a time, to a private temporary file (removed on
    exit): the API never holds a file it will refuse in memory.

    Raises:
        PayloadTooLarge: the file exceeds ``limit`` bytes (reading stops there).
        UnprocessableEntity: the file is empty (``empty_code``).
    """
    descriptor, name = tempfile.mkstemp(prefix="gridimpact-upload-")  # 0600
    path = Path(name)
    try:
        size = 0
        with os.fdopen(descriptor, "wb") as out:
            while chunk := upload.file.read(_CHUNK_BYTES):
                size += len(chunk)
                if size > limit:
                    raise PayloadTooLarge(f"the upload exceeds the {limit:,}-byte limit")
                out.write(chunk)
        if size == 0:
            raise UnprocessableEntity("the uploaded file is empty", code=empty_code)
        yield path
    finally:
        path.unlink(missing_ok=True)


def _executor() -> ProcessPoolExecutor:
    global _pool  # noqa: PLW0603 - one pool per API process, created on the first upload
    with _lock:
        if _pool is None:
            _pool = ProcessPoolExecutor(
                max_workers=MAX_PARALLEL,
                mp_context=multiprocessing.get_context("spawn"),  # never fork the server's threads
                max_tasks_per_child=_TASKS_PER_CHILD,
            )
        return _pool


def shutdown() -> None:
    """Stop the parse processes (the API's shutdown; the next upload starts a new pool)."""
    global _pool
    with _lock:
        pool, _pool = _pool, None
    if pool is not None:
        pool.shutdown(wait=True, cancel_futures=True)


def in_child(function: Callable[..., tuple[Any, ...]], *args: Any, code: str) -> tuple[Any, ...]:
    """Run ``function(*args)`` in the parse pool; its ``("invalid", message, issues)`` answer
    becomes a 422 with ``code``.

    Raises:
        ServiceUnavailable: every parse slot is busy (retry after a few seconds).
        UnprocessableEntity: the file does not validate.
    """
    if not _slots.acquire(blocking=False):
        raise ServiceUnavailable(
            f"{MAX_PARALLEL} uploads are being checked right now; send this one again in a few seconds",
            code="uploads_busy",
            headers={"Retry-After": "5"},
        )
    try:
        answer = _executor().submit(function, *args).result(timeout=_TIMEOUT_S)
    finally:
        _slots.release()
    if answer[0] == "invalid":
        raise UnprocessableEntity(answer[1], code=code, details=answer[2])
    return answer


def check_grid(path: str, filename: str, fmt: str, max_bytes: int) -> tuple[Any, ...]:
    """(child) Parse and validate a grid upload: ``("ok", checksum, source format, summary, buses)``."""
    content = Path(path).read_bytes()
    from grid_models.catalog.summary import grid_index
    from grid_models.catalog.uploads import UploadFormat, load_upload
    from grid_models.errors import GridValidationError

    try:
        grid = load_upload(content, grid_id="pending", filename=filename, fmt=UploadFormat(fmt), max_bytes=max_bytes)
    except GridValidationError as exc:
        return ("invalid", exc.message, [issue.to_dict() for issue in exc.issues])
    summary, buses = grid_index(grid)
    from grid_models.studies.stored_solution import check_stored_solution

    stored = check_stored_solution(grid)  # the engine's base case against the file's solved voltages
    if stored is not None:
        summary["stored_solution"] = stored.model_dump(mode="json")
    return ("ok", grid.checksum, grid.source.split(":")[-1], summary, buses)


def check_profile(path: str, filename: str, max_bytes: int) -> tuple[Any, ...]:
    """(child) Parse and validate an hourly profile CSV: ``("ok", hours, summary)``."""
    content = Path(path).read_bytes()
    from grid_models.catalog.profiles import ProfileValidationError, parse_profile_csv

    try:
        profile = parse_profile_csv(content, name=filename, max_bytes=max_bytes)
    except ProfileValidationError as exc:
        return ("invalid", exc.message, [issue.to_dict() for issue in exc.issues])
    summary: dict[str, object] = {
        "columns": profile.columns_kind.value,
        "column_numbers": list(profile.columns),
        "unit": profile.unit.value,
        "first_hour": profile.start.isoformat(),
    }
    return ("ok", profile.hours, summary)
