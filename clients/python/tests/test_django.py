"""The Django and DRF integration, in a small Django app (`testapp`) asking a real Provost."""

from __future__ import annotations

from typing import Any, Iterator

import pytest
from conftest import HARVARD_COURSE, MITX_COURSE, MITX_OTHER, People
from django.core.management import call_command
from django.test import Client, override_settings
from provost_server import Proxy
from testapp.models import Course, Program


@pytest.fixture(scope="module", autouse=True)
def courses() -> dict[str, int]:
    call_command("migrate", run_syncdb=True, verbosity=0)
    made = [
        Course.objects.create(course_key=MITX_COURSE, org="MITx", title="Computation"),
        Course.objects.create(course_key=MITX_OTHER, org="MITx", title="Calculus"),
        Course.objects.create(course_key=HARVARD_COURSE, org="HarvardX", title="CS50"),
    ]
    return {c.course_key: c.pk for c in made}


@pytest.fixture
def service_token(proxy: Proxy, people: People) -> Iterator[None]:
    """Django asks Provost with its own service token (authz_service), through the proxy."""
    with override_settings(PROVOST_URL=proxy.url, PROVOST_TOKEN=people.svc):
        yield


def as_user(token: str | None) -> Client:
    return Client(HTTP_AUTHORIZATION=f"Bearer {token}") if token else Client()


def test_drf_permission_allows_only_who_provost_allows(service_token: None, people: People) -> None:
    url = f"/api/outline/{MITX_COURSE}/"
    assert as_user(people.alice).get(url).status_code == 200  # staff of every MITx course
    assert as_user(people.bob).get(url).status_code == 200  # staff of this course
    assert as_user(people.carol).get(url).status_code == 403  # another org's staff
    assert as_user(people.dave).get(url).status_code == 403  # no role
    assert as_user(None).get(url).status_code == 403  # anonymous
    assert as_user(people.bob).get(f"/api/outline/{MITX_OTHER}/").status_code == 403


def test_drf_object_permission_uses_the_row(
    service_token: None, people: People, courses: dict[str, int]
) -> None:
    mitx, harvard = courses[MITX_COURSE], courses[HARVARD_COURSE]
    assert as_user(people.alice).get(f"/api/courses/{mitx}/").status_code == 200
    assert as_user(people.alice).get(f"/api/courses/{harvard}/").status_code == 403
    assert as_user(people.carol).get(f"/api/courses/{harvard}/").status_code == 200
    assert as_user(people.carol).get(f"/api/courses/{mitx}/").status_code == 403
    assert as_user(people.dave).get(f"/api/courses/{mitx}/").status_code == 403


def test_decorated_view_and_the_request_cache(
    service_token: None, people: People, proxy: Proxy
) -> None:
    answer = as_user(people.alice).get(f"/courses/{MITX_COURSE}/")
    assert answer.status_code == 200 and answer.json()["asked_again"] is True
    # The decorator and the view asked the same question: one HTTP call, for `alice`.
    checks = proxy.calls("/api/v1/check")
    assert len(checks) == 1 and checks[0].body["subject"] == "alice"
    assert checks[0].authorization == f"Bearer {people.svc}"
    assert as_user(people.carol).get(f"/courses/{MITX_COURSE}/").status_code == 403
    assert as_user(people.dave).get(f"/courses/{MITX_COURSE}/").status_code == 403
    assert as_user(None).get(f"/courses/{MITX_COURSE}/").status_code == 403
    # Another request, another cache: asked again.
    assert as_user(people.alice).get(f"/courses/{MITX_COURSE}/").status_code == 200
    assert len([c for c in proxy.calls("/api/v1/check") if c.body["subject"] == "alice"]) == 2


def listed(token: str) -> list[str]:
    answer = as_user(token).get("/api/courses/")
    assert answer.status_code == 200
    return [c["course_key"] for c in answer.json()]


