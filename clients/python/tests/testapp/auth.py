"""Who the caller is: the username in the request's JWT, as Open edX services learn it from
edx-drf-extensions. For the tests only: the signature is not verified here (Provost verifies the
token when it is forwarded to it)."""

from __future__ import annotations

import base64
import json
from typing import Any, Callable

from django.contrib.auth.models import AnonymousUser, User
from django.http import HttpRequest, HttpResponse
from rest_framework.authentication import BaseAuthentication

from provost_client.django import bearer_token


def user_of(request: Any) -> Any:
    token = bearer_token(request)
    if token is None:
        return None
    payload = token.split(".")[1]
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    username = claims.get("preferred_username") or claims["sub"]
    user, _ = User.objects.get_or_create(username=username)
    return user


class JwtUserMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        request.user = user_of(request) or AnonymousUser()
        return self.get_response(request)


class JwtUserAuthentication(BaseAuthentication):
    def authenticate(self, request: Any) -> tuple[Any, str] | None:
        user = user_of(request)
        return None if user is None else (user, bearer_token(request) or "")
