"""What `/api/v2/openapi.json` says the answers hold: OCP's envelope and error, and the `data` of each
route's success. Deliberately open (`additionalProperties` is allowed): a schema names the fields a client
may rely on, with their types; OCP adds fields over time and so may obcp. Null fields are omitted on the
wire, so only the fields every answer carries are required.
"""

from __future__ import annotations

from typing import Any

Schema = dict[str, Any]


def ref(name: str) -> Schema:
    return {"$ref": f"#/components/schemas/{name}"}


def obj(required: dict[str, Schema], optional: dict[str, Schema] | None = None) -> Schema:
    return {"type": "object", "required": sorted(required), "properties": {**required, **(optional or {})}}


STR: Schema = {"type": "string"}
INT: Schema = {"type": "integer"}
BOOL: Schema = {"type": "boolean"}
# Integers above 2^53 - 1 are written as strings, as OCP's Jackson does.
ID: Schema = {"anyOf": [INT, STR]}
TIME: Schema = {"type": "string", "description": "ISO-8601 with offset, fraction trimmed (OCP's format)"}
IDS: Schema = {"type": "array", "items": ID}
NAMED: Schema = obj({"id": ID, "name": STR})


def contents(item: Schema) -> Schema:
    return obj({"contents": {"type": "array", "items": item}})


def paged(item: Schema) -> Schema:
    return obj({"contents": {"type": "array", "items": item}, "page": ref("Page")})


SUBTASK = obj(
    {"id": ID, "name": STR, "status": STR},
    {
        "description": STR,
        "operation": STR,
        "upstreams": IDS,
        "downstreams": IDS,
        "parallelIdx": INT,
        "runTime": INT,
        "timeout": INT,
        "startTime": TIME,
        "finishTime": TIME,
        "executor": STR,
    },
)
TASK = obj(
    {"id": ID, "name": STR, "status": STR},
    {
        # The cluster operation answers as OCP's seed page shows (creator {id, name}, the context as Java's
        # toString); zone and server operations as OCP's full TaskInstance (creator's name, context object).
        "creator": {"anyOf": [NAMED, STR]},
        "cluster": {"type": "object"},
        "clusterId": ID,
        "context": {"anyOf": [STR, {"type": "object"}]},
        "operation": STR,
        "type": STR,
        "prohibitRollback": BOOL,
        "createTime": TIME,
        "startTime": TIME,
        "finishTime": TIME,
        "subtasks": {"type": "array", "items": ref("Subtask")},
        "tasks": {"type": "array", "items": ref("Subtask")},
    },
)
DRY_RUN = obj(
    {
        "dryRun": {"type": "boolean", "enum": [True]},
        "name": STR,
        "tasks": {"type": "array", "items": ref("Subtask")},
    },
    {
        "cluster": {"type": "object"},
        "context": STR,
        "restartMode": STR,
        "zoneNames": {"type": "array", "items": STR},
    },
)
SERVER = obj(
    {"id": ID, "status": STR},
    {
        "clusterId": ID,
        "hostId": ID,
        "ip": STR,
        "port": INT,
        "sqlPort": INT,
        "zoneName": STR,
        "observerName": STR,
    },
)
ZONE = obj({"name": STR, "status": STR}, {"id": ID, "servers": {"type": "array", "items": ref("Server")}})
CLUSTER = obj(
    {"id": ID, "name": STR, "status": STR},
    {"obClusterId": ID, "obVersion": STR, "type": STR, "zones": {"type": "array", "items": ref("Zone")}},
)
HOST = obj({"id": ID, "name": STR, "address": STR, "agentPort": INT}, {"status": STR, "description": STR})
USER = obj(
    {"id": ID, "username": STR, "enabled": BOOL, "roles": {"type": "array", "items": NAMED}},
    {
        "email": STR,
        "description": STR,
        "permissions": {"type": "array", "items": STR},
        "lockedUntil": {**TIME, "description": "present while failed logins keep the user locked"},
    },
)
ROLE = obj({"id": ID, "name": STR, "builtin": BOOL, "permissions": {"type": "array", "items": STR}})
ACCESS_KEY = obj(
    {"accessKeyId": STR, "userId": ID, "status": {"type": "string", "enum": ["ACTIVE", "DISABLED"]}},
    {"description": STR, "createTime": TIME, "updateTime": TIME, "lastUsedTime": TIME},
)
NEW_ACCESS_KEY = {
    "allOf": [
        ref("AccessKey"),
        obj({"accessKeySecret": {"type": "string", "description": "shown this once"}}),
    ]
}

