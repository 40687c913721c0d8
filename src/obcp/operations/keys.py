"""Context keys of the lifecycle tasks, as OCP names them (seed: `cluster_id`, `former_cluster_status`,
`<clusterId>.<zone>.server_ids`, `zone_names`)."""

from __future__ import annotations

CLUSTER_ID = "cluster_id"
CLUSTER_NAME = "cluster_name"
AGENT_SERVICE_NAME = "ocpagent_service_name"
FORMER_CLUSTER_STATUS = "former_cluster_status"
TARGET_CLUSTER_STATUS = "target_cluster_status"
ZONE_NAMES = "zone_names"
RESTART_MODE = "restart_mode"
OPERATION_KIND = "operation_kind"  # restart | start | stop
OPERATION_SCOPE = "operation_scope"  # cluster | zone | server
FORCE = "force"
# "true" or "false": a restart's minor freeze before each observer stops (OCP's default is on).
MINOR_FREEZE = "minor_freeze"
# DISTRIBUTED or STANDALONE, detected from the cluster itself by "Set zone context".
OB_KIND = "ob_kind"


def server_ids(cluster_id: int | str, zone: str) -> str:
    return f"{cluster_id}.{zone}.server_ids"


def host_ids(cluster_id: int | str, zone: str) -> str:
    return f"{cluster_id}.{zone}.host_ids"


def zone_stopped(zone: str) -> str:
    """Set when this task sent ALTER SYSTEM STOP ZONE, so START ZONE (and rollback) undo only that."""
    return f"{zone}.stopped_by_task"


def server_stopped(server_id: int | str) -> str:
    """Set when this task sent ALTER SYSTEM STOP SERVER for it, so START SERVER undoes only that."""
    return f"server.{server_id}.stopped_by_task"


def process_stopped(server_id: int | str) -> str:
    """Set when this task stopped the observer's process."""
    return f"server.{server_id}.process_stopped_by_task"


def former_zone_status(zone: str) -> str:
    return f"{zone}.former_zone_status"


def former_server_status(server_id: int | str) -> str:
    return f"server.{server_id}.former_status"


def process_before(server_id: int | str) -> str:
    """`pid:create_time` of the observer process before the operation (from its agent)."""
    return f"server.{server_id}.process_before"


def service_time_before(server_id: int | str) -> str:
    """START_SERVICE_TIME (epoch µs) before the operation: a restarted observer must report another."""
    return f"server.{server_id}.start_service_time_before"


def service_time_after(server_id: int | str) -> str:
    """START_SERVICE_TIME (epoch µs) of the new process, once it serves SQL again after the restart."""
    return f"server.{server_id}.start_service_time_after"


def process_after(server_id: int | str) -> str:
    return f"server.{server_id}.process_after"


def zone_active_before(zone: str) -> str:
    """`true` when the zone was ACTIVE as the task began (distributed clusters only)."""
    return f"{zone}.active_before_task"
