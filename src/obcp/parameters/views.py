"""OCP's JSON shapes: ParameterInfo (`/clusters/parameterInfo`) and ClusterParameter
(`/clusters/{id}/parameters`), the latter with obcp's `pendingRestart`, `pendingServers` and `pendingValue`.

`svrPort` is the RPC port, as in OCP; `serverId` and `sqlPort` (obcp's) tell apart standalone servers that
all call themselves 127.0.0.1:2882, as the sandbox's seekdb servers do.
"""

from __future__ import annotations

from typing import Any

from obcp.ob.parameters import Parameter
from obcp.parameters.pending import pending_servers
from obcp.parameters.reading import ServerState
from obcp.parameters.store import Change


def info_json(p: Parameter, version: str) -> dict[str, Any]:
    rng = p.value_range
    return {
        "name": p.name,
        "version": version,
        "type": p.data_type,
        "allowedStringValues": rng.also_allowed,
        "maxValue": rng.max_value,
        "minValue": rng.min_value,
        "defaultValue": p.default_value,
        "needRestart": p.need_restart,
        "readonly": p.readonly,
        "description": p.description,
    }


def server_json(state: ServerState) -> dict[str, Any]:
    ref = state.ref
    return {
        "zone": ref.zone_name,
        "svrIp": ref.address,
        "svrPort": ref.rpc_port,
        "sqlPort": ref.sql_port,
        "serverId": ref.id,
    }


def cluster_parameter_json(p: Parameter, servers: list[ServerState], change: Change | None) -> dict[str, Any]:
    reporting = [s for s in servers if p.name in s.values]
    ob_parameters = [
        {**server_json(s), "name": p.name, "svrType": "observer", "value": s.values[p.name]}
        for s in reporting
    ]
    value_to_servers: dict[str, list[str]] = {}
    for s in reporting:
        value_to_servers.setdefault(s.values[p.name], []).append(f"{s.ref.address}:{s.ref.rpc_port}")
    pending = pending_servers(change, servers) if change is not None and p.need_restart else []
    rng = p.value_range
    return {
        "name": p.name,
        "section": p.section,
        "defaultValue": p.default_value,
        "valueRange": {
            "type": p.data_type,
            "allowedValues": rng.also_allowed,
            "maxValue": rng.max_value,
            "minValue": rng.min_value,
        },
        "currentValue": {
            "values": list(value_to_servers),
            "valueToServers": value_to_servers,
            "obParameters": ob_parameters,
            "singleValueInCluster": len(value_to_servers) <= 1,
        },
        "needRestart": p.need_restart,
        "readonly": p.readonly,
        "description": p.description,
        "pendingRestart": bool(pending),
        "pendingServers": [server_json(s) for s in pending],
        "pendingValue": change.new_value if pending and change is not None else None,
    }
