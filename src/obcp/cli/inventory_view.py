"""Clusters, zones and servers as tables for people, from the API's ObCluster, zone and server objects."""

from __future__ import annotations

from typing import Any

from rich.table import Table

from obcp.cli.output import health, table, task_state

SERVER_COLUMNS = ("id", "zone", "server", "sql port", "status", "inner status", "host")


def _zones_brief(c: dict[str, Any]) -> str:
    return ", ".join(f"{z['name']}×{z['serverCount']}" for z in c.get("zones") or [])


def _last(c: dict[str, Any]) -> Any:
    last = c.get("lastOperation") or {}
    if not last:
        return ""
    text = task_state(last.get("status"))
    text.append(f" {last.get('name', '')} (task {last.get('taskId')})", style="")
    return text


def clusters_table(clusters: list[dict[str, Any]]) -> Table:
    columns = ("id", "name", "status", "version", "zones × servers", "last operation")
    rows = [
        [c["id"], c["name"], health(c["status"]), c.get("obVersion"), _zones_brief(c), _last(c)]
        for c in clusters
    ]
    return table(None, columns, rows)


def availability(last: dict[str, Any]) -> str:
    figure = last.get("availability") or {}
    if "longestOutageSeconds" not in figure:
        return ""
    text = f"longest interval with no observer answering: {figure['longestOutageSeconds']:.1f} s"
    if "probeRounds" in figure:
        text += f" ({figure['roundsWithoutAnswer']} of {figure['probeRounds']} probe rounds unanswered)"
    return text


def cluster_tables(c: dict[str, Any]) -> list[Table]:
    """The cluster's summary, its last operation, its zones, its servers."""
    summary = Table.grid(padding=(0, 2))
    summary.add_column(style="bold")
    summary.add_column()
    summary.add_row("cluster", f"{c['name']} (id {c['id']}, obClusterId {c.get('obClusterId')})")
    summary.add_row("status", health(c["status"]))
    summary.add_row("version", str(c.get("obVersion") or ""))
    summary.add_row("servers", f"{c.get('serverCount', 0)} in {len(c.get('zones') or [])} zone(s)")
    last = c.get("lastOperation") or {}
    if last:
        summary.add_row("last operation", _last(c))
        summary.add_row("", f"{last.get('startTime') or ''} → {last.get('finishTime') or ''}")
        if availability(last):
            summary.add_row("", availability(last))
    zones = c.get("zones") or []
    return [summary, zones_table(zones), servers_table([s for z in zones for s in z.get("servers") or []])]


def zones_table(zones: list[dict[str, Any]]) -> Table:
    columns = ("zone", "status", "inner status", "idc", "region", "servers")
    rows = [
        [
            z["name"],
            health(z["status"]),
            z.get("innerStatus"),
            z.get("idcName"),
            z.get("regionName"),
            z.get("serverCount"),
        ]
        for z in zones
    ]
    return table("zones", columns, rows)


def servers_table(servers: list[dict[str, Any]]) -> Table:
    rows = [
        [
            s["id"],
            s.get("zoneName"),
            f"{s['ip']}:{s['port']}",
            s.get("sqlPort"),
            health(s["status"]),
            s.get("innerStatus"),
            s.get("hostName"),
        ]
        for s in servers
    ]
    return table("servers", SERVER_COLUMNS, rows)
