"""What the sync and async clients share: each call's request and parsing, the retry policy,
the highest revision seen and the token. The clients only send."""

from __future__ import annotations

import random
import threading
from dataclasses import dataclass, field
from typing import Any, Callable, Generic, Iterable, Literal, Mapping, TypeVar, Union

import httpx

from .errors import ProvostError, Unavailable
from .models import Assignment, AuditEntry, BulkResult, Check, CheckResult, Page

T = TypeVar("T")

#: A token, or a function answering the token to send now (``None``: send none).
TokenSource = Union[str, Callable[[], Union[str, None]], None]

#: What a check is keyed by in a decision cache: (subject or ``None`` for the caller, action, scope).
DecisionKey = tuple[Union[str, None], str, str]


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff with jitter, for idempotent calls only (checks, lookups, GETs).

    A call is tried at most ``attempts`` times; the wait before try ``n + 1`` is drawn between half
    and all of ``min(max_delay, base_delay * 2**n)`` seconds, so many clients retrying at once
    spread out. Retried: 503 answers and connection errors (both raise ``Unavailable``).
    """

    attempts: int = 4
    base_delay: float = 0.1
    max_delay: float = 2.0

    def delay(self, attempt: int) -> float:
        ceiling = min(self.max_delay, self.base_delay * 2.0**attempt)
        return ceiling / 2 + random.uniform(0, ceiling / 2)

    def should_retry(self, call: Call[Any], error: ProvostError, attempt: int) -> bool:
        return call.idempotent and isinstance(error, Unavailable) and attempt + 1 < self.attempts


NO_RETRY = RetryPolicy(attempts=1)


class RevisionTracker:
    """The highest revision this client has seen (in writes' and reads' answers). Reads that
    take ``at_least_revision`` send it, so a read never answers from before a write this client
    saw. Shared by the clients ``with_token`` derives."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._revision = 0

    @property
    def value(self) -> int:
        return self._revision

    def saw(self, revision: int) -> None:
        with self._lock:
            if revision > self._revision:
                self._revision = revision


class DecisionCache:
    """Decisions already answered, for one caller during one request: asking the same
    (subject, action, scope) twice makes one HTTP call. Create one per request (the Django
    integration does, see ``provost_client.django.provost_for``); never share it between callers."""

    def __init__(self) -> None:
        self._answers: dict[DecisionKey, CheckResult] = {}

    def get(self, key: DecisionKey) -> CheckResult | None:
        return self._answers.get(key)

    def put(self, key: DecisionKey, result: CheckResult) -> None:
        self._answers[key] = result

    def __len__(self) -> int:
        return len(self._answers)


@dataclass(frozen=True)
class Call(Generic[T]):
    """One HTTP call: what to send and how to read the answer.

    ``idempotent``: may be retried. ``revision_in``: where the call takes ``at_least_revision``
    (the JSON body for checks, the query for lookups), ``None`` when it does not (the server
    refuses unknown fields).
    """

    method: str
    path: str
    parse: Callable[[Any, int], T]
    params: Mapping[str, Any] | None = None
    body: Any = None
    idempotent: bool = True
    revision_in: Literal["body", "query", None] = None
    ok_statuses: tuple[int, ...] = field(default=(200,))

    def request_args(self, revision: int) -> dict[str, Any]:
        params = {k: v for k, v in (self.params or {}).items() if v is not None}
        body = self.body
        if revision > 0 and self.revision_in == "query":
            params["at_least_revision"] = revision
        if revision > 0 and self.revision_in == "body":
            body = {**body, "at_least_revision": revision}
        args: dict[str, Any] = {"params": params}
        if body is not None:
            args["json"] = body
        return args


def auth_headers(token: TokenSource) -> dict[str, str]:
    value = token() if callable(token) else token
    return {"Authorization": f"Bearer {value}"} if value else {}


def parse_answer(call: Call[T], response: httpx.Response, revisions: RevisionTracker) -> T:
    """The call's result from a non-error answer; notes the answer's revision."""
    body = response.json()
    if isinstance(body, dict) and isinstance(body.get("revision"), int):
        revisions.saw(body["revision"])
    return call.parse(body, response.status_code)


# The calls. Paths, bodies and parameters are the server's (`/api/v1/openapi.json`).


