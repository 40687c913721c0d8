"""OceanBase access over SQL: sessions, capability, topology, readiness and the 4.x restart statements.

Everything but `connection` works on a `SqlExecutor`, so a scripted stand-in can replace the observer.
This package imports nothing from obcp.api, obcp.engine or obcp.operations.
"""

from obcp.ob.capability import ObCapability, ObKind, detect_capability
from obcp.ob.cluster_ops import ClusterOps, MajorityVerdict, OpResult
from obcp.ob.connection import Connector, ObConnection, ObEndpoint, ObTimeouts, connect, open_connection
from obcp.ob.errors import (
    ObConnectError,
    ObError,
    ObLoginError,
    ObOperationRefused,
    ObSqlError,
    ObTimeoutError,
    ObWaitTimeout,
)
from obcp.ob.executor import SessionFactory, SqlExecutor
from obcp.ob.readiness import Accessible, ProbeResult, probe, restart_proof, wait_accessible, wait_serving
from obcp.ob.topology import ObServer, ObTenant, ObTopology, ObZone, ServerAddr, read_tenants, read_topology

__all__ = [
    "Accessible",
    "ClusterOps",
    "Connector",
    "MajorityVerdict",
    "ObCapability",
    "ObConnectError",
    "ObConnection",
    "ObEndpoint",
    "ObError",
    "ObKind",
    "ObLoginError",
    "ObOperationRefused",
    "ObServer",
    "ObSqlError",
    "ObTenant",
    "ObTimeoutError",
    "ObTimeouts",
    "ObTopology",
    "ObWaitTimeout",
    "ObZone",
    "OpResult",
    "ProbeResult",
    "ServerAddr",
    "SessionFactory",
    "SqlExecutor",
    "connect",
    "detect_capability",
    "open_connection",
    "probe",
    "read_tenants",
    "read_topology",
    "restart_proof",
    "wait_accessible",
    "wait_serving",
]
