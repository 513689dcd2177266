"""The heartbeat of a claimed study: it records liveness and progress while the claim holds, and
its checkpoint stops the engine on a cancel request or when the claim is gone."""

from __future__ import annotations

import time

import pytest

from grid_models.errors import StudyCanceled
from impact_service.settings import Settings
from impact_service.store import repository as repo
from impact_service.store.db import session_scope
from impact_service.store.models import ClaimState
from workers.execution import Beat, ClaimLost

from .conftest import claimed_study


def test_progress_is_recorded_while_the_claim_holds(settings: Settings) -> None:
    study_id, token = claimed_study(settings)
    beat = Beat(settings, study_id, token)
    beat.progress(0.4, "stage 2/3")
    with session_scope(settings.database()) as session:
        study = repo.get_study(session, study_id=study_id)
        assert study is not None
        assert (study.progress, study.step) == (0.4, "stage 2/3")
    assert beat.state is ClaimState.OK


def test_a_cancel_request_stops_the_engine_at_its_next_checkpoint(settings: Settings) -> None:
    study_id, token = claimed_study(settings)
    beat = Beat(settings, study_id, token)
    beat.check()  # nothing asked yet
    with session_scope(settings.database()) as session:
        study = repo.get_study(session, study_id=study_id)
        assert study is not None
        repo.request_cancel(study=study)
    beat.write()
    with pytest.raises(StudyCanceled):
        beat.check()


def test_a_lost_claim_stops_the_engine_without_writing(settings: Settings) -> None:
    study_id, token = claimed_study(settings)
    beat = Beat(settings, study_id, token)
    with session_scope(settings.database()) as session:
        study = repo.get_study(session, study_id=study_id)
        assert study is not None
        study.claim_token = "the sweeper gave it to another worker"
    with pytest.raises(ClaimLost):
        beat.progress(0.9, "writing")
    with session_scope(settings.database()) as session:
        study = repo.get_study(session, study_id=study_id)
        assert study is not None
        assert study.step != "writing"


def test_the_heartbeat_thread_beats_on_its_own(settings: Settings) -> None:
    study_id, token = claimed_study(settings)
    with session_scope(settings.database()) as session:
        before = repo.get_study(session, study_id=study_id).heartbeat_at  # type: ignore[union-attr]
    with Beat(settings, study_id, token):
        for _ in range(200):  # the beat is every 0.05 s: this waits for the first one, at most 4 s
            if repo_heartbeat(settings, study_id) != before:
                break
            time.sleep(0.02)
    assert repo_heartbeat(settings, study_id) != before


def repo_heartbeat(settings: Settings, study_id: str) -> object:
    with session_scope(settings.database()) as session:
        study = repo.get_study(session, study_id=study_id)
        assert study is not None
        return study.heartbeat_at