HOST_TYPE = obj({"id": ID, "name": STR, "createTime": TIME, "updateTime": TIME}, {"description": STR})
CREDENTIAL = obj(
    {
        "id": ID,
        "name": STR,
        "targetType": STR,
        "sshCredentialProperty": obj({"type": STR, "username": STR}),
        "createTime": TIME,
        "updateTime": TIME,
    },
    {"description": STR},
)
IMPORT_CHECK = obj(
    {
        "dryRun": {"type": "boolean", "enum": [True]},
        "agrees": BOOL,
        "differences": {"type": "array", "items": STR},
        "servers": {"type": "array", "items": {"type": "object"}},
    },
    {"obVersion": STR},
)

PARAMETER_INFO = obj(
    {"name": STR, "needRestart": BOOL, "readonly": BOOL},
    # Values are as the observer reports them: strings, or numbers where the type is numeric.
    {"type": STR, "defaultValue": {}, "description": STR, "version": STR, "minValue": {}, "maxValue": {}},
)
CLUSTER_PARAMETER = obj(
    {"name": STR, "needRestart": BOOL, "readonly": BOOL, "currentValue": {"type": "object"}},
    {
        "section": STR,
        "defaultValue": {},
        "description": STR,
        "valueRange": {"type": "object"},
        "pendingRestart": BOOL,
        "pendingServers": {"type": "array", "items": {"type": "object"}},
    },
)

AUDIT_EVENT = obj(
    {
        "id": ID,
        "createTime": TIME,
        "clientIpAddress": STR,
        "action": STR,
        "resourceType": STR,
        "result": {"type": "string", "enum": ["SUCCESS", "FAILED"]},
        "traceId": STR,
        "summary": {
            "type": "object",
            "description": "the request (method, path, query, body), secrets removed",
        },
    },
    {
        "userName": STR,
        "userId": ID,
        "accessKeyId": STR,
        "resourceId": STR,
        "errorCode": {"type": "integer", "description": "OCP's error code of a refusal or failure"},
    },
)
EVENT: Schema = {"type": "string", "enum": ["TASK_FAILED", "TASK_SUCCESSFUL", "PARAMETER_PENDING_RESTART"]}
ALARM_SUBSCRIPTION = obj(
    {
        "event": EVENT,
        "taskNames": {"type": "array", "items": STR},
        "clusterIds": {"type": "array", "items": ID},
    }
)
ALARM_CHANNEL = obj(
    {
        "id": ID,
        "name": STR,
        "type": {"type": "string", "enum": ["HTTP"]},
        "url": STR,
        "headers": {"type": "object", "additionalProperties": STR},
        "secretConfigured": BOOL,
        "subscriptions": {"type": "array", "items": ref("AlarmSubscription")},
        "enabled": BOOL,
        "creator": STR,
        "createTime": TIME,
        "updateTime": TIME,
    },
    {"description": STR},
)
ALARM_DELIVERY = obj(
    {
        "id": ID,
        "channelId": ID,
        "deliveryId": STR,
        "event": EVENT,
        "status": {"type": "string", "enum": ["PENDING", "SENT", "FAILED"]},
        "attemptCount": INT,
        "payload": {"type": "object"},
        "createTime": TIME,
        "attempts": {
            "type": "array",
            "items": obj(
                {"attempt": INT, "sender": STR, "startTime": TIME, "durationMillis": INT},
                {"statusCode": INT, "error": STR},
            ),
        },
    },
    {"nextAttemptTime": TIME, "finishTime": TIME, "lastError": STR},
)

COMPONENTS: dict[str, Schema] = {
    "Page": obj({"number": INT, "size": INT, "totalElements": INT, "totalPages": INT}),
    "Subtask": SUBTASK,
    "Task": TASK,
    "DryRun": DRY_RUN,
    "Server": SERVER,
    "Zone": ZONE,
    "Cluster": CLUSTER,
    "Host": HOST,
    "User": USER,
    "Role": ROLE,
    "AccessKey": ACCESS_KEY,
    "NewAccessKey": NEW_ACCESS_KEY,
    "HostType": HOST_TYPE,
    "Credential": CREDENTIAL,
    "ImportCheck": IMPORT_CHECK,
    "ParameterInfo": PARAMETER_INFO,
    "ClusterParameter": CLUSTER_PARAMETER,
    "AuditEvent": AUDIT_EVENT,
    "AlarmSubscription": ALARM_SUBSCRIPTION,
    "AlarmChannel": ALARM_CHANNEL,
    "AlarmDelivery": ALARM_DELIVERY,
    "OcpError": obj(
        {"code": {"type": "integer", "description": "OCP's error code"}, "message": STR},
        {
            "debugMessage": STR,
            "target": {"type": "object"},
            "subErrors": {"type": "array", "items": {"type": "object"}},
        },
    ),
    "OcpErrorEnvelope": obj(
        {
            "duration": INT,
            "error": ref("OcpError"),
            "server": STR,
            "status": INT,
            "successful": {"type": "boolean", "enum": [False]},
            "timestamp": TIME,
            "traceId": STR,
        }
    ),
}

