"""Request bodies above a size limit are refused with 413 before they are parsed.

A study spec is a few kilobytes; without a limit a 200 MB JSON body was parsed and accepted (the
API process grew by 400 MB). Grid and profile uploads (``/v1/grids``, ``/v1/profiles``) get the upload limit plus room for the
multipart envelope. A declared ``Content-Length`` is checked at once; a body sent without one
(chunked) is read up to the limit and then handed on.
"""

from __future__ import annotations

import json

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from impact_service.errors import error_body

__all__ = ["BodyLimit"]

_MULTIPART_ROOM = 1024 * 1024
_UPLOAD_PATHS = ("/v1/grids", "/v1/profiles")


class BodyLimit:
    """Pure ASGI middleware: 413 ``payload_too_large`` for bodies above the limit."""

    def __init__(self, app: ASGIApp, *, request_bytes: int, upload_bytes: int) -> None:
        self.app, self.request_bytes, self.upload_bytes = app, request_bytes, upload_bytes + _MULTIPART_ROOM

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] in ("GET", "HEAD", "OPTIONS", "DELETE"):
            await self.app(scope, receive, send)
            return
        limit = self.upload_bytes if scope["path"].startswith(_UPLOAD_PATHS) else self.request_bytes
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None:
            if declared.isdigit() and int(declared) > limit:
                await _refuse(send, limit)
                return
            await self.app(scope, receive, send)
            return
        body, more = b"", True
        while more:  # chunked: read it all (up to the limit), then replay it
            message = await receive()
            if message["type"] != "http.request":
                await self.app(scope, receive, send)
                return
            body += message.get("body", b"")
            more = bool(message.get("more_body", False))
            if len(body) > limit:
                await _refuse(send, limit)
                return
        await self.app(scope, _replay(body, receive), send)


def _replay(body: bytes, receive: Receive) -> Receive:
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if sent:
            return await receive()
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    return replay


async def _refuse(send: Send, limit: int) -> None:
    payload = json.dumps(error_body("payload_too_large", f"the request body exceeds the {limit:,}-byte limit")).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(payload)).encode())]
    await send({"type": "http.response.start", "status": 413, "headers": headers})
    await send({"type": "http.response.body", "body": payload})
