"""One exception hierarchy for every failure the client reports.

Provost answers every error as ``{"error": {"code": ..., "message": ..., "details"?: ...}}``
with a stable ``code``; the class is chosen by the HTTP status, the ``code`` says exactly what.
"""

from __future__ import annotations

from typing import Any

import httpx


class ProvostError(Exception):
    """An error answered by Provost, or no answer at all.

    ``code`` is Provost's stable error code (``invalid_scope``, ``forbidden``, ...), or
    ``connection_error`` when no answer came; ``status`` is the HTTP status (``None`` when no
    answer came); ``details`` is the error's ``details`` object, when it has one.
    """

    def __init__(
        self,
        code: str,
        message: str,
        status: int | None = None,
        details: Any = None,
        request_id: str | None = None,
    ) -> None:
        super().__init__(f"{code}: {message}" if status is None else f"{status} {code}: {message}")
        self.code = code
        self.message = message
        self.status = status
        self.details = details
        self.request_id = request_id


class BadRequest(ProvostError):
    """400: malformed input (a bad scope key, an unknown field, ...)."""


class Unauthorized(ProvostError):
    """401: no token, or a token Provost does not accept."""


class Forbidden(ProvostError):
    """403: the caller may not do this."""


class NotFound(ProvostError):
    """404: no such role, user, page, ..."""


class Conflict(ProvostError):
    """409: the state changed under the request; trying again may work."""


class Refused(ProvostError):
    """422: refused by a rule; for bulk writes ``details["items"]`` says why, item by item."""


class Busy(ProvostError):
    """429: the database is busy or locked."""


class Unavailable(ProvostError):
    """503, or no answer at all: the node is read-only, its database is down, it has not reached
    the revision asked for, or it cannot be reached. Idempotent calls are retried first."""


_BY_STATUS: dict[int, type[ProvostError]] = {
    400: BadRequest,
    401: Unauthorized,
    403: Forbidden,
    404: NotFound,
    409: Conflict,
    422: Refused,
    429: Busy,
    503: Unavailable,
}


def error_from_response(response: httpx.Response) -> ProvostError:
    """The exception for an error answer, from Provost's error body when it has one."""
    code, message, details = "http_error", response.reason_phrase or "error", None
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict) and isinstance(body.get("error"), dict):
        error = body["error"]
        code = str(error.get("code", code))
        message = str(error.get("message", message))
        details = error.get("details")
    cls = _BY_STATUS.get(response.status_code, ProvostError)
    return cls(
        code,
        message,
        status=response.status_code,
        details=details,
        request_id=response.headers.get("x-request-id"),
    )


def connection_error(exc: httpx.TransportError) -> Unavailable:
    return Unavailable("connection_error", str(exc) or type(exc).__name__)
