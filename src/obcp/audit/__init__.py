"""The audit trail: one event per call that changes something (or tries to), written in the change's own
transaction.

`context` holds the request's entry (opened by the API layer), `redact` makes the request's summary without
its secrets, `store` owns the `audit_event` table (record, list, prune), `pruner` prunes it periodically.
Layers: it imports only `obcp.meta`; the engine, the owners of the other tables and the API call it.
"""

from obcp.audit.context import (
    AuditEntry,
    attribute,
    begin,
    current,
    end,
    identify,
    name_resource,
    pending,
)
from obcp.audit.pruner import AuditPruner
from obcp.audit.redact import REDACTED, summary
from obcp.audit.store import (
    FAILED,
    RESULTS,
    SORTS,
    SUCCESS,
    EventFilter,
    audited,
    list_events,
    prune,
    record,
    record_in,
    record_login_failure,
    record_refusal,
    record_user_lock,
    summary_of,
)

__all__ = [
    "FAILED",
    "REDACTED",
    "RESULTS",
    "SORTS",
    "SUCCESS",
    "AuditEntry",
    "AuditPruner",
    "EventFilter",
    "attribute",
    "audited",
    "begin",
    "current",
    "end",
    "identify",
    "list_events",
    "name_resource",
    "pending",
    "prune",
    "record",
    "record_in",
    "record_login_failure",
    "record_refusal",
    "record_user_lock",
    "summary",
    "summary_of",
]
