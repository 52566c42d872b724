"""Provost's Python client: checks, lookups, assignments and the audit log over HTTP, sync
(``ProvostClient``) and async (``AsyncProvostClient``), with retries, read-your-writes and a
per-request decision cache. Django and DRF integration: ``provost_client.django`` and
``provost_client.drf`` (install ``provost-client[django]``)."""

from ._core import DecisionCache, RetryPolicy, TokenSource
from .aio import AsyncProvostClient
from .client import ProvostClient
from .errors import (
    BadRequest,
    Busy,
    Conflict,
    Forbidden,
    NotFound,
    ProvostError,
    Refused,
    Unauthorized,
    Unavailable,
)
from .models import Assignment, AuditEntry, BulkResult, Check, CheckResult, ItemResult, Page
from .scopes import ScopeSet

__all__ = [
    "Assignment",
    "AsyncProvostClient",
    "AuditEntry",
    "BadRequest",
    "BulkResult",
    "Busy",
    "Check",
    "CheckResult",
    "Conflict",
    "DecisionCache",
    "Forbidden",
    "ItemResult",
    "NotFound",
    "Page",
    "ProvostClient",
    "ProvostError",
    "Refused",
    "RetryPolicy",
    "ScopeSet",
    "TokenSource",
    "Unauthorized",
    "Unavailable",
]
