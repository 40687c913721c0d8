"""Which calls are audited, as what, and the middleware that opens each one's audit entry.

Every route that changes something is named in ACTIONS (a test checks that none is missing). The middleware
opens the call's entry before the route runs; the owner of the change records it in the change's own
transaction (`obcp.audit.record`). A call answered 4xx or 5xx that recorded nothing (refused, or failed
before it changed anything) leaves its event here, FAILED with OCP's error code, in a transaction of its
own. Failed logins by Basic or an access key are recorded by the authentication middleware.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from fastapi.routing import iter_route_contexts
from starlette.exceptions import HTTPException
from starlette.routing import BaseRoute, compile_path
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from obcp import audit
from obcp.api.signed_requests import read_body
from obcp.errors import ErrorCode
from obcp.meta.db import Database
from obcp.tracing import trace_id_var

log = logging.getLogger("obcp.api")

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


@dataclass(frozen=True)
class Action:
    name: str
    resource_type: str
    # The resource's id from the path parameters, e.g. "{id}/{zoneName}"; None: the owner names it (a
    # creation) or there is none.
    resource_id: str | None = None


_MINE = "/api/v2/profiles/me/accessKeys"
_THEIRS = "/api/v2/iam/users/{userId}/accessKeys"
_CLUSTER = "/api/v2/ob/clusters/{id}"
_ZONE = _CLUSTER + "/zones/{zoneName}"
_SERVER = _CLUSTER + "/servers/{serverId}"
_TASK = "/api/v2/tasks/instances/{taskInstanceId}"
_SUBTASK = _TASK + "/subtasks/{subtaskInstanceId}"
_CHANNEL = "/api/v2/alarm/channels/{channelId}"

ACTIONS: dict[str, Action] = {
    "POST /api/v2/iam/login": Action("LOGIN", "USER"),
    "POST /api/v2/iam/logout": Action("LOGOUT", "USER"),
    **{
        f"POST {path}/{verb.lower()}": Action(f"{kind}_{verb}", resource, rid)
        for path, kind, resource, rid in (
            (_CLUSTER, "CLUSTER", "OB_CLUSTER", "{id}"),
            (_ZONE, "ZONE", "OB_ZONE", "{id}/{zoneName}"),
            (_SERVER, "SERVER", "OB_SERVER", "{serverId}"),
        )
        for verb in ("RESTART", "START", "STOP")
    },
    "PUT /api/v2/ob/clusters/{id}/parameters": Action("CLUSTER_PARAMETERS_SET", "OB_CLUSTER", "{id}"),
    "POST /api/v2/ob/clusters/takeover": Action("CLUSTER_TAKEOVER", "OB_CLUSTER"),
    "POST /api/v2/ob/clusters/takeOver": Action("CLUSTER_TAKEOVER", "OB_CLUSTER"),
    "POST /api/v2/ob/clusters/import": Action("CLUSTER_IMPORT", "OB_CLUSTER"),
    "POST /api/v2/compute/hosts": Action("HOST_CREATE", "HOST"),
    "PUT /api/v2/compute/hosts/{hostId}": Action("HOST_UPDATE", "HOST", "{hostId}"),
    "DELETE /api/v2/compute/hosts/{hostId}": Action("HOST_DELETE", "HOST", "{hostId}"),
    "POST /api/v2/compute/hostTypes": Action("HOST_TYPE_CREATE", "HOST_TYPE"),
    "POST /api/v2/profiles/me/credentials": Action("CREDENTIAL_CREATE", "CREDENTIAL"),
    f"POST {_TASK}/retry": Action("TASK_RETRY", "TASK", "{taskInstanceId}"),
    f"POST {_TASK}/rollback": Action("TASK_ROLLBACK", "TASK", "{taskInstanceId}"),
    f"POST {_SUBTASK}/retry": Action("SUBTASK_RETRY", "TASK", "{taskInstanceId}"),
    f"POST {_SUBTASK}/skip": Action("SUBTASK_SKIP", "TASK", "{taskInstanceId}"),
    f"POST {_SUBTASK}/cancel": Action("SUBTASK_CANCEL", "TASK", "{taskInstanceId}"),
    "POST /api/v2/iam/users": Action("USER_CREATE", "USER"),
    "DELETE /api/v2/iam/users/{userId}": Action("USER_DELETE", "USER", "{userId}"),
    "PUT /api/v2/iam/users/{userId}/roles": Action("USER_ROLES_SET", "USER", "{userId}"),
    "POST /api/v2/iam/users/{userId}/changePassword": Action("USER_PASSWORD_RESET", "USER", "{userId}"),
    "POST /api/v2/iam/users/{userId}/unlock": Action("USER_UNLOCK", "USER", "{userId}"),
    "POST /api/v2/iam/current/user/changePassword": Action("USER_PASSWORD_CHANGE", "USER"),
    "POST /api/v2/iam/roles": Action("ROLE_CREATE", "ROLE"),
    "PUT /api/v2/iam/roles/{roleId}": Action("ROLE_UPDATE", "ROLE", "{roleId}"),
    "DELETE /api/v2/iam/roles/{roleId}": Action("ROLE_DELETE", "ROLE", "{roleId}"),
    f"POST {_MINE}": Action("ACCESS_KEY_CREATE", "ACCESS_KEY"),
    f"POST {_MINE}/{{accessKeyId}}/disable": Action("ACCESS_KEY_DISABLE", "ACCESS_KEY", "{accessKeyId}"),
    f"POST {_MINE}/{{accessKeyId}}/enable": Action("ACCESS_KEY_ENABLE", "ACCESS_KEY", "{accessKeyId}"),
    f"DELETE {_MINE}/{{accessKeyId}}": Action("ACCESS_KEY_DELETE", "ACCESS_KEY", "{accessKeyId}"),
    f"POST {_THEIRS}/{{accessKeyId}}/disable": Action("ACCESS_KEY_DISABLE", "ACCESS_KEY", "{accessKeyId}"),
    f"DELETE {_THEIRS}/{{accessKeyId}}": Action("ACCESS_KEY_DELETE", "ACCESS_KEY", "{accessKeyId}"),
    "POST /api/v2/alarm/channels": Action("ALARM_CHANNEL_CREATE", "ALARM_CHANNEL"),
    f"PUT {_CHANNEL}": Action("ALARM_CHANNEL_UPDATE", "ALARM_CHANNEL", "{channelId}"),
    f"DELETE {_CHANNEL}": Action("ALARM_CHANNEL_DELETE", "ALARM_CHANNEL", "{channelId}"),
}


Audited = list[tuple[re.Pattern[str], str, str, Action]]


def audited_routes(routes: Sequence[BaseRoute]) -> Audited:
    """(path pattern, method, template, action) of every route named in ACTIONS, in the app's order."""
    found: Audited = []
    for context in iter_route_contexts(routes):
        if not context.path:
            continue
        for method in sorted(context.methods or ()):
            action = ACTIONS.get(f"{method} {context.path}")
            if action is not None:
                found.append((compile_path(context.path)[0], method, context.path, action))
    return found


