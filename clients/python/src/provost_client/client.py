"""The synchronous client (``aio.AsyncProvostClient`` is its twin: keep the two in step)."""

from __future__ import annotations

import time
from typing import Any, Iterable, TypeVar

import httpx

from . import _core
from ._core import Call, DecisionCache, RetryPolicy, RevisionTracker, TokenSource
from .errors import ProvostError, connection_error, error_from_response
from .models import Assignment, AuditEntry, BulkResult, Check, CheckResult, Page

T = TypeVar("T")

_UNSET: Any = object()


class ProvostClient:
    """A client for Provost's HTTP API (``/api/v1``).

    ``token`` is a JWT, or a function answering the one to send (see
    ``provost_client.django.bearer_token``). Idempotent calls are retried on 503 and connection
    errors (``retry``); every answer's revision is remembered and sent as ``at_least_revision``
    on later checks and lookups, so they see this client's writes even on another node.

    >>> with ProvostClient("http://127.0.0.1:8080", token=TOKEN) as provost:
    ...     provost.check("courses.view_course", "course-v1:MITx+6.00x+2024T1", subject="alice")
    """

    def __init__(
        self,
        base_url: str,
        token: TokenSource = None,
        *,
        timeout: float = 5.0,
        retry: RetryPolicy | None = None,
        transport: httpx.BaseTransport | None = None,
        _http: httpx.Client | None = None,
        _revisions: RevisionTracker | None = None,
    ) -> None:
        self._http = _http or httpx.Client(
            base_url=base_url.rstrip("/"), timeout=timeout, transport=transport
        )
        self._owns_http = _http is None
        self._token = token
        self._retry = retry or RetryPolicy()
        self._revisions = _revisions or RevisionTracker()

    def with_token(self, token: TokenSource) -> ProvostClient:
        """The same client (connections, retry policy, revisions seen) sending another token:
        e.g. the caller's own JWT, forwarded."""
        return ProvostClient(
            str(self._http.base_url),
            token,
            retry=self._retry,
            _http=self._http,
            _revisions=self._revisions,
        )

    @property
    def revision(self) -> int:
        """The highest revision this client has seen (0: none yet)."""
        return self._revisions.value

    def note_revision(self, revision: int) -> None:
        """Make later checks and lookups wait for ``revision``: one learned elsewhere, e.g. from
        an event on the event bus or another service's write."""
        self._revisions.saw(revision)

    def close(self) -> None:
        if self._owns_http:
            self._http.close()

    def __enter__(self) -> ProvostClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # Checks.

    def check(
        self,
        action: str,
        scope: str,
        subject: str | None = None,
        *,
        explain: bool = False,
        cache: DecisionCache | None = None,
    ) -> CheckResult:
        """May ``subject`` (the caller when ``None``) do ``action`` at ``scope``? Asking about
        someone else needs the ``authz.check_on_behalf`` permission (the ``authz_service`` role).
        With ``cache``, a question already answered there is not sent again."""
        key = (subject, action, scope)
        if cache is not None and not explain and (known := cache.get(key)) is not None:
            return known
        result = self._send(_core.check_call(action, scope, subject, explain))
        if cache is not None:
            cache.put(key, result)
        return result

    def explain(self, action: str, scope: str, subject: str | None = None) -> CheckResult:
        """A check with its reason, a sentence for a person, and the assignments behind it."""
        return self.check(action, scope, subject, explain=True)

    def check_batch(
        self,
        checks: Iterable[Check | tuple[str, str] | tuple[str, str, str | None]],
        *,
        cache: DecisionCache | None = None,
    ) -> list[CheckResult]:
        """Many checks in one request, answered in the order asked. Items are ``Check`` or
        ``(action, scope[, subject])`` tuples; with ``cache``, only the unanswered ones are sent."""
        wanted = _core.as_checks(checks)
        known, missing = _core.cached_checks(wanted, cache)
        if missing:
            answers = self._send(_core.batch_call([wanted[i] for i in missing]))
            for i, answer in zip(missing, answers):
                known[i] = answer
                if cache is not None:
                    c = wanted[i]
                    cache.put((c.subject, c.action, c.scope), answer)
        return [k for k in known if k is not None]

    # Lookups.

    def who(self, action: str, scope: str) -> list[str]:
        """Every subject who may do ``action`` at ``scope`` (all pages)."""
        return self._all_pages(lambda cursor: _core.who_call(action, scope, cursor))

    def scopes(self, action: str, subject: str | None = None, kind: str | None = None) -> list[str]:
        """Where ``subject`` (the caller when ``None``) may do ``action``: concrete scopes, globs
        (``course-v1:MITx+*``) and ancestors standing for everything below them (``org:MITx``,
        ``*``). See ``provost_client.scopes.ScopeSet`` to match keys against the answer."""
        return self._all_pages(lambda cursor: _core.scopes_call(action, subject, kind, cursor))

    # Assignments, users and the audit log.

    def list_assignments(
        self,
        *,
        subject: str | None = None,
        role: str | None = None,
        scope: str | None = None,
        limit: int | None = None,
        cursor: str | None = None,
    ) -> Page[Assignment]:
        """One page of assignments, sorted by subject, role and scope; filters combine."""
        return self._send(_core.assignments_call(subject, role, scope, limit, cursor))

    def assign(
        self, assignments: Assignment | Iterable[Assignment], *, atomic: bool = False
    ) -> BulkResult:
        """Create assignments. Answers each item's status (207 when some failed: see
        ``BulkResult.partial``); raises ``Forbidden``/``Refused``/``Conflict`` when none applied.
        Never retried: the server does not mark assignment writes idempotent."""
        return self._send(_core.bulk_call("POST", assignments, atomic))

    def unassign(
        self, assignments: Assignment | Iterable[Assignment], *, atomic: bool = False
    ) -> BulkResult:
        """Remove assignments (``removed`` or ``not_found`` per item). Never retried."""
        return self._send(_core.bulk_call("DELETE", assignments, atomic))

    def put_user(
        self,
        username: str,
        *,
        email: str | None = _UNSET,
        staff: bool | None = None,
        superuser: bool | None = None,
    ) -> int:
        """Create or update a user; what is left out keeps its stored value (``email=None``
        clears the email). Answers the revision."""
        fields: dict[str, Any] = {"staff": staff, "superuser": superuser}
        fields = {k: v for k, v in fields.items() if v is not None}
        if email is not _UNSET:
            fields["email"] = email
        return self._send(_core.put_user_call(username, fields))

    def retire_user(self, username: str) -> int:
        """Retire a user, removing every assignment they hold. Answers the revision."""
        return self._send(_core.retire_user_call(username))

    def audit(
        self,
        *,
        since: int | None = None,
        subject: str | None = None,
        scope: str | None = None,
        limit: int | None = None,
        cursor: str | None = None,
    ) -> Page[AuditEntry]:
        """One page of the audit log: newest first, or oldest first after ``since`` (a feed)."""
        return self._send(_core.audit_call(since, subject, scope, limit, cursor))

    # Sending.

    def _all_pages(self, call_for: Any) -> list[str]:
        items: list[str] = []
        cursor: str | None = None
        while True:
            page: Page[str] = self._send(call_for(cursor))
            items.extend(page.items)
            if page.next_cursor is None:
                return items
            cursor = page.next_cursor

    def _send(self, call: Call[T]) -> T:
        attempt = 0
        while True:
            try:
                return self._send_once(call)
            except ProvostError as error:
                if not self._retry.should_retry(call, error, attempt):
                    raise
            time.sleep(self._retry.delay(attempt))
            attempt += 1

    def _send_once(self, call: Call[T]) -> T:
        try:
            response = self._http.request(
                call.method,
                call.path,
                headers=_core.auth_headers(self._token),
                **call.request_args(self._revisions.value),
            )
        except httpx.TransportError as exc:
            raise connection_error(exc) from exc
        if response.status_code not in call.ok_statuses:
            raise error_from_response(response)
        return _core.parse_answer(call, response, self._revisions)