_OPERATION = {"anyOf": [ref("Task"), ref("DryRun")]}
_NO_DATA = None

# The `data` of each route's success, by "METHOD path"; None: the envelope has no `data`. A route missing here
# is documented with `data` of any shape (a test lists the API routes missing here).
DATA: dict[str, Schema | None] = {
    "GET /api/v2/ob/clusters": paged(ref("Cluster")),
    "GET /api/v2/ob/clusters/{id}": ref("Cluster"),
    "GET /api/v2/ob/clusters/{id}/zones": contents(ref("Zone")),
    "GET /api/v2/ob/clusters/{id}/servers": contents(ref("Server")),
    "GET /api/v2/ob/clusters/{id}/zones/{zoneName}/servers": contents(ref("Server")),
    "POST /api/v2/ob/clusters/takeover": ref("Cluster"),
    "POST /api/v2/ob/clusters/import": {"anyOf": [ref("Cluster"), ref("ImportCheck")]},
    # OCP's takeover answers the task (zone and server operations' shape) with the new cluster's id.
    "POST /api/v2/ob/clusters/takeOver": {"allOf": [ref("Task"), obj({"clusterId": ID})]},
    "GET /api/v2/ob/clusters/parameterInfo": paged(ref("ParameterInfo")),
    "GET /api/v2/ob/clusters/{id}/parameters": paged(ref("ClusterParameter")),
    "PUT /api/v2/ob/clusters/{id}/parameters": _NO_DATA,
    "GET /api/v2/compute/hostTypes": paged(ref("HostType")),
    "POST /api/v2/compute/hostTypes": ref("HostType"),
    "GET /api/v2/profiles/me/credentials": paged(ref("Credential")),
    "POST /api/v2/profiles/me/credentials": ref("Credential"),
    "GET /api/v2/compute/hosts": paged(ref("Host")),
    "GET /api/v2/compute/hosts/{hostId}": ref("Host"),
    "POST /api/v2/compute/hosts": ref("Host"),
    "PUT /api/v2/compute/hosts/{hostId}": ref("Host"),
    "DELETE /api/v2/compute/hosts/{hostId}": _NO_DATA,
    "GET /api/v2/iam/users": paged(ref("User")),
    "POST /api/v2/iam/users": ref("User"),
    "GET /api/v2/iam/users/{userId}": ref("User"),
    "DELETE /api/v2/iam/users/{userId}": _NO_DATA,
    "PUT /api/v2/iam/users/{userId}/roles": ref("User"),
    "POST /api/v2/iam/users/{userId}/unlock": ref("User"),
    "POST /api/v2/iam/users/{userId}/changePassword": _NO_DATA,
    "GET /api/v2/iam/current/user": ref("User"),
    "POST /api/v2/iam/current/user/changePassword": _NO_DATA,
    "GET /api/v2/iam/roles": paged(ref("Role")),
    "POST /api/v2/iam/roles": ref("Role"),
    "GET /api/v2/iam/roles/{roleId}": ref("Role"),
    "PUT /api/v2/iam/roles/{roleId}": ref("Role"),
    "DELETE /api/v2/iam/roles/{roleId}": _NO_DATA,
    "POST /api/v2/iam/login": obj({"username": STR, "csrfToken": STR, "idleTimeoutSeconds": INT}),
    "POST /api/v2/iam/logout": _NO_DATA,
    "POST /api/v2/profiles/me/accessKeys": ref("NewAccessKey"),
    "GET /api/v2/profiles/me/accessKeys": contents(ref("AccessKey")),
    "POST /api/v2/profiles/me/accessKeys/{accessKeyId}/disable": ref("AccessKey"),
    "POST /api/v2/profiles/me/accessKeys/{accessKeyId}/enable": ref("AccessKey"),
    "DELETE /api/v2/profiles/me/accessKeys/{accessKeyId}": _NO_DATA,
    "GET /api/v2/iam/users/{userId}/accessKeys": contents(ref("AccessKey")),
    "POST /api/v2/iam/users/{userId}/accessKeys/{accessKeyId}/disable": ref("AccessKey"),
    "DELETE /api/v2/iam/users/{userId}/accessKeys/{accessKeyId}": _NO_DATA,
    "GET /api/v2/tasks/instances": paged(ref("Task")),
    "GET /api/v2/tasks/instances/{taskInstanceId}": ref("Task"),
    "POST /api/v2/tasks/instances/{taskInstanceId}/retry": ref("Task"),
    "POST /api/v2/tasks/instances/{taskInstanceId}/rollback": ref("Task"),
    "GET /api/v2/tasks/instances/{taskInstanceId}/subtasks/{subtaskInstanceId}/log": obj({"log": STR}),
    "POST /api/v2/tasks/instances/{taskInstanceId}/subtasks/{subtaskInstanceId}/retry": ref("Subtask"),
    "POST /api/v2/tasks/instances/{taskInstanceId}/subtasks/{subtaskInstanceId}/skip": _NO_DATA,
    "POST /api/v2/tasks/instances/{taskInstanceId}/subtasks/{subtaskInstanceId}/cancel": _NO_DATA,
    "GET /api/v2/audit/events": paged(ref("AuditEvent")),
}
DATA.update(
    {
        "GET /api/v2/alarm/channels": paged(ref("AlarmChannel")),
        "POST /api/v2/alarm/channels": ref("AlarmChannel"),
        "GET /api/v2/alarm/channels/{channelId}": ref("AlarmChannel"),
        "PUT /api/v2/alarm/channels/{channelId}": ref("AlarmChannel"),
        "DELETE /api/v2/alarm/channels/{channelId}": _NO_DATA,
        "GET /api/v2/alarm/channels/{channelId}/deliveries": paged(ref("AlarmDelivery")),
    }
)
for _scope in ("", "/zones/{zoneName}", "/servers/{serverId}"):
    for _action in ("restart", "start", "stop"):
        DATA[f"POST /api/v2/ob/clusters/{{id}}{_scope}/{_action}"] = _OPERATION

