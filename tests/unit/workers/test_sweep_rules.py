"""The sweeper's rules on a store whose clock is set by the test: requeue a study whose worker
stopped beating, fail it after max_attempts, re-send a study queued too long, and the same for
the parts and merges of fanned-out studies; a live study is never touched."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import timedelta

from impact_service.node import node_name
from impact_service.settings import Settings
from impact_service.store import parts as part_repo
from impact_service.store import repository as repo
from impact_service.store.db import session_scope
from impact_service.store.models import PartStatus, Study, StudyPart, StudyStatus, utcnow
from workers.runner import sweep

from .conftest import Sent, claimed_study, queued_study

LONG_AGO = timedelta(hours=1)


def _study(settings: Settings, study_id: str) -> Study:
    with session_scope(settings.database()) as session:
        study = repo.get_study(session, study_id=study_id)
        assert study is not None
        session.expunge(study)
        return study


def _set(settings: Settings, table: type[Study | StudyPart], row_id: str, **fields: object) -> None:
    """Move a row's clock (or counters) as if time had passed."""
    with session_scope(settings.database()) as session:
        row = session.get(table, row_id)
        assert row is not None
        for name, value in fields.items():
            setattr(row, name, value)


def _age(settings: Settings, study_id: str, **fields: object) -> None:
    _set(settings, Study, study_id, **fields)


def test_a_live_study_is_left_alone(settings: Settings, sent: Sent) -> None:
    running, _ = claimed_study(settings)
    queued = queued_study(settings)
    counts = sweep(settings)
    assert not any(counts.values()), counts
    assert sent.messages == []
    assert _study(settings, running).status is StudyStatus.RUNNING
    assert _study(settings, queued).status is StudyStatus.QUEUED


def test_a_study_whose_worker_stopped_beating_is_requeued_and_sent(settings: Settings, sent: Sent) -> None:
    study_id, _ = claimed_study(settings)
    _age(settings, study_id, heartbeat_at=utcnow() - LONG_AGO)
    counts = sweep(settings)
    assert counts["requeued"] == 1
    assert sent.of("send_run_study") == [study_id]
    study = _study(settings, study_id)
    assert (study.status, study.claim_token) == (StudyStatus.QUEUED, None)


def test_a_study_whose_send_failed_is_sent_by_the_next_sweep(settings: Settings, sent: Sent) -> None:
    """A study submitted while the broker was down waited for requeue_after_s (129 s measured)."""
    study_id = queued_study(settings, sent=False)
    assert sweep(settings)["resent"] == 1
    assert sent.of("send_run_study") == [study_id]
    assert _study(settings, study_id).task_id is not None
    assert sweep(settings)["resent"] == 0  # sent once


def test_after_max_attempts_the_study_fails_as_worker_lost(settings: Settings, sent: Sent) -> None:
    study_id, _ = claimed_study(settings)
    _age(settings, study_id, heartbeat_at=utcnow() - LONG_AGO, attempts=settings.max_attempts)
    counts = sweep(settings)
    assert counts["failed"] == 1
    assert sent.messages == []
    study = _study(settings, study_id)
    assert (study.status, study.error_code) == (StudyStatus.FAILED, "worker_lost")


def test_a_study_queued_too_long_is_sent_again(settings: Settings, sent: Sent) -> None:
    study_id = queued_study(settings)
    _age(settings, study_id, queued_at=utcnow() - LONG_AGO)
    counts = sweep(settings)
    assert counts["resent"] == 1
    assert sent.of("send_run_study") == [study_id]
    assert _study(settings, study_id).queued_at > utcnow() - timedelta(minutes=1)  # not re-sent at every sweep
    assert sweep(settings)["resent"] == 0


def _fanned_out(settings: Settings, parts: int = 3) -> tuple[str, list[str]]:
    study_id, token = claimed_study(settings)
    items = [part_repo.PartItem(0, 10 * n, 10 * n + 10, False) for n in range(parts)]
    with session_scope(settings.database()) as session:
        ids = part_repo.create_parts(session, study_id=study_id, token=token, fingerprint="f" * 64, items=items)
    assert ids is not None
    return study_id, ids


def _claim_part(settings: Settings, part_id: str) -> str:
    with session_scope(settings.database()) as session:
        claim = part_repo.claim_part(
            session,
            part_id=part_id,
            worker="test:2",
            task_id=f"task-{part_id}",
            redelivered=False,
            stale_after=timedelta(seconds=30),
        )
    assert claim is not None
    return claim.token


def _age_part(settings: Settings, part_id: str, **fields: object) -> None:
    _set(settings, StudyPart, part_id, **fields)


