"""The async client: the same calls, awaited."""

from __future__ import annotations

import pytest
from conftest import FAST_RETRY, HARVARD_COURSE, MITX_COURSE, MITX_OTHER, People
from provost_server import Proxy, ProvostServer

from provost_client import Assignment, AsyncProvostClient, BadRequest, DecisionCache, Unavailable


async def test_async_checks_lookups_and_writes(server: ProvostServer, people: People) -> None:
    async with AsyncProvostClient(server.url, token=people.admin) as client:
        assert (await client.check("courses.view_course", MITX_COURSE, subject="alice")).allowed
        denied = await client.explain("courses.view_course", HARVARD_COURSE, subject="alice")
        assert not denied.allowed and denied.reason
        batch = await client.check_batch(
            [("courses.view_course", MITX_COURSE, "bob"), ("courses.view_course", MITX_OTHER, "bob")]
        )
        assert [r.allowed for r in batch] == [True, False]
        assert await client.scopes("courses.view_course", subject="carol") == ["course-v1:HarvardX+*"]
        assert "alice" in await client.who("courses.view_course", MITX_OTHER)

        written = await client.assign(Assignment("kim", "course_staff", MITX_OTHER))
        assert written.items[0].status == "created" and client.revision == written.revision
        assert (await client.check("courses.view_course", MITX_OTHER, subject="kim")).allowed
        page = await client.list_assignments(subject="kim")
        assert page.items == [Assignment("kim", "course_staff", MITX_OTHER)]
        audit = await client.audit(since=written.revision - 1, limit=5)
        assert audit.items[0].revision == written.revision
        removed = await client.unassign(Assignment("kim", "course_staff", MITX_OTHER))
        assert removed.items[0].status == "removed"
        with pytest.raises(BadRequest):
            await client.check("courses.view_course", "not-a-scope", subject="kim")


async def test_async_retries_reads_and_sends_revisions(proxy: Proxy, people: People) -> None:
    async with AsyncProvostClient(proxy.url, token=people.admin, retry=FAST_RETRY) as client:
        written = await client.assign(Assignment("lee", "course_staff", MITX_COURSE))
        proxy.fail = 2
        assert (await client.check("courses.view_course", MITX_COURSE, subject="lee")).allowed
    checks = proxy.calls("/api/v1/check")
    assert len(checks) == 3
    assert all(c.body["at_least_revision"] == written.revision for c in checks)


async def test_async_writes_are_not_retried_and_cache_works(proxy: Proxy, people: People) -> None:
    cache = DecisionCache()
    async with AsyncProvostClient(proxy.url, token=people.admin, retry=FAST_RETRY) as client:
        proxy.fail = 1
        with pytest.raises(Unavailable):
            await client.unassign(Assignment("lee", "course_staff", MITX_COURSE))
        for _ in range(2):
            await client.check("courses.view_course", MITX_COURSE, "alice", cache=cache)
    assert len(proxy.calls("/api/v1/assignments")) == 1
    assert len(proxy.calls("/api/v1/check")) == 1
