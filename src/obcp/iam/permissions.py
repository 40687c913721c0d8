"""OCP permission expressions: `RESOURCE:ID:ACTION`, nestable (`CLUSTER:*:TENANT:*:READ`), `**` for all.

A granted expression matches a required one segment by segment: `*` matches any one segment, and a `*` in
the last position also matches any deeper path (`CLUSTER:*:*` covers `CLUSTER:5:TENANT:3:READ`, as OCP's
cluster managers manage tenants); `**` matches everything. Management does not imply read: `CLUSTER:1:UPDATE`
does not grant `CLUSTER:1:READ` (OCP: "both must be granted").
"""

from __future__ import annotations

import re
from collections.abc import Iterable

_SEGMENT = re.compile(r"^(\*|\*\*|[A-Za-z0-9_.\-]+)$")

# OCP's default roles (OCP's user guide, Appendix, "Default OCP roles").
DEFAULT_ROLES: dict[str, tuple[str, list[str]]] = {
    "ADMIN": ("System administrator: every permission.", ["**"]),
    "CLUSTER_MANAGER": (
        "Manages all clusters, hosts and tasks.",
        ["CLUSTER:*:*", "HOST:*:*", "TASK:*:*", "ALARM:*:*", "USER:*:READ", "PACKAGE:*:*", "OBPROXY:*:*"],
    ),
    "CLUSTER_VIEWER": (
        "Reads all clusters, hosts and tasks.",
        ["CLUSTER:*:READ", "HOST:*:READ", "TASK:*:READ", "ALARM:*:READ", "PACKAGE:*:READ", "OBPROXY:*:READ"],
    ),
    "ALARM_MANAGER": (
        "Manages notification channels (alarms); reads clusters, hosts and users.",
        ["ALARM:*:*", "CLUSTER:*:READ", "HOST:*:READ", "USER:*:READ"],
    ),
    "ALARM_VIEWER": (
        "Reads notification channels and their deliveries; reads clusters, hosts and users.",
        ["ALARM:*:READ", "CLUSTER:*:READ", "HOST:*:READ", "USER:*:READ"],
    ),
    "TENANT_MANAGER": (
        "Manages the tenants of all clusters.",
        ["CLUSTER:*:TENANT:*:*", "CLUSTER:*:READ", "TASK:*:READ"],
    ),
    "TENANT_VIEWER": ("Reads the tenants of all clusters.", ["CLUSTER:*:TENANT:*:READ", "CLUSTER:*:READ"]),
    "TASK_MANAGER": ("Reads and operates all tasks.", ["TASK:*:*"]),
    "TASK_VIEWER": ("Reads all tasks.", ["TASK:*:READ"]),
    "HOST_MANAGER": ("Manages all hosts.", ["HOST:*:*", "TASK:*:READ"]),
    "HOST_VIEWER": ("Reads all hosts.", ["HOST:*:READ"]),
    "USER_MANAGER": ("Manages users; reads roles.", ["USER:*:*", "ROLE:*:READ"]),
    "ROLE_MANAGER": ("Manages roles.", ["ROLE:*:*", "USER:*:READ"]),
    "PROFILE": ("The minimum: one's own profile.", ["PROFILE:*:*"]),
    # obcp's own: GET /metrics (OCP has no Prometheus exposition); ADMIN has it through `**`.
    "METRICS_VIEWER": ("Reads the Prometheus metrics (GET /metrics).", ["METRICS:*:READ"]),
    "AUDIT_VIEWER": ("Reads the audit history: every audit event and who made it.", ["AUDIT:*:READ"]),
}


def validate(expression: str) -> bool:
    if expression == "**":
        return True
    parts = expression.split(":")
    # fullmatch: `$` in `match` would also accept a segment ending in a newline.
    return len(parts) >= 2 and all(_SEGMENT.fullmatch(p) for p in parts) and "**" not in parts[:-1]


def _matches(granted: list[str], required: list[str]) -> bool:
    for i, g in enumerate(granted):
        if g == "**":
            return True
        if i >= len(required):
            return False
        last = i == len(granted) - 1
        if g == "*":
            if last:
                return True
            continue
        if g.upper() != required[i].upper():
            return False
    return len(granted) == len(required)


def allows(granted: Iterable[str], required: str) -> bool:
    need = required.split(":")
    return any(_matches(g.split(":"), need) for g in granted)
