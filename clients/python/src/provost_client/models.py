"""The shapes Provost answers with, as small typed objects."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Generic, Mapping, TypeVar

T = TypeVar("T")


@dataclass(frozen=True)
class CheckResult:
    """The answer to one check. ``bool(result)`` is ``result.allowed``.

    With ``explain=True``: ``reason`` (``assignment``, ``role_lacks_action``, ...), ``message`` (a
    sentence for a person), ``because`` (the assignments behind it) and, when a role lacked the
    action, ``would_grant`` (roles that would grant it there).
    """

    allowed: bool
    revision: int
    reason: str | None = None
    message: str | None = None
    because: list[dict[str, Any]] | None = None
    would_grant: list[str] | None = None

    def __bool__(self) -> bool:
        return self.allowed

    @classmethod
    def from_json(cls, body: Mapping[str, Any]) -> CheckResult:
        return cls(
            allowed=bool(body["allowed"]),
            revision=int(body["revision"]),
            reason=body.get("reason"),
            message=body.get("message"),
            because=body.get("because"),
            would_grant=body.get("would_grant"),
        )


@dataclass(frozen=True)
class Check:
    """One question of a batch: may ``subject`` (the caller when ``None``) do ``action`` at ``scope``?"""

    action: str
    scope: str
    subject: str | None = None

    def to_json(self) -> dict[str, Any]:
        body: dict[str, Any] = {"action": self.action, "scope": self.scope}
        if self.subject is not None:
            body["subject"] = self.subject
        return body


@dataclass(frozen=True)
class Assignment:
    """``subject`` holds ``role`` at ``scope`` (and below it), optionally within a time window."""

    subject: str
    role: str
    scope: str
    valid_from: datetime | None = None
    valid_until: datetime | None = None

    def to_json(self) -> dict[str, Any]:
        body: dict[str, Any] = {"subject": self.subject, "role": self.role, "scope": self.scope}
        if self.valid_from is not None:
            body["valid_from"] = self.valid_from.isoformat()
        if self.valid_until is not None:
            body["valid_until"] = self.valid_until.isoformat()
        return body

    @classmethod
    def from_json(cls, body: Mapping[str, Any]) -> Assignment:
        return cls(
            subject=body["subject"],
            role=body["role"],
            scope=body["scope"],
            valid_from=_time(body.get("valid_from")),
            valid_until=_time(body.get("valid_until")),
        )


@dataclass(frozen=True)
class ItemResult:
    """One item of a bulk write: ``status`` is ``created``, ``exists``, ``updated``, ``removed``,
    ``not_found``, ``error`` (see ``error_code``/``error_message``) or ``skipped``."""

    index: int
    status: str
    assignment: Assignment | None = None
    error_code: str | None = None
    error_message: str | None = None

    @property
    def ok(self) -> bool:
        return self.status not in ("error", "skipped")

    @classmethod
    def from_json(cls, body: Mapping[str, Any]) -> ItemResult:
        error = body.get("error") or {}
        assignment = body.get("assignment")
        return cls(
            index=int(body["index"]),
            status=str(body["status"]),
            assignment=Assignment.from_json(assignment) if assignment else None,
            error_code=error.get("code"),
            error_message=error.get("message"),
        )


@dataclass(frozen=True)
class BulkResult:
    """The answer to a bulk write (200, or 207 when only some items applied)."""

    items: list[ItemResult]
    revision: int
    status: int

    @property
    def partial(self) -> bool:
        """Some items failed (the server answered 207)."""
        return any(not item.ok for item in self.items)

    @classmethod
    def from_json(cls, body: Mapping[str, Any], status: int) -> BulkResult:
        return cls(
            items=[ItemResult.from_json(i) for i in body["items"]],
            revision=int(body["revision"]),
            status=status,
        )


@dataclass(frozen=True)
class AuditEntry:
    """One change of the audit log. ``op`` is ``assignment_add``, ``user_put``, ... or an app's own
    operation (then ``app`` is set); ``change`` is what was written."""

    revision: int
    at: datetime
    actor: str
    op: str
    change: Any
    before: Any = None
    app: str | None = None
    subject: str | None = None
    scope: str | None = None

    @classmethod
    def from_json(cls, body: Mapping[str, Any]) -> AuditEntry:
        at = _time(body["at"])
        assert at is not None
        return cls(
            revision=int(body["revision"]),
            at=at,
            actor=body["actor"],
            op=body["op"],
            change=body.get("change"),
            before=body.get("before"),
            app=body.get("app"),
            subject=body.get("subject"),
            scope=body.get("scope"),
        )


@dataclass(frozen=True)
class Page(Generic[T]):
    """One page of a listing; pass ``next_cursor`` back as ``cursor`` (``None``: the last page)."""

    items: list[T] = field(default_factory=list)
    next_cursor: str | None = None


def _time(text: str | None) -> datetime | None:
    if text is None:
        return None
    # Python 3.10's fromisoformat takes neither `Z` nor more than 6 digits of fraction.
    text = re.sub(r"(\.\d{6})\d+", r"\1", text.replace("Z", "+00:00"))
    return datetime.fromisoformat(text)
