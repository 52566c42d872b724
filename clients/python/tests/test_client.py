"""The sync client against a real `provost serve`."""

from __future__ import annotations

import json

import pytest
from conftest import FAST_RETRY, HARVARD_COURSE, MITX_COURSE, MITX_OTHER, People
from provost_server import Proxy, ProvostServer

from provost_client import (
    Assignment,
    BadRequest,
    Check,
    DecisionCache,
    Forbidden,
    ProvostClient,
    RetryPolicy,
    Unauthorized,
    Unavailable,
)


def test_check_allows_and_denies(admin_client: ProvostClient, people: People) -> None:
    assert admin_client.check("courses.edit_course_content", MITX_COURSE, subject="alice").allowed
    assert not admin_client.check("courses.edit_course_content", HARVARD_COURSE, subject="alice")
    assert not admin_client.check("courses.view_course", MITX_COURSE, subject="dave").allowed


def test_check_without_subject_asks_about_the_caller(server: ProvostServer, people: People) -> None:
    with ProvostClient(server.url, token=people.alice) as alice:
        assert alice.check("courses.view_course", MITX_OTHER).allowed
        assert not alice.check("courses.view_course", HARVARD_COURSE).allowed
        # Asking about someone else needs authz.check_on_behalf.
        with pytest.raises(Forbidden) as denied:
            alice.check("courses.view_course", MITX_COURSE, subject="bob")
        assert denied.value.code == "forbidden" and denied.value.status == 403


def test_batch_answers_in_order(admin_client: ProvostClient, people: People) -> None:
    results = admin_client.check_batch(
        [
            ("courses.view_course", MITX_COURSE, "alice"),
            Check("courses.view_course", HARVARD_COURSE, subject="alice"),
            ("courses.view_course", HARVARD_COURSE, "carol"),
            ("courses.view_course", MITX_OTHER, "bob"),
        ]
    )
    assert [r.allowed for r in results] == [True, False, True, False]
    assert len({r.revision for r in results}) == 1


def test_explain_says_why(admin_client: ProvostClient, people: People) -> None:
    allowed = admin_client.explain("courses.edit_course_content", MITX_COURSE, subject="alice")
    assert allowed.allowed and allowed.reason == "assignment"
    assert allowed.because and allowed.because[0]["held_at"] == "org:MITx"
    admin_client.assign(Assignment("lena", "library_author", "lib:MITx:python"))
    denied = admin_client.explain("content_libraries.delete_library", "lib:MITx:python", "lena")
    assert not denied.allowed
    assert denied.reason == "role_lacks_action"
    assert denied.would_grant == ["library_admin"]
    assert denied.message and "lena" in denied.message


def test_who_and_scopes(admin_client: ProvostClient, people: People) -> None:
    who = admin_client.who("courses.view_course", MITX_COURSE)
    assert {"alice", "bob"} <= set(who) and "carol" not in who and "dave" not in who
    assert admin_client.scopes("courses.view_course", subject="alice") == ["course-v1:MITx+*"]
    assert admin_client.scopes("courses.view_course", subject="bob") == [MITX_COURSE]
    assert admin_client.scopes("courses.view_course", subject="sam") == ["course-v1:*"]
    assert admin_client.scopes("courses.view_course", subject="dave") == []


def test_assign_list_unassign_and_audit(admin_client: ProvostClient, people: People) -> None:
    grant = Assignment("erin", "course_editor", "course-v1:MITx+*")
    created = admin_client.assign(grant)
    assert [i.status for i in created.items] == ["created"] and created.status == 200
    assert admin_client.assign(grant).items[0].status == "exists"
    assert admin_client.list_assignments(subject="erin").items == [grant]
    assert admin_client.check("courses.edit_course_content", MITX_COURSE, "erin").allowed

    entries = admin_client.audit(subject="erin", limit=10).items
    assert entries[0].revision == created.revision
    assert entries[0].op == "assignment_add" and entries[0].actor == "admin"
    assert entries[0].change["assignment"]["subject"] == "erin"

    removed = admin_client.unassign(grant)
    assert removed.items[0].status == "removed" and removed.revision > created.revision
    assert admin_client.unassign(grant).items[0].status == "not_found"
    assert not admin_client.check("courses.edit_course_content", MITX_COURSE, "erin").allowed


def test_a_partly_refused_write_answers_each_item(admin_client: ProvostClient) -> None:
    result = admin_client.assign(
        [Assignment("fay", "course_staff", "org:MITx"), Assignment("fay", "no_such_role", "org:MITx")]
    )
    assert result.status == 207 and result.partial
    assert [i.status for i in result.items] == ["created", "error"]
    assert result.items[1].error_code == "unknown_role"


def test_errors_carry_code_status_and_message(server: ProvostServer, people: People) -> None:
    with ProvostClient(server.url, token=people.admin) as admin:
        with pytest.raises(BadRequest) as bad:
            admin.check("courses.view_course", "org:MIT*", subject="alice")
        assert bad.value.code == "invalid_scope" and bad.value.status == 400
        assert "cannot hold a glob" in bad.value.message
    with ProvostClient(server.url) as anonymous:
        with pytest.raises(Unauthorized) as missing:
            anonymous.check("courses.view_course", MITX_COURSE)
        assert missing.value.code == "missing_token"
    with ProvostClient(server.url, token=people.dave) as dave:
        with pytest.raises(Forbidden) as refused:
            dave.assign(Assignment("dave", "course_admin", "org:MITx"))
        assert refused.value.details["items"][0]["error"]["code"] == "forbidden"


