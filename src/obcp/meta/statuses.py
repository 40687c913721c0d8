"""OCP's status values of clusters, zones and servers as the metadb stores them, and OceanBase's own
ACTIVE/INACTIVE of a zone or server (DBA_OB_ZONES, DBA_OB_SERVERS) kept beside them as the inner status."""

from __future__ import annotations

from enum import StrEnum


class ClusterStatus(StrEnum):
    RUNNING = "RUNNING"
    CREATING = "CREATING"
    DELETING = "DELETING"
    STARTING = "STARTING"
    RESTARTING = "RESTARTING"
    STOPPING = "STOPPING"
    STOPPED = "STOPPED"
    TAKINGOVER = "TAKINGOVER"
    MOVINGOUT = "MOVINGOUT"
    SWITCHOVER = "SWITCHOVER"
    FAILOVER = "FAILOVER"
    OPERATING = "OPERATING"
    UNAVAILABLE = "UNAVAILABLE"


class ZoneStatus(StrEnum):
    RUNNING = "RUNNING"
    UNAVAILABLE = "UNAVAILABLE"
    SERVICE_STOPPED = "SERVICE_STOPPED"
    STOPPED = "STOPPED"
    DELETED = "DELETED"
    CREATING = "CREATING"
    STOPPING = "STOPPING"
    STARTING = "STARTING"
    RESTARTING = "RESTARTING"
    DELETING = "DELETING"
    OPERATING = "OPERATING"


class ServerStatus(StrEnum):
    RUNNING = "RUNNING"
    UNAVAILABLE = "UNAVAILABLE"
    SERVICE_STOPPED = "SERVICE_STOPPED"
    PROCESS_STOPPED = "PROCESS_STOPPED"
    DELETED = "DELETED"
    CREATING = "CREATING"
    SERVICE_STOPPING = "SERVICE_STOPPING"
    PROCESS_STOPPING = "PROCESS_STOPPING"
    STOPPING = "STOPPING"
    STOPPED = "STOPPED"
    STARTING = "STARTING"
    RESTARTING = "RESTARTING"
    DELETING = "DELETING"
    OPERATING = "OPERATING"


class InnerStatus(StrEnum):
    """What OceanBase itself says of a zone or server: serving (ACTIVE) or stopped by ALTER SYSTEM."""

    ACTIVE = "ACTIVE"
    INACTIVE = "INACTIVE"
