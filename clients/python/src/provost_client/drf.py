"""Django REST framework integration: ``ProvostPermission``.

>>> class CourseSettings(APIView):
...     permission_classes = [
...         ProvostPermission.for_action(
...             "courses.edit_course_content",
...             scope=lambda request, view: view.kwargs["course_key"],
...         )
...     ]
"""

from __future__ import annotations

import inspect
from typing import Any, Callable

from rest_framework.exceptions import APIException
from rest_framework.permissions import BasePermission
from rest_framework.request import Request

from .django import provost_for
from .errors import Unavailable

#: The scope of a request: ``(request, view) -> key``.
RequestScope = Callable[[Request, Any], str]
#: The scope of an object: ``(request, view, obj) -> key``.
ObjectScope = Callable[[Request, Any, Any], str]


class ProvostUnavailable(APIException):
    status_code = 503
    default_detail = "The authorization service is unavailable."
    default_code = "provost_unavailable"


class ProvostPermission(BasePermission):
    """Allows a request when Provost says ``request.user`` may do ``action`` at the scope
    ``scope(request, view)`` answers, and an object when it may at ``object_scope(request, view,
    obj)``. Either may be left out (the other check alone decides). Anonymous users are refused
    without a call; decisions are cached for the request (``provost_for``). Make one with
    ``for_action``, or subclass it and set the three attributes (plain functions are fine)."""

    action: str = ""
    scope: RequestScope | None = None
    object_scope: ObjectScope | None = None

    @classmethod
    def for_action(
        cls,
        action: str,
        scope: RequestScope | None = None,
        object_scope: ObjectScope | None = None,
    ) -> type[ProvostPermission]:
        """A permission class for ``action`` (DRF's ``permission_classes`` takes classes)."""
        if scope is None and object_scope is None:
            raise ValueError("give `scope`, `object_scope` or both")
        attrs = {
            "action": action,
            # staticmethod: stored functions must not become bound methods.
            "scope": staticmethod(scope) if scope else None,
            "object_scope": staticmethod(object_scope) if object_scope else None,
        }
        return type(f"ProvostPermission[{action}]", (cls,), attrs)

    def has_permission(self, request: Request, view: Any) -> bool:
        scope = self._function("scope")
        if scope is None:
            return bool(request.user and request.user.is_authenticated)
        return self._allowed(request, scope(request, view))

    def has_object_permission(self, request: Request, view: Any, obj: Any) -> bool:
        object_scope = self._function("object_scope")
        if object_scope is None:
            return True
        return self._allowed(request, object_scope(request, view, obj))

    def _function(self, name: str) -> Any:
        """The function stored as ``name``, never bound to ``self``."""
        fn = inspect.getattr_static(self, name)
        return fn.__func__ if isinstance(fn, staticmethod) else fn

    def _allowed(self, request: Request, scope: str) -> bool:
        try:
            return provost_for(request).allowed(request.user, self.action, scope)
        except Unavailable as error:
            raise ProvostUnavailable() from error
