"""The fleet benchmark's figures, from what the API answered and what the SIMULATION lived."""

from __future__ import annotations

import statistics
from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime
from typing import Any


def pct(values: Sequence[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def _ms(stamp: str | None) -> float | None:
    return datetime.fromisoformat(stamp).timestamp() * 1000 if stamp else None


def chain_depth(task: dict[str, Any]) -> int:
    """Subtasks on the DAG's longest path: the steps an engine that looks for ready work once a second
    waits between (OCP's model)."""
    subs = {s["id"]: s for s in task["subtasks"]}
    depth: dict[int, int] = {}

    def of(sid: int) -> int:
        if sid not in depth:
            ups = subs[sid]["upstreams"]
            depth[sid] = 1 + max((of(u) for u in ups), default=0)
        return depth[sid]

    return max(of(s) for s in subs)


def ready_waits_ms(task: dict[str, Any]) -> list[float]:
    """Per subtask that ran once: its start minus the moment its last upstream finished (when it became
    READY). A subtask run again (`runTime` > 1: a step repeated after a metadb wait, a retry) shows only its
    last run's start, so its wait would count its earlier runs: it is counted by `reruns` instead."""
    subs = {s["id"]: s for s in task["subtasks"]}
    waits = []
    for s in subs.values():
        if s.get("runTime", 1) > 1:
            continue
        # OCP's JSON leaves nulls out: a subtask that never ran has no startTime.
        start = _ms(s.get("startTime"))
        ends = [_ms(subs[u].get("finishTime")) for u in s["upstreams"]]
        if start is None or not ends or any(e is None for e in ends):
            continue
        waits.append(start - max(e for e in ends if e is not None))
    return waits


def reruns(task: dict[str, Any]) -> int:
    """The task's subtasks that ran more than once."""
    return sum(1 for s in task["subtasks"] if s.get("runTime", 1) > 1)


def critical_paths(
    cluster_hosts: dict[int, dict[str, list[str]]], observers: dict[str, Any]
) -> dict[int, tuple[float, int]]:
    """Per cluster: the simulated critical path in seconds (sum over zones of the slowest stop plus the
    slowest start: the DAG joins a zone's stops before its starts) and how many observers restarted."""
    result = {}
    for cid, zones in cluster_hosts.items():
        total, restarted = 0.0, 0
        for hosts in zones.values():
            stops, starts = [], []
            for host in hosts:
                restarts = observers[host]["restarts"]
                restarted += bool(restarts)
                if restarts:
                    stops.append(restarts[-1]["stop_seconds"])
                    starts.append(restarts[-1]["start_seconds"] or 0.0)
            total += max(stops, default=0.0) + max(starts, default=0.0)
        result[cid] = (total, restarted)
    return result


def restart_rows(
    tasks: Sequence[dict[str, Any]], crit: dict[int, tuple[float, int]], cluster_of_task: dict[int, int]
) -> dict[str, Any]:
    ratios, overheads, ocp_avg, ocp_max, waits, depths = [], [], [], [], [], []
    ran_again = 0
    statuses: dict[str, int] = defaultdict(int)
    for task in tasks:
        statuses[task["status"]] += 1
        start, end = _ms(task.get("startTime")), _ms(task.get("finishTime"))
        path, _ = crit[cluster_of_task[task["id"]]]
        if start is None or end is None or path <= 0:
            continue
        wall = (end - start) / 1000
        depth = chain_depth(task)
        depths.append(depth)
        ratios.append(wall / path)
        overheads.append((wall - path) * 1000 / depth)
        ocp_avg.append((path + depth * 0.5) / path)
        ocp_max.append((path + depth * 1.0) / path)
        waits += ready_waits_ms(task)
        ran_again += reruns(task)
    return {
        "statuses": dict(statuses),
        "ratio": ratios,
        "overhead_ms_per_step": overheads,
        "ocp_ratio_avg": ocp_avg,
        "ocp_ratio_max": ocp_max,
        "ready_waits_ms": waits,
        "reruns": ran_again,
        "depth": depths,
        "subtasks": sum(len(t["subtasks"]) for t in tasks),
    }


def consistency(
    tasks: Sequence[dict[str, Any]], report: dict[str, Any], cluster_hosts: dict[int, dict[str, list[str]]]
) -> list[str]:
    """What the simulation and the server must agree on; each problem as a sentence (empty: agreed)."""
    problems = [f"unscripted statement: {u}" for u in report["unscripted"][:5]]
    problems += [f"task {t['id']} is {t['status']}" for t in tasks if t["status"] != "SUCCESSFUL"]
    restarted_clusters = {cid for cid in cluster_hosts}
    for cid in restarted_clusters:
        for hosts in cluster_hosts[cid].values():
            for host in hosts:
                o = report["observers"][host]
                if len(o["restarts"]) != 1:
                    problems.append(
                        f"simulated observer {host} restarted {len(o['restarts'])} times, not once"
                    )
                    continue
                r = o["restarts"][0]
                if r["service_time_after"] is None or r["service_time_after"] == r["service_time_before"]:
                    problems.append(f"simulated observer {host}: START_SERVICE_TIME did not change")
                elif o["serviceTime"] != r["service_time_after"]:
                    problems.append(f"simulated observer {host}: its views disagree with its state machine")
                if o["state"] != "RUNNING":
                    problems.append(f"simulated observer {host} ends {o['state']}")
    return problems


def summary(values: Sequence[float], unit: str = "", scale: float = 1.0) -> str:
    if not values:
        return "n/a"
    v = [x * scale for x in values]
    return (
        f"p50 {pct(v, 0.5):.1f}{unit}  p99 {pct(v, 0.99):.1f}{unit}  max {max(v):.1f}{unit}"
        f"  mean {statistics.fmean(v):.1f}{unit}  (n={len(v)})"
    )


def ratio_summary(values: Sequence[float]) -> str:
    if not values:
        return "n/a"
    return (
        f"p50 {pct(values, 0.5):.3f}  p99 {pct(values, 0.99):.3f}  max {max(values):.3f}  (n={len(values)})"
    )


def step_durations_ms(tasks: Sequence[dict[str, Any]]) -> dict[str, list[float]]:
    """Each subtask's run time by step name (where the wall time beyond the critical path goes)."""
    found: dict[str, list[float]] = defaultdict(list)
    for task in tasks:
        for s in task["subtasks"]:
            start, end = _ms(s.get("startTime")), _ms(s.get("finishTime"))
            if start is not None and end is not None:
                found[s["name"]].append(end - start)
    return dict(found)
