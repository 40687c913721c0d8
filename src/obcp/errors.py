"""OCP's numeric error codes and the exception every layer raises to answer with one.

Codes and English texts follow OCP's error table (OCP's user guide, Appendix, "OCP error codes"); the HTTP
status of each is ours where OCP does not say (not found 404, state and argument errors 400, conflicts 409).
"""

from __future__ import annotations

from enum import Enum
from typing import Any


class ErrorCode(Enum):
    # (code, HTTP status, message template with {0}, {1}, … placeholders)
    ILLEGAL_ARGUMENT = (1001, 400, "You must specify a valid value for {0}. Please check and try again.")
    NOT_FOUND = (
        1002,
        404,
        "No record of the specified type {0} exists. Parameter: {1}. Please check and try again.",
    )
    BAD_REQUEST = (1003, 400, "The request is invalid. Cause: {0}.")
    PAYLOAD_TOO_LARGE = (1003, 413, "The request is invalid. Cause: the body is larger than {0} bytes.")
    METHOD_NOT_SUPPORTED = (1008, 405, "The method is not supported: {0}.")
    NAME_EXISTS = (
        1006,
        409,
        "A resource with the specified name already exists. Type: {0}. Parameter: {1}. "
        "Please specify another name and try again.",
    )
    SORT_FIELD_UNSUPPORTED = (1011, 400, "The sort field {0} is not supported.")
    UNKNOWN = (
        1999,
        500,
        "An unknown error occurred. Cause: {0}. Error: {1}. Please contact the administrator.",
    )
    NOT_LOGGED_IN = (
        3000,
        401,
        "You are not logged on or a logon error occurred. Please log on and try again.",
    )
    # OCP answers every failed logon with 3000; a refused signature says which of its parts failed.
    SIGNATURE_REFUSED = (3000, 401, "You are not logged on or a logon error occurred: {0}")
    ACCOUNT_LOCKED = (3003, 401, "The current account is locked. Please contact the administrator.")
    LOGIN_RETRY = (
        3004,
        401,
        "The username or password you entered is invalid. Please try again. You can retry {0} more times.",
    )
    # OCP's 3004 for a signature that does not match: the tries left, and which part failed.
    SIGNATURE_RETRY = (
        3004,
        401,
        "The access key's signature is refused: {1}. You can retry {0} more times.",
    )
    ADDRESS_RESTRICTED = (
        3014,
        429,
        "Requests sent from the IP address {0} are restricted. Please try again later.",
    )
    WRONG_PASSWORD = (3011, 400, "The specified password does not match the password of the account.")
    PASSWORD_INVALID = (3009, 400, "The password is invalid: {0}")
    NOT_AUTHORIZED = (
        3100,
        403,
        "You are not authorized to perform the corresponding operations. "
        "Please contact the administrator. Required permission: {0}.",
    )
    PERMISSION_INVALID = (
        3102,
        400,
        "The specified permission expression {0} is invalid. "
        "Please check the permission settings and try again.",
    )
    ROLE_BUILTIN = (3103, 400, "The system default role {0} cannot be changed or deleted.")
    USER_BUILTIN = (3104, 400, "The system default account {0} cannot be deleted.")
    DELETE_SELF = (3108, 400, "You cannot delete yourself.")
    TASK_NOT_FOUND = (4001, 404, "The task {0} does not exist.")
    SUBTASK_NOT_FOUND = (4002, 404, "The subtask {0} does not exist in task {1}.")
    TASK_LOOP = (4003, 400, "A loop is found.")
    TASK_CONTEXT_ERROR = (4004, 400, "A task context error occurred: {0}")
    TASK_STATE_INVALID = (4007, 400, "The operation is not allowed because the task {0} is in {1} state.")
    TASK_ROLLBACK_PROHIBITED = (4009, 400, "The task {0} cannot be rolled back.")
    SUBTASK_SKIP_PROHIBITED = (4010, 400, "The subtask {0} cannot be skipped.")
    # Not in OCP's table (its subtasks can always be retried and cancelled); obcp's capability flags need them
    SUBTASK_RETRY_PROHIBITED = (4011, 400, "The subtask {0} cannot be retried.")
    SUBTASK_CANCEL_PROHIBITED = (4012, 400, "The subtask {0} cannot be cancelled.")
    # OCP's text for its own MetaDB; obcp answers it with 503 while the metadb cannot be reached
    METADB_UNAVAILABLE = (34004, 503, "Unable to connect to the MetaDB of OCP cluster.")
    # Notification channels (OCP's alarm channels).
    ALARM_BAD_REQUEST = (
        6000,
        400,
        "Bad request. An error occurred while validating the parameter {0}. "
        "Please modify the parameter and try again.",
    )
    ALARM_ADDRESS_UNAVAILABLE = (
        6024,
        400,
        "The recipient address {0} is unavailable. Please check and try again.",
    )
    ALARM_CHANNEL_NOT_FOUND = (
        6027,
        404,
        "The specified channel does not exist. Please check. Channel ID: {0}.",
    )
    ALARM_HEADER_INVALID = (
        6040,
        400,
        "The format of the notification channel header {0} is invalid. Please check and try again.",
    )
    ALARM_METHOD_UNSUPPORTED = (
        6041,
        400,
        "The notification channel does not support the method {0}. Please contact the administrator.",
    )
    ALARM_URL_INVALID = (6045, 400, "The format of the URL is invalid ({0}). Please edit it and try again.")
    ALARM_CHANNEL_NAME_EXISTS = (6050, 409, "The specified alert channel name {0} already exists.")
    ALARM_CHANNEL_NAME_REQUIRED = (6051, 400, "You must specify the alert channel name.")
    ALARM_CHANNEL_NAME_INVALID = (
        6052,
        400,
        "The specified alert channel name {0} is invalid. It cannot start or end with a space.",
    )
    HOST_EXISTS = (7001, 409, "The specified host <{0}:{1}> already exists. Please change it and try again.")
    HOST_NOT_FOUND = (7005, 404, "The host with the ID {0} does not exist.")
    HOST_IN_USE = (7004, 400, "The host {0} is in use by {1}. Please release the host and try again.")
    CLUSTER_NOT_FOUND = (11001, 404, "The specified cluster with the ID {0} does not exist.")
    CLUSTER_STATE_INVALID = (
        11007,
        400,
        "OceanBase cluster {0} in {1} state does not support this operation.",
    )
    CLUSTER_STATE_REQUIRED = (11008, 400, "Cluster {0} supports this operation only in {1} state.")
    CLUSTER_EXISTS = (11014, 409, "The cluster to be created already exists: {0}.")
    CLUSTER_BUSY = (11020, 400, "The last O&M task of the cluster is not completed: {0}.")
    CLUSTER_INACCESSIBLE = (11028, 400, "The current cluster is inaccessible: {0}")
    PARAMETER_NOT_FOUND = (11055, 400, "The specified parameter {0} does not exist.")
    PARAMETER_VALUE_INVALID = (
        11056,
        400,
        "The format of the value {1} of the {0} parameter is invalid: {2}.",
    )
    PARAMETER_READONLY = (11058, 400, "The {0} parameter is read-only. You cannot modify it.")
    # obcp's own: a cluster described to obcp (a takeover, an obd config.yaml) is not the one that answers.
    CLUSTER_MISMATCH = (11090, 400, "The cluster does not match its description: {0}.")
    ZONE_NOT_FOUND = (12002, 404, "Zone {1} does not exist in the cluster with the ID {0}.")
    ZONE_STATE_INVALID = (
        12004,
        400,
        "The specified zone {0} in the current state does not support this operation.",
    )
    ZONE_BUSY = (12008, 400, "The last O&M task in the zone is not completed: {0}.")
    SERVER_NOT_FOUND = (13001, 404, "The specified OBServer with the ID {0} does not exist.")
    SERVER_STATE_INVALID = (
        13004,
        400,
        "The OBServer supports this operation only in {1} state. The current status is {0}.",
    )
    SERVER_BUSY = (13012, 400, "The last O&M task on the OBServer is not completed: {0}.")

    @property
    def code(self) -> int:
        return self.value[0]

    @property
    def http_status(self) -> int:
        return self.value[1]

    def format(self, *args: Any) -> str:
        return self.value[2].format(*args)


class ObcpError(Exception):
    """An error with an OCP code; the API answers it as an OCP error envelope."""

    def __init__(
        self,
        code: ErrorCode,
        *args: Any,
        target: dict[str, Any] | None = None,
        sub_errors: list[dict[str, Any]] | None = None,
        debug_message: str | None = None,
    ) -> None:
        self.error_code = code
        self.args_ = args
        self.target = target
        self.sub_errors = sub_errors
        self.debug_message = debug_message
        super().__init__(code.format(*args))

    @property
    def message(self) -> str:
        return str(self)
