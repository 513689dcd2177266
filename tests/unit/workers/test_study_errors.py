"""How the worker turns what the engine raises into a study's final status: domain errors fail the
study with their code, a cancel cancels it, infrastructure errors propagate (the task retries),
a lost claim writes nothing, and any other exception fails the study at once."""

from __future__ import annotations

import pytest
from celery.exceptions import Retry, SoftTimeLimitExceeded
from kombu.exceptions import OperationalError as BrokerError
from sqlalchemy.exc import OperationalError as DatabaseError

from grid_models.errors import InternalError, StudyCanceled, StudySpecError
from impact_service.settings import Settings
from impact_service.store import repository as repo
from impact_service.store.db import session_scope
from impact_service.store.models import StudyStatus
from workers.execution import ClaimLost, study_errors

from .conftest import claimed_study


def _outcome(settings: Settings, error: BaseException) -> tuple[StudyStatus, str | None, str | None]:
    study_id, token = claimed_study(settings)
    with study_errors(settings, study_id, token):
        raise error
    with session_scope(settings.database()) as session:
        study = repo.get_study(session, study_id=study_id)
        assert study is not None
        return study.status, study.error_code, study.error_message


@pytest.mark.parametrize(
    ("error", "status", "code"),
    [
        (StudySpecError("the bus is not in the grid"), StudyStatus.FAILED, "study_spec_invalid"),
        (InternalError("a part is missing"), StudyStatus.FAILED, "internal_error"),
        (StudyCanceled("canceled by the user"), StudyStatus.CANCELED, "study_canceled"),
        (SoftTimeLimitExceeded(), StudyStatus.FAILED, "time_limit"),
        (TypeError("unsupported operand"), StudyStatus.FAILED, "internal_error"),
        (MemoryError(), StudyStatus.FAILED, "internal_error"),
    ],
)
def test_engine_outcomes_end_the_study(settings: Settings, error: BaseException, status: StudyStatus, code: str) -> None:
    final, error_code, message = _outcome(settings, error)
    assert (final, error_code) == (status, code)
    assert message


def test_an_engine_bug_is_named_in_the_message(settings: Settings) -> None:
    _, _, message = _outcome(settings, KeyError("vm_pu"))
    assert message == "KeyError: 'vm_pu'"


def test_a_lost_claim_writes_nothing(settings: Settings) -> None:
    status, code, _ = _outcome(settings, ClaimLost("requeued"))
    assert (status, code) == (StudyStatus.RUNNING, None)


@pytest.mark.parametrize(
    "error",
    [DatabaseError("SELECT 1", {}, Exception("database is locked")), BrokerError("connection refused"), Retry("again")],
)
def test_infrastructure_errors_propagate_for_the_task_to_retry(settings: Settings, error: BaseException) -> None:
    study_id, token = claimed_study(settings)
    with pytest.raises(type(error)), study_errors(settings, study_id, token):
        raise error
    with session_scope(settings.database()) as session:
        study = repo.get_study(session, study_id=study_id)
        assert study is not None
        assert study.status is StudyStatus.RUNNING


def test_a_failure_after_the_claim_moved_on_does_not_touch_the_new_holder(settings: Settings) -> None:
    study_id, token = claimed_study(settings)
    with session_scope(settings.database()) as session:
        study = repo.get_study(session, study_id=study_id)
        assert study is not None
        study.claim_token = "someone-else"
    with study_errors(settings, study_id, token):
        raise StudySpecError("too late")
    with session_scope(settings.database()) as session:
        study = repo.get_study(session, study_id=study_id)
        assert study is not None
        assert (study.status, study.claim_token) == (StudyStatus.RUNNING, "someone-else")
