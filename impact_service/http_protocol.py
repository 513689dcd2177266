"""The API's HTTP/1.1 protocol: uvicorn's httptools protocol with a bounded request head.

uvicorn with httptools reads request headers of any size: eight requests with a 50 MB header each
were answered 200 and grew the API process from 477 MB to 919 MB. And a client that sends its
headers slowly held its connection forever (300 such connections were never closed). Here:

- a request line plus headers above ``MAX_HEAD_BYTES`` (32 KiB; the common limit of web servers
  lies between 8 and 64 KiB) is answered ``431 Request Header Fields Too Large`` and the connection
  is closed, at most one read past the limit having been buffered;
- a request whose head is not complete ``HEAD_TIMEOUT_S`` (10 s) after its first byte, or after
  the connection opened, is answered ``408 Request Timeout`` and closed.

``gridimpact api`` serves with it (``uvicorn.run(..., http=BoundedHeadProtocol)``).
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

__all__ = ["HEAD_TIMEOUT_S", "MAX_HEAD_BYTES", "BoundedHeadProtocol"]

MAX_HEAD_BYTES = 32 * 1024
HEAD_TIMEOUT_S = 10.0

_REASONS = {408: b"Request Timeout", 431: b"Request Header Fields Too Large"}
_MESSAGES = {
    408: "the request's headers did not arrive within 10 s; send the whole request head at once",
    431: f"the request line and headers exceed {MAX_HEAD_BYTES // 1024} KiB; send fewer or shorter headers",
}


class BoundedHeadProtocol(HttpToolsProtocol):
    """See the module doc."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._in_head = True
        self._head_bytes = 0
        self._head_timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._start_head_timer()

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel_head_timer()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self._in_head:
            self._head_bytes += len(data)
        super().data_received(data)
        if self._in_head and self._head_bytes > MAX_HEAD_BYTES and not self.transport.is_closing():
            self._refuse(431)

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._in_head = True  # the bytes of this head were counted when they arrived
        self._start_head_timer()

    def on_message_complete(self) -> None:
        super().on_message_complete()
        self._head_bytes = 0  # the next request's head starts from nothing

    def on_headers_complete(self) -> None:
        self._in_head = False
        self._cancel_head_timer()
        super().on_headers_complete()

    def _start_head_timer(self) -> None:
        self._cancel_head_timer()
        self._head_timer = self.loop.call_later(HEAD_TIMEOUT_S, self._head_timed_out)

    def _cancel_head_timer(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def _head_timed_out(self) -> None:
        self._head_timer = None
        if self._in_head and self._head_bytes > 0 and not self.transport.is_closing():
            self._refuse(408)
        elif self._in_head and not self.transport.is_closing():
            self.transport.close()  # opened and silent: nothing to answer

    def _refuse(self, status: int) -> None:
        code = "request_timeout" if status == 408 else "headers_too_large"
        body = json.dumps({"error": {"code": code, "message": _MESSAGES[status], "details": None}}).encode()
        head = b"HTTP/1.1 %d %s\r\ncontent-type: application/json\r\nconnection: close\r\ncontent-length: %d\r\n\r\n" % (
            status,
            _REASONS[status],
            len(body),
        )
        self._cancel_head_timer()
        self.transport.write(head + body)
        self.transport.close()