def test_reads_send_the_highest_revision_seen(proxy: Proxy, people: People) -> None:
    with ProvostClient(proxy.url, token=people.admin) as client:
        assert client.revision == 0
        client.check("courses.view_course", MITX_COURSE, subject="alice")
        assert "at_least_revision" not in proxy.calls("/api/v1/check")[0].body  # nothing seen yet
        written = client.assign(Assignment("gus", "course_staff", MITX_OTHER))
        assert client.revision == written.revision
        assert client.check("courses.view_course", MITX_OTHER, subject="gus").allowed
        client.check_batch([("courses.view_course", MITX_OTHER, "gus")])
        client.scopes("courses.view_course", subject="gus")
        client.who("courses.view_course", MITX_OTHER)
        client.audit(limit=1)
    assert proxy.calls("/api/v1/check")[-1].body["at_least_revision"] == written.revision
    assert proxy.calls("/api/v1/check/batch")[0].body["at_least_revision"] == written.revision
    for path in ("/api/v1/lookup/scopes", "/api/v1/lookup/subjects"):
        assert proxy.calls(path)[0].query["at_least_revision"] == [str(written.revision)]
    # The audit log reads the database itself and takes no such parameter.
    assert "at_least_revision" not in proxy.calls("/api/v1/audit")[0].query


def test_the_server_honours_at_least_revision(server: ProvostServer, people: People) -> None:
    # A change made by the CLI, beside the server: the server sees it at its next poll of the
    # audit log. A check that asks for its revision waits for it, so it sees the change.
    out = json.loads(server.cli("--json", "assign", "hal", "course_staff", MITX_COURSE))
    revision = out["revision"]
    with ProvostClient(server.url, token=people.admin) as client:
        client.note_revision(revision)
        answer = client.check("courses.view_course", MITX_COURSE, subject="hal")
        assert answer.allowed and answer.revision >= revision
    # A revision no node has reached: 503 `revision_not_reached` (here without retries).
    with ProvostClient(server.url, token=people.admin, retry=RetryPolicy(attempts=1)) as client:
        client.note_revision(revision + 1_000_000)
        with pytest.raises(Unavailable) as late:
            client.check("courses.view_course", MITX_COURSE, subject="hal")
        assert late.value.code == "revision_not_reached" and late.value.status == 503


def test_reads_are_retried_on_503(proxy: Proxy, people: People) -> None:
    proxy.fail = 2
    with ProvostClient(proxy.url, token=people.admin, retry=FAST_RETRY) as client:
        assert client.check("courses.view_course", MITX_COURSE, subject="alice").allowed
    assert len(proxy.calls("/api/v1/check")) == 3


def test_reads_are_retried_on_dropped_connections(proxy: Proxy, people: People) -> None:
    proxy.fail, proxy.drop = 2, True
    with ProvostClient(proxy.url, token=people.admin, retry=FAST_RETRY) as client:
        assert client.scopes("courses.view_course", subject="alice") == ["course-v1:MITx+*"]
    assert len(proxy.calls("/api/v1/lookup/scopes")) == 3


def test_retries_are_bounded(proxy: Proxy, people: People) -> None:
    proxy.fail = 10
    with ProvostClient(proxy.url, token=people.admin, retry=FAST_RETRY) as client:
        with pytest.raises(Unavailable) as down:
            client.check("courses.view_course", MITX_COURSE, subject="alice")
    assert down.value.code == "database_unavailable" and down.value.status == 503
    assert len(proxy.calls("/api/v1/check")) == FAST_RETRY.attempts


def test_writes_are_never_retried(proxy: Proxy, people: People) -> None:
    proxy.fail = 1
    with ProvostClient(proxy.url, token=people.admin, retry=FAST_RETRY) as client:
        with pytest.raises(Unavailable):
            client.assign(Assignment("ivy", "course_staff", MITX_COURSE))
    assert len(proxy.calls("/api/v1/assignments")) == 1


def test_a_server_that_is_not_there_is_unavailable() -> None:
    with ProvostClient("http://127.0.0.1:9", token="x", retry=FAST_RETRY) as client:
        with pytest.raises(Unavailable) as down:
            client.check("courses.view_course", MITX_COURSE)
    assert down.value.code == "connection_error" and down.value.status is None


def test_the_decision_cache_asks_once(proxy: Proxy, people: People) -> None:
    cache = DecisionCache()
    with ProvostClient(proxy.url, token=people.admin) as client:
        for _ in range(3):
            assert client.check("courses.view_course", MITX_COURSE, "alice", cache=cache).allowed
        assert not client.check("courses.view_course", HARVARD_COURSE, "alice", cache=cache)
        # A batch sends only what the cache does not know.
        answers = client.check_batch(
            [
                ("courses.view_course", MITX_COURSE, "alice"),
                ("courses.view_course", HARVARD_COURSE, "carol"),
            ],
            cache=cache,
        )
        assert [a.allowed for a in answers] == [True, True]
        assert client.check("courses.view_course", HARVARD_COURSE, "carol", cache=cache).allowed
    assert len(proxy.calls("/api/v1/check")) == 2
    assert [len(c.body["checks"]) for c in proxy.calls("/api/v1/check/batch")] == [1]
    assert len(cache) == 3


def test_with_token_shares_revisions(server: ProvostServer, people: People) -> None:
    with ProvostClient(server.url, token=people.admin) as admin:
        written = admin.assign(Assignment("jo", "course_staff", MITX_COURSE))
        jo = admin.with_token(server.token("jo"))
        assert jo.revision == written.revision
        assert jo.check("courses.view_course", MITX_COURSE).allowed