def test_queryset_filter_lists_only_permitted_rows(
    service_token: None, people: People, proxy: Proxy
) -> None:
    assert listed(people.alice) == [MITX_OTHER, MITX_COURSE]  # org-wide: the MITx glob
    assert listed(people.bob) == [MITX_COURSE]  # one course
    assert listed(people.carol) == [HARVARD_COURSE]  # another org
    assert listed(people.sam) == [HARVARD_COURSE, MITX_OTHER, MITX_COURSE]  # staff: everywhere
    assert listed(people.dave) == []
    # One lookup per listing, no check per row.
    assert len(proxy.calls("/api/v1/lookup/scopes")) == 5
    assert proxy.calls("/api/v1/check") == []


def test_queryset_filter_with_instance_wide_and_org_wide_answers(
    proxy: Proxy, people: People, admin_client: Any
) -> None:
    from provost_client import Assignment
    from provost_client.django import filter_queryset_by_scopes

    admin_client.assign(
        [
            Assignment("olga", "course_staff", "*"),
            Assignment("pia", "course_staff", "org:HarvardX"),
            Assignment("pia", "course_staff", MITX_OTHER),
        ]
    )
    with override_settings(PROVOST_URL=proxy.url, PROVOST_TOKEN=people.svc):
        everything = filter_queryset_by_scopes(Course.objects.all(), "olga", "courses.view_course")
        assert everything.count() == 3
        mixed = filter_queryset_by_scopes(
            Course.objects.order_by("course_key"), "pia", "courses.view_course", org_field="org"
        )
        assert [c.course_key for c in mixed] == [HARVARD_COURSE, MITX_OTHER]


def test_the_callers_jwt_is_forwarded_without_a_service_token(
    proxy: Proxy, people: People
) -> None:
    with override_settings(PROVOST_URL=proxy.url, PROVOST_TOKEN=None):
        assert as_user(people.alice).get(f"/api/outline/{MITX_COURSE}/").status_code == 200
        assert as_user(people.dave).get(f"/api/outline/{MITX_COURSE}/").status_code == 403
        assert listed(people.bob) == [MITX_COURSE]
    sent = [c.authorization for c in proxy.seen]
    assert sent == [f"Bearer {people.alice}", f"Bearer {people.dave}", f"Bearer {people.bob}"]


def test_an_unreachable_provost_answers_503(people: People) -> None:
    with override_settings(PROVOST_URL="http://127.0.0.1:9", PROVOST_TOKEN=people.svc):
        assert as_user(people.alice).get(f"/api/outline/{MITX_COURSE}/").status_code == 503
        assert as_user(people.alice).get(f"/courses/{MITX_COURSE}/").status_code == 503


def test_queryset_filter_matches_an_org_answer_by_the_org_field(
    proxy: Proxy, people: People, admin_client: Any
) -> None:
    from provost_client import Assignment
    from provost_client.django import filter_queryset_by_scopes

    for key, org in [("program:mm-ds", "MITx"), ("program:mm-ai", "MITx"), ("program:cs", "HarvardX")]:
        Program.objects.get_or_create(program_key=key, org=org)
    admin_client.assign(Assignment("pam", "program_admin", "org:MITx"))
    admin_client.put_user("root", superuser=True)
    # For program actions the lookup answers the org itself (`org:MITx`), and `*` for a superuser.
    assert admin_client.scopes("programs.read_metadata", subject="pam") == ["org:MITx"]
    assert admin_client.scopes("programs.read_metadata", subject="root") == ["*"]
    programs = Program.objects.order_by("program_key")
    with override_settings(PROVOST_URL=proxy.url, PROVOST_TOKEN=people.svc):
        mitx = filter_queryset_by_scopes(
            programs, "pam", "programs.read_metadata", field="program_key", org_field="org"
        )
        assert [p.program_key for p in mitx] == ["program:mm-ai", "program:mm-ds"]
        everything = filter_queryset_by_scopes(
            programs, "root", "programs.read_metadata", field="program_key", scope_type="program"
        )
        assert everything.count() == 3
        # Without the org field, the program keys alone do not say they are MITx's.
        assert not filter_queryset_by_scopes(
            programs, "pam", "programs.read_metadata", field="program_key"
        ).exists()
