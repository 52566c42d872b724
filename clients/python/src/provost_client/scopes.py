"""Reading a ``scopes`` lookup's answer: which scope keys it covers.

The lookup answers concrete keys (``course-v1:MITx+6.00x+2024T1``), globs (``course-v1:MITx+*``,
``course-v1:*``, ``lib:MITx:*``, ``lib:*``) and ancestors that stand for everything below them:
``*`` for everything, ``org:MITx`` for whatever the org holds (its courses, libraries, programs).
Every key a check allows is covered by one entry. Course and library keys name their org, so
globs and orgs match them by prefix; a program's or batch's key does not, so an ``org:`` entry
matches those only through a separate org (see ``orgs``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable

#: The kinds of scope, and what each can contain.
_CONTAINS: dict[str, frozenset[str]] = {
    "instance": frozenset({"org", "course", "library", "program", "batch", "enterprise"}),
    "org": frozenset({"course", "library", "program", "batch"}),
    "course": frozenset({"batch"}),
}
KINDS = frozenset({"instance", "org", "course", "library", "program", "batch", "enterprise"})

_PREFIX_KIND = {
    "org:": "org",
    "course-v1:": "course",
    "lib:": "library",
    "program:": "program",
    "batch:": "batch",
    "enterprise:": "enterprise",
}


def kind_of(key: str) -> str | None:
    """The kind of a scope key or glob (``None`` for a malformed key)."""
    if key == "*":
        return "instance"
    for prefix, kind in _PREFIX_KIND.items():
        if key.startswith(prefix):
            return kind
    return None


@dataclass(frozen=True)
class ScopeSet:
    """What a ``scopes`` answer covers: ``everything``, keys equal to one of ``exact``, keys
    starting with one of ``prefixes`` (globs and orgs' courses and libraries), and the ``orgs``
    named by ``org:`` entries."""

    everything: bool
    exact: frozenset[str]
    prefixes: frozenset[str]
    orgs: frozenset[str]

    @classmethod
    def from_lookup(cls, answer: Iterable[str], kind: str | None = None) -> ScopeSet:
        """Reads a ``scopes`` answer. With ``kind``, only entries that are or may contain
        scopes of that kind count (``*`` and ``org:`` entries always may hold a course)."""
        if kind is not None and kind not in KINDS:
            raise ValueError(f"unknown scope kind `{kind}` ({', '.join(sorted(KINDS))})")
        everything = False
        exact: set[str] = set()
        prefixes: set[str] = set()
        orgs: set[str] = set()
        for key in answer:
            entry_kind = kind_of(key)
            if entry_kind is None:
                continue
            if kind is not None and entry_kind != kind and kind not in _CONTAINS.get(entry_kind, ()):
                continue
            if key == "*":
                everything = True
            elif key.endswith("*"):
                prefixes.add(key[:-1])  # course-v1:* / course-v1:ORG+* / lib:* / lib:ORG:*
            elif entry_kind == "org":
                org = key[len("org:") :]
                orgs.add(org)
                exact.add(key)
                prefixes.update({f"course-v1:{org}+", f"lib:{org}:"})
            else:
                exact.add(key)
        return cls(everything, frozenset(exact), frozenset(prefixes), frozenset(orgs))

    @property
    def empty(self) -> bool:
        return not (self.everything or self.exact or self.prefixes or self.orgs)

    def covers(self, key: str, org: str | None = None) -> bool:
        """Whether ``key`` (a thing whose org is ``org``, when known) is covered."""
        return (
            self.everything
            or key in self.exact
            or any(key.startswith(p) for p in self.prefixes)
            or (org is not None and org in self.orgs)
        )