def test_a_part_whose_worker_died_is_requeued_alone(settings: Settings, sent: Sent) -> None:
    study_id, ids = _fanned_out(settings)
    _claim_part(settings, ids[0])
    _claim_part(settings, ids[1])
    _age_part(settings, ids[0], heartbeat_at=utcnow() - LONG_AGO)
    counts = sweep(settings)
    assert counts["parts_requeued"] == 1
    assert sent.of("send_run_part") == [ids[0]]
    with session_scope(settings.database()) as session:
        statuses = [session.get(StudyPart, part_id).status for part_id in ids]  # type: ignore[union-attr]
    assert statuses == [PartStatus.PENDING, PartStatus.RUNNING, PartStatus.PENDING]
    assert _study(settings, study_id).status is StudyStatus.RUNNING  # the fan-out lives on in its parts


def test_a_part_that_keeps_killing_its_workers_fails_the_study(settings: Settings, sent: Sent) -> None:
    study_id, ids = _fanned_out(settings)
    _claim_part(settings, ids[2])
    _age_part(settings, ids[2], heartbeat_at=utcnow() - LONG_AGO, attempts=settings.max_attempts)
    assert sweep(settings)["failed"] == 1
    assert sent.messages == []
    study = _study(settings, study_id)
    assert (study.status, study.error_code) == (StudyStatus.FAILED, "worker_lost")
    assert "part 2" in (study.error_message or "")


def test_a_part_waiting_too_long_is_sent_again_once_its_study_is_quiet(settings: Settings, sent: Sent) -> None:
    study_id, ids = _fanned_out(settings)
    _age_part(settings, ids[1], queued_at=utcnow() - LONG_AGO)
    assert sweep(settings)["parts_resent"] == 0  # other parts still beat for the study: the queue is moving
    _age(settings, study_id, heartbeat_at=utcnow() - LONG_AGO)
    assert sweep(settings)["parts_resent"] == 1
    assert sent.of("send_run_part") == [ids[1]]


def _part_states(settings: Settings, ids: list[str]) -> list[tuple[PartStatus, str | None]]:
    with session_scope(settings.database()) as session:
        parts = [session.get(StudyPart, part_id) for part_id in ids]
        return [(p.status, p.claim_token) for p in parts if p is not None]


def test_a_canceled_fan_out_nobody_acted_on_is_canceled(settings: Settings, sent: Sent) -> None:
    study_id, ids = _fanned_out(settings)
    done = _claim_part(settings, ids[0])
    with session_scope(settings.database()) as session:
        assert part_repo.finish_part(session, part_id=ids[0], token=done, payload=b"x", duration_s=1.0)
    running = _claim_part(settings, ids[1])
    _age(settings, study_id, cancel_requested=True, heartbeat_at=utcnow() - LONG_AGO)
    assert sweep(settings)["canceled"] == 1
    assert _study(settings, study_id).status is StudyStatus.CANCELED
    assert sent.messages == []
    assert _part_states(settings, ids) == [
        (PartStatus.DONE, None),
        (PartStatus.CANCELED, None),
        (PartStatus.CANCELED, None),
    ]
    with session_scope(settings.database()) as session:  # the worker still solving part 1 learns it is void
        assert not part_repo.part_heartbeat(session, part_id=ids[1], token=running)


def test_a_failed_fan_out_cancels_its_unsolved_parts(settings: Settings, sent: Sent) -> None:  # noqa: ARG001 - no sends
    study_id, ids = _fanned_out(settings, parts=2)
    with session_scope(settings.database()) as session:
        assert repo.fail_study(session, study_id=study_id, code="engine_error", message="boom")
    assert _part_states(settings, ids) == [(PartStatus.CANCELED, None), (PartStatus.CANCELED, None)]


def test_a_merge_that_never_started_is_sent_again(settings: Settings, sent: Sent) -> None:
    study_id, ids = _fanned_out(settings, parts=1)
    token = _claim_part(settings, ids[0])
    with session_scope(settings.database()) as session:
        assert part_repo.finish_part(session, part_id=ids[0], token=token, payload=b"x", duration_s=1.0)
        assert part_repo.claim_merge(session, study_id=study_id)
    _age(settings, study_id, merge_sent_at=utcnow() - LONG_AGO, heartbeat_at=utcnow() - LONG_AGO)
    assert sweep(settings)["merges_resent"] == 1
    assert sent.of("send_merge") == [study_id]


def test_a_study_held_by_a_dead_process_on_this_host_is_requeued_at_once(settings: Settings, sent: Sent) -> None:
    """The holder's heartbeat is recent, but its process is gone: no waiting stale_after_s."""
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    study_id, _ = claimed_study(settings)
    alive_id, _ = claimed_study(settings)
    _set(settings, Study, study_id, worker=f"{node_name()}:{dead.pid}")
    _set(settings, Study, alive_id, worker=f"{node_name()}:{os.getpid()}")
    counts = sweep(settings)
    assert counts["requeued"] == 1
    assert sent.of("send_run_study") == [study_id]
    assert _study(settings, alive_id).status is StudyStatus.RUNNING
