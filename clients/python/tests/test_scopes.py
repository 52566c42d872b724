"""Reading a `scopes` answer: every kind of entry the engine's lookup answers."""

from __future__ import annotations

import pytest

from provost_client import ScopeSet


def test_instance_covers_everything() -> None:
    covered = ScopeSet.from_lookup(["*"])
    assert covered.everything and covered.covers("program:anything")


def test_globs_cover_by_prefix() -> None:
    covered = ScopeSet.from_lookup(["course-v1:MITx+*", "lib:*"])
    assert covered.covers("course-v1:MITx+6.00x+2024T1")
    assert not covered.covers("course-v1:MITxx+6.00x+2024T1")
    assert not covered.covers("course-v1:HarvardX+CS50+2024")
    assert covered.covers("lib:HarvardX:python")


def test_an_org_covers_its_courses_libraries_and_things_of_the_org() -> None:
    covered = ScopeSet.from_lookup(["org:MITx"])
    assert covered.covers("course-v1:MITx+6.00x+2024T1") and covered.covers("lib:MITx:python")
    assert covered.covers("org:MITx")
    assert covered.covers("program:mm-ds", org="MITx")
    assert not covered.covers("program:mm-ds")
    assert not covered.covers("course-v1:HarvardX+CS50+2024")


def test_concrete_keys_cover_themselves() -> None:
    covered = ScopeSet.from_lookup(["course-v1:MITx+6.00x+2024T1"])
    assert covered.covers("course-v1:MITx+6.00x+2024T1")
    assert not covered.covers("course-v1:MITx+6.00x+2024T2")


def test_a_kind_keeps_only_entries_that_may_hold_it() -> None:
    covered = ScopeSet.from_lookup(["*", "org:MITx", "lib:MITx:python", "program:x"], "course")
    assert covered.everything and "org:MITx" in covered.exact
    assert "lib:MITx:python" not in covered.exact and "program:x" not in covered.exact
    assert ScopeSet.from_lookup([], "course").empty
    with pytest.raises(ValueError):
        ScopeSet.from_lookup([], "galaxy")
