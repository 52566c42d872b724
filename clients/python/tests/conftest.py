"""Fixtures: one real `provost serve` for the session, tokens, a seeded set of users, and a small
Django project (settings here, the app in `testapp/`) on an in-memory SQLite database."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import django
import pytest
from django.conf import settings

from provost_client import Assignment, ProvostClient, RetryPolicy
from provost_server import Proxy, ProvostServer

settings.configure(
    DEBUG=False,
    SECRET_KEY="tests-only",
    ALLOWED_HOSTS=["testserver"],
    INSTALLED_APPS=[
        "django.contrib.contenttypes",
        "django.contrib.auth",
        "rest_framework",
        "testapp",
    ],
    MIDDLEWARE=["testapp.auth.JwtUserMiddleware"],
    DATABASES={"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}},
    ROOT_URLCONF="testapp.urls",
    REST_FRAMEWORK={
        "DEFAULT_AUTHENTICATION_CLASSES": ["testapp.auth.JwtUserAuthentication"],
        "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
    },
    USE_TZ=True,
    PROVOST_URL="http://127.0.0.1:9",  # set to the test server per test (fixture `django_provost`)
)
django.setup()

MITX_COURSE = "course-v1:MITx+6.00x+2024T1"
MITX_OTHER = "course-v1:MITx+18.01x+2024T1"
HARVARD_COURSE = "course-v1:HarvardX+CS50+2024"


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ProvostServer]:
    running = ProvostServer(Path(tmp_path_factory.mktemp("provost")))
    yield running
    running.stop()


@dataclass
class People:
    """Tokens of the seeded users (see `people`)."""

    admin: str
    svc: str
    alice: str
    bob: str
    carol: str
    dave: str
    sam: str


@pytest.fixture(scope="session")
def people(server: ProvostServer) -> People:
    """alice: course staff in every MITx course (org:MITx); bob: staff of one MITx course; carol:
    staff in every HarvardX course; dave: no role; sam: platform staff; svc: a service that asks
    on behalf of users (authz_service at `*`); admin: a superuser. Made through the client."""
    admin = server.token("admin", "--superuser")
    with ProvostClient(server.url, token=admin) as client:
        client.put_user("sam", staff=True)
        client.put_user("dave")
        client.assign(
            [
                Assignment("svc", "authz_service", "*"),
                Assignment("alice", "course_staff", "org:MITx"),
                Assignment("bob", "course_staff", MITX_COURSE),
                Assignment("carol", "course_staff", "org:HarvardX"),
            ],
            atomic=True,
        )
    return People(
        admin=admin,
        svc=server.token("svc"),
        alice=server.token("alice"),
        bob=server.token("bob"),
        carol=server.token("carol"),
        dave=server.token("dave"),
        sam=server.token("sam"),
    )


#: Fast retries, so tests of retrying do not wait.
FAST_RETRY = RetryPolicy(attempts=4, base_delay=0.01, max_delay=0.05)


@pytest.fixture
def admin_client(server: ProvostServer, people: People) -> Iterator[ProvostClient]:
    with ProvostClient(server.url, token=people.admin, retry=FAST_RETRY) as client:
        yield client


@pytest.fixture
def proxy(server: ProvostServer) -> Iterator[Proxy]:
    running = Proxy(server.url)
    yield running
    running.close()
