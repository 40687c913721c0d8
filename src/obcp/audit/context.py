"""The audit event a request is about to leave: who calls, from where, what it does to which resource.

The API layer opens one per call that may change something (`begin`); the owner of the change records it in
the change's own transaction (`obcp.audit.store.record`). It belongs to the request's own asyncio task: a
task started during the request (and so holding a copy of its context) never records it.
"""

from __future__ import annotations

import asyncio
from contextvars import ContextVar, Token
from dataclasses import dataclass, field
from typing import Any


@dataclass
class AuditEntry:
    action: str
    resource_type: str
    resource_id: str | None
    client_address: str
    trace_id: str
    # The request, secrets removed (`obcp.audit.redact.summary`).
    summary: dict[str, Any]
    user_name: str | None = None
    user_id: int | None = None
    access_key_id: str | None = None
    # Set once its row is written: a call leaves one event, however many owners it goes through.
    recorded: bool = False
    owner: asyncio.Task[Any] | None = field(default=None, repr=False)


_entry_var: ContextVar[AuditEntry | None] = ContextVar("obcp_audit_entry", default=None)


def begin(entry: AuditEntry) -> Token[AuditEntry | None]:
    entry.owner = _current_task()
    return _entry_var.set(entry)


def end(token: Token[AuditEntry | None]) -> None:
    _entry_var.reset(token)


def current() -> AuditEntry | None:
    """The request's entry, in the request's own task only (None elsewhere, e.g. in a task's steps)."""
    entry = _entry_var.get()
    if entry is None or entry.owner is not _current_task():
        return None
    return entry


def pending() -> AuditEntry | None:
    """The request's entry if its event is still to be written (for a transaction that runs elsewhere)."""
    entry = current()
    return entry if entry is not None and not entry.recorded else None


def attribute(user_name: str, user_id: int, access_key_id: str | None = None) -> None:
    """The caller, once the authentication knows it (and the access key it signed with)."""
    entry = current()
    if entry is not None:
        entry.user_name, entry.user_id = user_name[:64], user_id
        if access_key_id is not None:
            entry.access_key_id = access_key_id


def identify(user_name: str, user_id: int | None = None) -> None:
    """Names the user of a call made without credentials (a console login names who tried, a logout whose
    session it ends)."""
    entry = current()
    if entry is not None and entry.user_id is None:
        entry.user_name = user_name[:64]
        entry.user_id = user_id
        if user_id is not None and entry.resource_id is None:
            entry.resource_id = str(user_id)


def name_resource(resource_id: object) -> None:
    """Names the resource a creation made, before the transaction that records the call (one that is not
    the creation's own, e.g. OCP's takeover: the cluster's row first, then the task that takes it over)."""
    entry = current()
    if entry is not None and entry.resource_id is None:
        entry.resource_id = str(resource_id)[:128]


def _current_task() -> asyncio.Task[Any] | None:
    try:
        return asyncio.current_task()
    except RuntimeError:  # no running loop (a worker thread)
        return None
