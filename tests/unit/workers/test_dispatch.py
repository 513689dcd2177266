"""Which queued studies go to the broker (impact_service.queue.dispatch), on the in-memory store
with the sends recorded: one waiting message per tenant, oldest first, a running cap when set,
and nothing sent twice."""

from __future__ import annotations

from impact_service.queue.dispatch import dispatch_queued
from impact_service.settings import Settings
from impact_service.store import repository as repo
from impact_service.store.db import session_scope
from impact_service.store.models import Study, StudyStatus

from .conftest import Sent, queued_study


def _held(settings: Settings, tenant: str, count: int) -> list[str]:
    return [queued_study(settings, tenant, sent=False) for _ in range(count)]


def _claim(settings: Settings, study_id: str) -> None:
    with session_scope(settings.database()) as session:
        study = session.get(Study, study_id)
        assert study is not None
        study.status = StudyStatus.RUNNING


def test_one_tenant_backlog_leaves_room_for_another(settings: Settings, sent: Sent) -> None:
    a = _held(settings, "a", 20)
    b = _held(settings, "b", 1)
    assert dispatch_queued(settings) == 2
    assert sent.of("send_run_study") == [a[0], b[0]]  # one of a's 20, then b's: b is second in the broker, not 21st
    assert dispatch_queued(settings) == 0  # each tenant has its one waiting message
    _claim(settings, a[0])  # a worker takes a's study: a's next goes
    assert dispatch_queued(settings) == 1
    assert sent.of("send_run_study")[-1] == a[1]


def test_a_running_cap_holds_a_tenant_back(settings: Settings, sent: Sent) -> None:
    capped = settings.model_copy(update={"tenant_max_running": 2})
    a = _held(capped, "a", 5)
    dispatch_queued(capped)
    _claim(capped, a[0])
    dispatch_queued(capped)
    _claim(capped, a[1])
    assert dispatch_queued(capped) == 0  # two running: no third until one ends
    assert sent.of("send_run_study") == a[:2]


def test_a_study_marked_by_another_dispatcher_is_not_sent_again(settings: Settings, sent: Sent) -> None:
    (study_id,) = _held(settings, "a", 1)
    with session_scope(settings.database()) as session:
        assert repo.mark_sending(session, study_id=study_id, mark="sending-other")
        assert not repo.mark_sending(session, study_id=study_id, mark="sending-mine")
    assert dispatch_queued(settings) == 0
    assert sent.messages == []