def check_call(action: str, scope: str, subject: str | None, explain: bool) -> Call[CheckResult]:
    return Call(
        "POST",
        "/api/v1/check",
        lambda body, _: CheckResult.from_json(body),
        params={"explain": "true"} if explain else None,
        body=Check(action, scope, subject).to_json(),
        revision_in="body",
    )


def batch_call(checks: list[Check]) -> Call[list[CheckResult]]:
    def parse(body: Any, _: int) -> list[CheckResult]:
        revision = int(body["revision"])
        return [CheckResult(bool(r["allowed"]), revision) for r in body["results"]]

    return Call(
        "POST",
        "/api/v1/check/batch",
        parse,
        body={"checks": [c.to_json() for c in checks]},
        revision_in="body",
    )


def names_call(path: str, params: Mapping[str, Any]) -> Call[Page[str]]:
    return Call(
        "GET",
        path,
        lambda body, _: Page(list(body["items"]), body.get("next_cursor")),
        params=params,
        revision_in="query",
    )


def who_call(action: str, scope: str, cursor: str | None) -> Call[Page[str]]:
    params = {"action": action, "scope": scope, "cursor": cursor, "limit": 1000}
    return names_call("/api/v1/lookup/subjects", params)


def scopes_call(
    action: str, subject: str | None, kind: str | None, cursor: str | None
) -> Call[Page[str]]:
    params = {"action": action, "subject": subject, "kind": kind, "cursor": cursor, "limit": 1000}
    return names_call("/api/v1/lookup/scopes", params)


def assignments_call(
    subject: str | None, role: str | None, scope: str | None, limit: int | None, cursor: str | None
) -> Call[Page[Assignment]]:
    return Call(
        "GET",
        "/api/v1/assignments",
        lambda body, _: Page(
            [Assignment.from_json(a) for a in body["items"]], body.get("next_cursor")
        ),
        params={"subject": subject, "role": role, "scope": scope, "limit": limit, "cursor": cursor},
    )


def bulk_call(
    method: Literal["POST", "DELETE"], assignments: Assignment | Iterable[Assignment], atomic: bool
) -> Call[BulkResult]:
    items = [assignments] if isinstance(assignments, Assignment) else list(assignments)
    return Call(
        method,
        "/api/v1/assignments",
        BulkResult.from_json,
        body={"assignments": [a.to_json() for a in items], "atomic": atomic},
        # The server does not mark assignment writes idempotent: never sent twice.
        idempotent=False,
        ok_statuses=(200, 207),
    )


def audit_call(
    since: int | None,
    subject: str | None,
    scope: str | None,
    limit: int | None,
    cursor: str | None,
) -> Call[Page[AuditEntry]]:
    return Call(
        "GET",
        "/api/v1/audit",
        lambda body, _: Page(
            [AuditEntry.from_json(e) for e in body["items"]], body.get("next_cursor")
        ),
        params={
            "since": since,
            "subject": subject,
            "scope": scope,
            "limit": limit,
            "cursor": cursor,
        },
    )


def put_user_call(username: str, fields: dict[str, Any]) -> Call[int]:
    return Call(
        "PUT",
        f"/api/v1/users/{_path_part(username)}",
        lambda body, _: int(body["revision"]),
        body=fields,
        idempotent=False,
    )


def retire_user_call(username: str) -> Call[int]:
    return Call(
        "DELETE",
        f"/api/v1/users/{_path_part(username)}",
        lambda body, _: int(body["revision"]),
        idempotent=False,
    )


def _path_part(text: str) -> str:
    from urllib.parse import quote

    return quote(text, safe="")


def cached_checks(
    checks: list[Check], cache: DecisionCache | None
) -> tuple[list[CheckResult | None], list[int]]:
    """The answers the cache already has, in order, and the indexes still to ask."""
    known: list[CheckResult | None] = [
        cache.get((c.subject, c.action, c.scope)) if cache is not None else None for c in checks
    ]
    return known, [i for i, r in enumerate(known) if r is None]


def as_checks(checks: Iterable[Check | tuple[str, str] | tuple[str, str, str | None]]) -> list[Check]:
    """Checks given as ``Check`` or as ``(action, scope)`` / ``(action, scope, subject)`` tuples."""
    return [c if isinstance(c, Check) else Check(*c) for c in checks]
