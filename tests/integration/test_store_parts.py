"""Fan-out in the store, on SQLite and PostgreSQL: parts are claimed once, written only by their
holder, the merge is claimed by exactly one caller, and the sweeper queries find what they must."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from impact_service.store import parts as part_repo
from impact_service.store import repository as repo
from impact_service.store.db import engine_for, session_scope
from impact_service.store.models import Base, StudyPart, StudyStatus, utcnow

from .conftest import new_study

pytestmark = pytest.mark.integration

MINUTE = timedelta(seconds=60)
ITEMS = [part_repo.PartItem(0, 0, 10, True), part_repo.PartItem(1, 0, 10, False), part_repo.PartItem(1, 10, 14, False)]


def _fanned_out(database: str, tenant: str) -> tuple[str, str, list[str]]:
    """A running study split into three parts: (study id, study token, part ids)."""
    study_id = new_study(database, tenant, input_hash=tenant[:1] * 64)
    with session_scope(database) as session:
        token = repo.claim_study(session, study_id=study_id, worker="w0", task_id="t0", redelivered=False, stale_after=MINUTE)
        assert token is not None
        ids = part_repo.create_parts(session, study_id=study_id, token=token, fingerprint="f" * 64, items=ITEMS)
    assert ids is not None
    assert len(ids) == 3
    return study_id, token, ids


def _claim(database: str, part_id: str, *, task: str, redelivered: bool = False) -> part_repo.PartClaim | None:
    with session_scope(database) as session:
        return part_repo.claim_part(
            session, part_id=part_id, worker=f"w-{task}", task_id=task, redelivered=redelivered, stale_after=MINUTE
        )


def _finish(database: str, part_id: str, token: str, payload: bytes = b"slice") -> bool:
    with session_scope(database) as session:
        return part_repo.finish_part(session, part_id=part_id, token=token, payload=payload, duration_s=1.0)


def test_migrations_match_the_models(database: str) -> None:
    with engine_for(database).connect() as connection:
        differences = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    assert differences == [], "models changed without a migration: add one under impact_service/store/migrations"


def test_parts_need_the_study_claim_and_replace_an_earlier_split(database: str) -> None:
    study_id, token, first = _fanned_out(database, "split")
    with session_scope(database) as session:
        assert part_repo.create_parts(session, study_id=study_id, token="not-the-token", fingerprint="f", items=ITEMS) is None
        again = part_repo.create_parts(session, study_id=study_id, token=token, fingerprint="g" * 64, items=ITEMS[:2])
    assert again is not None
    assert not set(again) & set(first)
    with session_scope(database) as session:
        assert [p.id for p in part_repo.parts_of(session, study_id=study_id)] == again
        study = repo.get_study(session, study_id=study_id)
        assert study is not None
        assert study.parts_total == 2
        assert study.plan_fingerprint == "g" * 64
    assert _claim(database, first[0], task="old") is None  # a message of the earlier split is a no-op


def test_a_part_is_claimed_once_and_written_only_by_its_holder(database: str) -> None:
    study_id, token, ids = _fanned_out(database, "claim")
    claim = _claim(database, ids[0], task="a")
    assert claim is not None
    assert claim.study_id == study_id
    assert claim.study_token == token
    assert claim.item == ITEMS[0]
    assert claim.number == 0
    assert _claim(database, ids[0], task="b") is None  # a duplicate message: no-op
    takeover = _claim(database, ids[0], task="a", redelivered=True)  # the holder died: its message comes back
    assert takeover is not None
    assert takeover.token != claim.token
    assert not _finish(database, ids[0], claim.token)
    assert _finish(database, ids[0], takeover.token)
    assert _claim(database, ids[0], task="a", redelivered=True) is None  # done stays done
    with session_scope(database) as session:
        assert part_repo.part_counts(session, study_id=study_id) == (1, 3)
        assert part_repo.parts_of(session, study_id=study_id)[0].attempts == 2


def test_the_merge_is_claimed_once_by_concurrent_finishers(database: str) -> None:
    study_id, _, ids = _fanned_out(database, "merge")
    claims = [_claim(database, part_id, task=f"m{n}") for n, part_id in enumerate(ids)]
    assert all(claims)
    assert _finish(database, ids[0], claims[0].token)  # type: ignore[union-attr]
    with session_scope(database) as session:
        assert not part_repo.claim_merge(session, study_id=study_id)  # two parts still running
    barrier, answers = threading.Barrier(2), []

    def last(number: int) -> None:
        assert _finish(database, ids[number], claims[number].token)  # type: ignore[union-attr]
        barrier.wait()
        with session_scope(database) as session:
            answers.append(part_repo.claim_merge(session, study_id=study_id))

    threads = [threading.Thread(target=last, args=(n,)) for n in (1, 2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(answers) == [False, True]


def test_a_fanned_out_study_is_not_taken_over_and_drops_its_payloads_when_done(database: str) -> None:
    study_id, token, ids = _fanned_out(database, "drop")
    with session_scope(database) as session:
        later = utcnow() + timedelta(hours=1)
        assert study_id not in [s.id for s in repo.stale_running(session, heartbeat_before=later)]
        stolen = repo.claim_study(session, study_id=study_id, worker="w9", task_id="t0", redelivered=True, stale_after=MINUTE)
        assert stolen is None
    claim = _claim(database, ids[0], task="p")
    assert claim is not None
    assert _finish(database, ids[0], claim.token)
    with session_scope(database) as session:
        assert repo.finish_study(
            session, study_id=study_id, token=token, status=StudyStatus.SUCCEEDED, result_json="{}", netcdf=None
        )
    with session_scope(database) as session:
        assert all(p.payload is None for p in part_repo.parts_of(session, study_id=study_id))
        assert _claim(database, ids[1], task="late") is None  # the study has finished


def test_sweeper_queries(database: str) -> None:
    study_id, _, ids = _fanned_out(database, "sweeper")
    running = _claim(database, ids[0], task="s")
    assert running is not None
    soon, past = utcnow() + timedelta(seconds=5), utcnow() - timedelta(hours=1)
    with session_scope(database) as session:
        assert [p.id for p in part_repo.stale_parts(session, heartbeat_before=soon) if p.study_id == study_id] == [ids[0]]
        assert not [p for p in part_repo.stale_parts(session, heartbeat_before=past) if p.study_id == study_id]
        waiting = [p.id for p in part_repo.waiting_parts(session, queued_before=soon) if p.study_id == study_id]
        assert waiting == ids[1:]  # pending, and nothing moved in the study since
        part = session.get(StudyPart, ids[0])
        assert part is not None
        part_repo.requeue_part(part=part)
    with session_scope(database) as session:
        assert session.get(StudyPart, ids[0]).status == "pending"  # type: ignore[union-attr]
        assert not [s for s in part_repo.stalled_merges(session, sent_before=soon, heartbeat_before=soon) if s.id == study_id]
    for number, part_id in enumerate(ids):
        claim = _claim(database, part_id, task=f"z{number}")
        assert claim is not None
        assert _finish(database, part_id, claim.token)
    with session_scope(database) as session:  # every part done, the merge never sent and the study quiet
        assert [s.id for s in part_repo.stalled_merges(session, sent_before=soon, heartbeat_before=soon) if s.id == study_id]
        repo.request_cancel(study=repo.get_study(session, study_id=study_id))  # type: ignore[arg-type]
    with session_scope(database) as session:
        assert study_id in [s.id for s in repo.canceled_fanouts(session, heartbeat_before=soon)]
