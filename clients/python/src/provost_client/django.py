"""Django integration: the client from settings, a per-request decision cache, a view decorator
and a queryset filter. (``provost_client.drf`` has the DRF permission class.)

Settings:

- ``PROVOST_URL``: the server, e.g. ``http://provost:8080`` (required).
- ``PROVOST_TOKEN``: the service's own JWT; its user needs ``authz.check_on_behalf`` (the
  ``authz_service`` role) to ask about others. Without it, each request's own
  ``Authorization: Bearer``/``JWT`` token is forwarded, and users can ask only about themselves.
- ``PROVOST_TIMEOUT``: seconds per HTTP call (default 5).
"""

from __future__ import annotations

import functools
import threading
from typing import Any, Callable, TypeVar, Union

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured, PermissionDenied
from django.db.models import Model, Q, QuerySet
from django.http import HttpRequest, HttpResponse

from ._core import DecisionCache
from .client import ProvostClient
from .errors import Unavailable
from .scopes import ScopeSet

M = TypeVar("M", bound=Model)
F = TypeVar("F", bound=Callable[..., Any])

#: A scope for a plain view: a key, or a function of the view's arguments answering one.
ViewScope = Union[str, Callable[..., str]]

_clients: dict[tuple[str, str | None, float], ProvostClient] = {}
_clients_lock = threading.Lock()


def get_client() -> ProvostClient:
    """The process's client for the current settings (one per URL and token: connections,
    and the revisions seen for read-your-writes, are shared by every request)."""
    url = getattr(settings, "PROVOST_URL", None)
    if not url:
        raise ImproperlyConfigured("set PROVOST_URL to the Provost server, e.g. http://provost:8080")
    key = (url, getattr(settings, "PROVOST_TOKEN", None), float(getattr(settings, "PROVOST_TIMEOUT", 5.0)))
    with _clients_lock:
        if key not in _clients:
            _clients[key] = ProvostClient(key[0], token=key[1], timeout=key[2])
        return _clients[key]


def bearer_token(request: Any) -> str | None:
    """The JWT of the request's ``Authorization: Bearer <jwt>`` (or Open edX's ``JWT <jwt>``)."""
    request = getattr(request, "_request", request)  # a DRF Request wraps Django's
    header = str(request.META.get("HTTP_AUTHORIZATION", ""))
    scheme, _, token = header.partition(" ")
    if scheme.lower() in ("bearer", "jwt") and token.strip():
        return token.strip()
    return None


def username_of(user: Any) -> str | None:
    """The username Provost knows ``user`` by (``None`` for an anonymous user)."""
    if user is None or isinstance(user, str):
        return user
    if not getattr(user, "is_authenticated", False):
        return None
    return str(user.get_username())


class RequestProvost:
    """Provost for one request: the client (with the service token, or the caller's JWT
    forwarded) and a decision cache that lives as long as the request."""

    def __init__(self, client: ProvostClient, cache: DecisionCache | None = None) -> None:
        self.client = client
        self.cache = cache if cache is not None else DecisionCache()

    def allowed(self, user: Any, action: str, scope: str) -> bool:
        """Whether ``user`` (a Django user or a username) may do ``action`` at ``scope``;
        anonymous users may not (and cost no call)."""
        username = username_of(user)
        if username is None:
            return False
        return self.client.check(action, scope, subject=username, cache=self.cache).allowed


def provost_for(request: Any) -> RequestProvost:
    """The request's ``RequestProvost``, made on first use (a DRF request and the Django request
    it wraps share one)."""
    target = getattr(request, "_request", request)
    existing = getattr(target, "_provost", None)
    if isinstance(existing, RequestProvost):
        return existing
    client = get_client()
    if not getattr(settings, "PROVOST_TOKEN", None):
        client = client.with_token(bearer_token(target))
    made = RequestProvost(client)
    target._provost = made
    return made


def provost_required(action: str, scope: ViewScope) -> Callable[[F], F]:
    """Allow a plain Django view only to users who may do ``action`` at ``scope``; others get
    403 (503 when Provost cannot answer). ``scope`` is a key, or a function called with the view's
    arguments (``request, *args, **kwargs``) answering one.

    >>> @provost_required("courses.view_course", scope=lambda request, course_key: course_key)
    ... def course_page(request, course_key): ...
    """

    def decorate(view: F) -> F:
        @functools.wraps(view)
        def guarded(request: HttpRequest, *args: Any, **kwargs: Any) -> Any:
            key = scope(request, *args, **kwargs) if callable(scope) else scope
            try:
                allowed = provost_for(request).allowed(request.user, action, key)
            except Unavailable:
                return HttpResponse("authorization service unavailable", status=503)
            if not allowed:
                raise PermissionDenied(f"may not {action} at {key}")
            return view(request, *args, **kwargs)

        return guarded  # type: ignore[return-value]

    return decorate


def filter_queryset_by_scopes(
    queryset: QuerySet[M],
    user: Any,
    action: str,
    *,
    field: str = "course_key",
    scope_type: str | None = None,
    org_field: str | None = None,
    request: Any = None,
) -> QuerySet[M]:
    """The rows whose ``field`` (a scope key) ``user`` may do ``action`` at: one ``scopes``
    lookup, then one filter in the database, never a check per row.

    Instance-wide answers keep every row, globs (``course-v1:MITx+*``) and orgs (``org:MITx``)
    match by key prefix; ``org_field``, when given, also matches rows of an ``org:`` answer's
    org by that field (for keys that do not name their org, like programs). ``scope_type``
    (``course``, ``library``, ...) ignores answers that cannot hold keys of that kind. With
    ``request``, its client is used (its forwarded token, when no ``PROVOST_TOKEN``).
    """
    username = username_of(user)
    if username is None:
        return queryset.none()
    client = provost_for(request).client if request is not None else get_client()
    covered = ScopeSet.from_lookup(client.scopes(action, subject=username), scope_type)
    if covered.everything:
        return queryset
    condition = Q(pk__in=[])
    if covered.exact:
        condition |= Q(**{f"{field}__in": sorted(covered.exact)})
    for prefix in sorted(covered.prefixes):
        condition |= Q(**{f"{field}__startswith": prefix})
    if org_field is not None and covered.orgs:
        condition |= Q(**{f"{org_field}__in": sorted(covered.orgs)})
    return queryset.filter(condition)
