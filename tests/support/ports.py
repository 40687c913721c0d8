"""Free ports for the observers and servers a test starts."""

from __future__ import annotations

from obcp.agent.ports import free_port


def free_sql_ports(count: int) -> list[int]:
    """Distinct ports free on 0.0.0.0, where seekdb binds its SQL port."""
    ports: set[int] = set()
    while len(ports) < count:
        ports.add(free_port("0.0.0.0"))
    return sorted(ports)
