"""The store on SQLite and on a real PostgreSQL server: migrations, claims, ownership, sweeping."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy.exc import IntegrityError

from impact_service.store import repository as repo
from impact_service.store.db import session_scope, upgrade_schema
from impact_service.store.models import ClaimState, StudyStatus, utcnow

from .conftest import new_study as _study

pytestmark = pytest.mark.integration


def test_keys_are_hashed_and_tenant_scoped(database: str) -> None:
    with session_scope(database) as session:
        tenant = repo.ensure_tenant(session, name="keys")
        row, key = repo.create_api_key(session, tenant_id=tenant.id)
        assert key not in (row.key_hash, row.prefix + "x")
        assert row.key_hash == repo.hash_key(key)
        assert repo.tenant_for_key(session, key=key).id == tenant.id  # type: ignore[union-attr]
        assert repo.tenant_for_key(session, key=key + "x") is None


def test_claim_is_exclusive_and_writes_need_the_token(database: str) -> None:
    study_id = _study(database, "claims")
    with session_scope(database) as session:
        token = repo.claim_study(
            session, study_id=study_id, worker="w1", task_id="t1", redelivered=False, stale_after=timedelta(seconds=60)
        )
    with session_scope(database) as session:  # a duplicate message, another worker: no-op
        assert (
            repo.claim_study(
                session, study_id=study_id, worker="w2", task_id="t2", redelivered=False, stale_after=timedelta(seconds=60)
            )
            is None
        )
    assert token is not None
    with session_scope(database) as session:  # the same message redelivered (the first worker died): taken over
        takeover = repo.claim_study(
            session, study_id=study_id, worker="w3", task_id="t1", redelivered=True, stale_after=timedelta(seconds=60)
        )
    assert takeover is not None
    assert takeover != token
    with session_scope(database) as session:
        assert repo.heartbeat(session, study_id=study_id, token=token, fraction=0.5, step="x") is ClaimState.LOST
        assert not repo.finish_study(
            session, study_id=study_id, token=token, status=StudyStatus.SUCCEEDED, result_json="{}", netcdf=None
        )
        assert repo.heartbeat(session, study_id=study_id, token=takeover, fraction=0.5, step="half") is ClaimState.OK
        assert repo.finish_study(
            session, study_id=study_id, token=takeover, status=StudyStatus.SUCCEEDED, result_json="{}", netcdf=b"nc"
        )
    with session_scope(database) as session:
        study = repo.get_study(session, study_id=study_id)
        assert study is not None
        assert study.status == "succeeded"
        assert study.attempts == 2
        assert repo.get_result(session, study_id=study_id).netcdf == b"nc"  # type: ignore[union-attr]
        assert not repo.finish_study(
            session, study_id=study_id, token=takeover, status=StudyStatus.SUCCEEDED, result_json="{}", netcdf=None
        )


def test_cancel_and_sweeper_queries(database: str) -> None:
    queued, running = _study(database, "sweep", input_hash="a" * 64), _study(database, "sweep", input_hash="b" * 64)
    with session_scope(database) as session:
        token = repo.claim_study(
            session, study_id=running, worker="w", task_id="t", redelivered=False, stale_after=timedelta(seconds=60)
        )
        assert token
        repo.request_cancel(study=repo.get_study(session, study_id=queued))  # type: ignore[arg-type]
        repo.request_cancel(study=repo.get_study(session, study_id=running))  # type: ignore[arg-type]
    with session_scope(database) as session:
        assert repo.get_study(session, study_id=queued).status == "canceled"  # type: ignore[union-attr]
        assert repo.heartbeat(session, study_id=running, token=token) is ClaimState.CANCEL
        stale = repo.stale_running(session, heartbeat_before=utcnow() + timedelta(seconds=1))
        assert running in [s.id for s in stale]
        assert repo.stale_running(session, heartbeat_before=utcnow() - timedelta(hours=1)) == []


def test_idempotency_key_is_unique_per_tenant(database: str) -> None:
    _study(database, "idem", idempotency_key="k1")
    _study(database, "idem-other", idempotency_key="k1")
    with pytest.raises(IntegrityError):
        _study(database, "idem", idempotency_key="k1")


def test_migrations_are_idempotent(database: str) -> None:
    upgrade_schema(database)
    with session_scope(database) as session:
        assert repo.count_by_status(session)


@pytest.mark.parametrize("error", [TypeError("unsupported operand"), OverflowError("int too large"), UserWarning("odd")])
def test_any_engine_error_fails_the_study_at_once(database: str, error: Exception) -> None:
    """Only some exception types used to count as study errors; a TypeError left the study
    'running' until the sweeper blamed a dead worker three redeliveries later."""
    from impact_service.settings import Settings
    from workers.execution import study_errors

    study_id = _study(database, "engine-bugs")
    with session_scope(database) as session:
        token = repo.claim_study(
            session, study_id=study_id, worker="w1", task_id="t1", redelivered=False, stale_after=timedelta(seconds=60)
        )
    assert token is not None
    with study_errors(Settings(database_url=database), study_id, token):
        raise error
    with session_scope(database) as session:
        study = repo.get_study(session, study_id=study_id)
        assert study is not None
        assert study.status == StudyStatus.FAILED.value
        assert study.error_code == "internal_error"
        assert type(error).__name__ in (study.error_message or "")