# Answers that are not OCP's JSON envelope, as OCP documents them.
BARE: dict[str, dict[str, Schema]] = {
    "GET /api/v2/time": {"text/plain": STR},
    "GET /api/status": {"text/plain": {"type": "string", "pattern": "^(okay|bad)( .*)?$"}},
    "GET /api/v2/info": {"application/json": obj({"name": STR, "buildVersion": STR})},
    "GET /api/v2/tasks/instances/{taskInstanceId}/events": {"text/event-stream": STR},
}

# Error statuses beyond those a route's shape implies (see `obcp.api.openapi.error_statuses`).
EXTRA_ERRORS: dict[str, set[int]] = {
    "POST /api/v2/ob/clusters/takeover": {404, 409},
    "POST /api/v2/ob/clusters/import": {409},
    "GET /api/v2/ob/clusters/parameterInfo": {404},
    "POST /api/v2/ob/clusters/takeOver": {409},
    "POST /api/v2/compute/hostTypes": {409},
    "POST /api/v2/profiles/me/credentials": {409},
    "POST /api/v2/compute/hosts": {409},
    "POST /api/v2/iam/users": {404, 409},
    "POST /api/v2/iam/roles": {409},
    "POST /api/v2/iam/login": {401},
    "POST /api/v2/iam/logout": {403},
    "POST /api/v2/alarm/channels": {409},
    "PUT /api/v2/alarm/channels/{channelId}": {409},
}

# OpenAPI links, for clients and stateful testing: what a creation answers (the `data` field) names the
# object of every route under the target path (its path parameter).
_TASK = ("/api/v2/tasks/instances/{taskInstanceId}", "taskInstanceId", "id")
LINKS: dict[str, tuple[str, str, str]] = {
    "POST /api/v2/compute/hosts": ("/api/v2/compute/hosts/{hostId}", "hostId", "id"),
    "POST /api/v2/iam/users": ("/api/v2/iam/users/{userId}", "userId", "id"),
    "POST /api/v2/iam/roles": ("/api/v2/iam/roles/{roleId}", "roleId", "id"),
    "POST /api/v2/ob/clusters/takeover": ("/api/v2/ob/clusters/{id}", "id", "id"),
    "POST /api/v2/ob/clusters/takeOver": _TASK,
    "POST /api/v2/alarm/channels": ("/api/v2/alarm/channels/{channelId}", "channelId", "id"),
    "POST /api/v2/profiles/me/accessKeys": (
        "/api/v2/profiles/me/accessKeys/{accessKeyId}",
        "accessKeyId",
        "accessKeyId",
    ),
}
for _key, _schema in list(DATA.items()):
    if _schema is _OPERATION:
        LINKS[_key] = _TASK
