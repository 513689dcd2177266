"""The service's error tree; every expected condition is a 4xx with a structured body.

::

    ServiceError (status, code, message, details)
    ├── BadRequest            400
    ├── Unauthorized          401  missing or unknown API key
    ├── NotFound              404  unknown or other tenant's study, grid or bus
    ├── Conflict              409  result asked for before the study finished
    ├── PayloadTooLarge       413
    ├── UnprocessableEntity   422  request or upload fails validation
    ├── TooManyRequests       429  a tenant's quota is full; retry after Retry-After
    └── ServiceUnavailable    503  database or broker unreachable; retry

Anything else is a JSON 500 ``internal_error`` (:class:`JsonServerErrors`).

Body: ``{"error": {"code": "...", "message": "...", "details": ...}}``.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DBAPIError, OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = [
    "ERROR_RESPONSES",
    "BadRequest",
    "Conflict",
    "JsonServerErrors",
    "NotFound",
    "PayloadTooLarge",
    "ServiceError",
    "ServiceUnavailable",
    "TooManyRequests",
    "Unauthorized",
    "UnprocessableEntity",
    "error_body",
    "install_error_handlers",
]

logger = logging.getLogger(__name__)


class ServiceError(Exception):
    """An expected failure with its HTTP status."""

    status = 400
    code = "bad_request"

    def __init__(
        self, message: str, *, code: str | None = None, details: Any = None, headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(message)
        self.message = message
        self.code = code or self.code
        self.details = details
        self.headers = headers or {}


class BadRequest(ServiceError):
    """Malformed request."""


class Unauthorized(ServiceError):
    """No valid API key."""

    status, code = 401, "unauthorized"


class NotFound(ServiceError):
    """Unknown resource, or one that belongs to another tenant."""

    status, code = 404, "not_found"


class Conflict(ServiceError):
    """The resource is not in a state that allows the request."""

    status, code = 409, "conflict"


class PayloadTooLarge(ServiceError):
    """Upload above the limit."""

    status, code = 413, "payload_too_large"


class UnprocessableEntity(ServiceError):
    """The request or upload fails validation."""

    status, code = 422, "unprocessable"


class TooManyRequests(ServiceError):
    """A tenant's quota is full; the ``Retry-After`` header says when to try again."""

    status, code = 429, "too_many_requests"


class ServiceUnavailable(ServiceError):
    """A dependency is down; retry later."""

    status, code = 503, "service_unavailable"


class JsonServerErrors:
    """Pure ASGI middleware (outermost): an exception no handler took becomes a JSON 500 on a
    connection that stays usable (Starlette's own last resort answers in plain text and re-raises,
    and the server then drops the connection). Logged with its traceback."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracking(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, tracking)
        except Exception:
            logger.exception("unhandled_error method=%s path=%s", scope.get("method"), scope.get("path"))
            if started:  # too late for a clean answer: let the server close the connection
                raise
            response = JSONResponse(error_body("internal_error", _INTERNAL), status_code=500)
            await response(scope, receive, send)


MAX_LISTED_DETAILS = 50


def error_body(code: str, message: str, details: Any = None) -> dict[str, Any]:
    """The JSON error document; a list of details is cut to its first ``MAX_LISTED_DETAILS`` (the
    count says how many there were), so an error is never much larger than its request."""
    error: dict[str, Any] = {"code": code, "message": message, "details": details}
    if isinstance(details, list) and len(details) > MAX_LISTED_DETAILS:
        error["details"] = details[:MAX_LISTED_DETAILS]
        error["details_total"] = len(details)
        error["message"] = f"{message} ({len(details):,} problems; the first {MAX_LISTED_DETAILS} are listed)"
    return {"error": error}


def _validation_details(exc: RequestValidationError) -> list[dict[str, Any]]:
    out = []
    for error in exc.errors():
        location = [str(part) for part in error.get("loc", ())]
        out.append({"location": ".".join(location), "message": str(error.get("msg", "")), "type": str(error.get("type", ""))})
    return out


_INTERNAL = "an unexpected error on the server (logged); the request may be retried, and reported if it persists"
_DATABASE_UNAVAILABLE = "the database is not reachable; retry shortly"  # the 503 body and its OpenAPI example
_UNREADABLE_BODY = (
    "the request body could not be read: send UTF-8 JSON (Content-Type: application/json), a study spec as in "
    "GET /openapi.json, nested no deeper than a spec is"
)


def install_error_handlers(app: FastAPI) -> None:
    """Map every exception to a structured response; unexpected ones are logged and become 500."""

    @app.exception_handler(ServiceError)
    async def _service(_request: Request, exc: ServiceError) -> JSONResponse:
        return JSONResponse(error_body(exc.code, exc.message, exc.details), status_code=exc.status, headers=exc.headers)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        details = _validation_details(exc)
        first = details[0] if details else {"location": "", "message": "invalid request"}
        message = f"{first['location']}: {first['message']}" if first["location"] else first["message"]
        content_type = request.headers.get("content-type", "")
        if request.method in ("POST", "PUT", "PATCH") and "json" not in content_type and "multipart" not in content_type:
            message += f" (the body was sent as {content_type or 'no content type'}: send it as application/json)"
        return JSONResponse(error_body("invalid_request", message, details), status_code=422)

    @app.exception_handler(StarletteHTTPException)
    async def _http(_request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
        message = str(exc.detail)
        if exc.status_code == 400 and message == "There was an error parsing the body":  # FastAPI's words
            code, message = "unreadable_body", _UNREADABLE_BODY
        return JSONResponse(error_body(code, message), status_code=exc.status_code, headers=getattr(exc, "headers", None))

    @app.exception_handler(OperationalError)
    @app.exception_handler(DBAPIError)
    async def _database(request: Request, exc: Exception) -> JSONResponse:
        logger.warning("database_unavailable path=%s error=%s", request.url.path, exc)
        return JSONResponse(
            error_body("database_unavailable", _DATABASE_UNAVAILABLE),
            status_code=503,
            headers={"Retry-After": "5"},
        )


ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {
        "description": text,
        "content": {"application/json": {"example": error_body(code, text)}},
    }
    for status, code, text in (
        (401, "unauthorized", "missing or unknown API key: send it as 'X-API-Key: <key>'"),
        (404, "not_found", "no such resource for this tenant"),
        (422, "invalid_request", "the request does not validate; details lists every problem"),
        (503, "database_unavailable", _DATABASE_UNAVAILABLE),
    )
}