def _action_of(scope: Scope, audited: Audited) -> tuple[Action, dict[str, str]] | None:
    """The action of the route the call reaches, with the path's parameters (as sent)."""
    for pattern, method, _template, action in audited:
        match = pattern.match(scope["path"])
        if match and method == scope["method"]:
            return action, match.groupdict()
    return None


def client_address(scope: Scope) -> str:
    client = scope.get("client")
    return str(client[0]) if client else ""


def _error_code(body: bytes, status: int) -> int:
    try:
        code = json.loads(body)["error"]["code"]
        return int(code)
    except (ValueError, KeyError, TypeError):
        return ErrorCode.UNKNOWN.code if status >= 500 else ErrorCode.BAD_REQUEST.code


class AuditMiddleware:
    """Opens the audit entry of each call named in ACTIONS; records the refusals that changed nothing."""

    def __init__(
        self, app: ASGIApp, db_of: Callable[[], Database], routes_of: Callable[[], Sequence[BaseRoute]]
    ) -> None:
        self.app = app
        self.db_of = db_of
        self.routes_of = routes_of
        self._audited: Audited | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        found = None
        if scope["type"] == "http" and scope["method"] not in SAFE_METHODS:
            if self._audited is None:  # the routes are all there once the app serves
                self._audited = audited_routes(self.routes_of())
            found = _action_of(scope, self._audited)
        if found is None:
            await self.app(scope, receive, send)
            return
        try:
            body, receive = await read_body(receive)
        except HTTPException as exc:  # the body limit, while streaming: refused, nobody identified yet
            if exc.status_code != 413:
                raise
            entry = _entry(scope, *found, b"")
            await self._refused(entry, ErrorCode.PAYLOAD_TOO_LARGE.code)
            raise
        entry = _entry(scope, *found, body)
        status, error_body = 0, b""

        async def watch(message: Message) -> None:
            nonlocal status, error_body
            if message["type"] == "http.response.start":
                status = message["status"]
            elif message["type"] == "http.response.body" and status >= 400 and not error_body:
                error_body = message.get("body", b"")[:65536]
            await send(message)

        token = audit.begin(entry)
        try:
            await self.app(scope, receive, watch)
        except Exception:
            await self._refused(entry, ErrorCode.UNKNOWN.code)
            raise
        finally:
            audit.end(token)
        # A 401 of the authentication names nobody: a failed login it records itself, or no credentials at
        # all. (A refused console login names whom it tried.)
        if status >= 400 and not (status == 401 and entry.user_name is None):
            await self._refused(entry, _error_code(error_body, status))

    async def _refused(self, entry: audit.AuditEntry, code: int) -> None:
        if code == ErrorCode.METADB_UNAVAILABLE.code:
            return  # nowhere to write it; the 503 and the server's log say so
        try:
            await audit.record_refusal(self.db_of(), entry, code)
        except Exception as exc:  # the metadb away (the call answered 503): nothing to add the event to
            log.warning("audit event of a refused %s not written: %s", entry.action, type(exc).__name__)


def _entry(scope: Scope, action: Action, params: dict[str, str], body: bytes) -> audit.AuditEntry:
    """The call's entry; the authentication (inside this middleware) names the caller."""
    resource_id = action.resource_id.format(**params) if action.resource_id else None
    return audit.AuditEntry(
        action=action.name,
        resource_type=action.resource_type,
        resource_id=resource_id,
        client_address=client_address(scope),
        trace_id=trace_id_var.get(),
        summary=audit.summary(scope["method"], scope["path"], scope.get("query_string", b""), body),
    )
