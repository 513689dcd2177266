"""Messages carry ids only and the time limits of the grid's size (kombu's in-memory transport)."""

from __future__ import annotations

from kombu import Connection

from impact_service.queue.client import send_merge, send_run_part, send_run_study
from impact_service.queue.limits import LARGEST_HARD_LIMIT_S, VISIBILITY_TIMEOUT_S, time_limits
from impact_service.queue.names import MERGE_STUDY, QUEUE_STUDIES, RUN_PART, RUN_STUDY

BROKER = "memory://"


def _next_message() -> tuple[dict[str, object], list[object]]:
    with Connection(BROKER) as connection:
        queue = connection.SimpleQueue(QUEUE_STUDIES)
        message = queue.get(timeout=2)
        message.ack()
        body = message.decode()
        queue.close()
    args = body[0] if isinstance(body, list | tuple) else body["args"]
    return dict(message.headers), list(args)


def test_time_limits_grow_with_the_grid_and_stay_under_the_visibility_timeout() -> None:
    small, large, unknown = time_limits(200), time_limits(70_000), time_limits(None)
    assert small[0] < small[1]
    assert small < large <= unknown
    assert unknown[1] <= LARGEST_HARD_LIMIT_S < VISIBILITY_TIMEOUT_S
    assert time_limits(10**9)[1] <= LARGEST_HARD_LIMIT_S


def test_each_message_carries_an_id_and_its_limits() -> None:
    for send, name, argument in (
        (send_run_study, RUN_STUDY, "st_1"),
        (send_run_part, RUN_PART, "pt_1"),
        (send_merge, MERGE_STUDY, "st_2"),
    ):
        send(BROKER, argument, buses=2000)
        headers, args = _next_message()
        soft, hard = time_limits(2000)
        assert headers["task"] == name
        assert args == [argument]
        assert list(headers["timelimit"]) == [hard, soft]  # type: ignore[call-overload]
