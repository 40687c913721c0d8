"""What obcp's restart costs over a bare restart of the same seekdb, measured in one run.

(a) one seekdb restarted by a minimal script (SIGTERM, start with the agent's command line, first
    successful `SELECT 1`) against obcp restarting a 1 x 1 sandbox cluster: from the API call
    (`POST /api/v2/ob/clusters/{id}/restart` with `{"minorFreeze": false}`: the seed's 19 subtasks, without
    the minor freeze before the stop, which the bare restart does not do either; bench/restart_dirty.py
    measures the freeze) to the task SUCCESSFUL;
(b) three bare restarts in sequence against a 3 x 1 rolling restart through the API.

Each round runs the bare restart and obcp's back to back, odd rounds bare first and even rounds obcp first
(so a slow drift of the machine's load favours neither side); the report gives medians, the ratios
(target: <= 1.15) and, for the median obcp round, where its time went (per subtask from the task API, and
the gaps between subtasks). It starts its own servers, sandboxes and bare seekdbs, and stops them by pid.

    .venv/bin/python bench/restart_overhead.py [--rounds 5] [--warmup 1]
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import tempfile
import time
from collections import defaultdict
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx

from _stack import ADMIN_PASSWORD, bare_seekdbs, obcp_server, sandbox

TASK_POLL = 0.25


def load() -> str:
    one, five, _ = os.getloadavg()
    return f"load {one:.2f}/{five:.2f}"


def obcp_restart(
    http: httpx.Client, cluster_id: int, body: dict[str, Any] | None
) -> tuple[float, dict[str, Any]]:
    """Seconds from the restart call to the task's SUCCESSFUL (its finishTime: same machine, same clock,
    so the bench's own polling adds neither delay nor, polling slowly, much load), and the task."""
    t0 = time.time()
    path = f"/api/v2/ob/clusters/{cluster_id}/restart"
    r = http.post(path, json=body) if body is not None else http.post(path)
    r.raise_for_status()
    task_id = r.json()["data"]["id"]
    while True:
        time.sleep(TASK_POLL)
        task: dict[str, Any] = http.get(f"/api/v2/tasks/instances/{task_id}").json()["data"]
        if task["status"] != "RUNNING":
            break
    if task["status"] != "SUCCESSFUL":
        raise RuntimeError(f"task {task_id} ended {task['status']}")
    return ts(task["finishTime"]) - t0, task


def ts(value: str) -> float:
    return datetime.fromisoformat(value).timestamp()


def breakdown(task: dict[str, Any]) -> list[str]:
    """Time per subtask name (summed over instances) and the gaps: time in the task when none ran."""
    subtasks = [s for s in task["subtasks"] if s.get("startTime") and s.get("finishTime")]
    per_name: dict[str, float] = defaultdict(float)
    for s in subtasks:
        per_name[s["name"]] += ts(s["finishTime"]) - ts(s["startTime"])
    start, finish = ts(task["startTime"]), ts(task["finishTime"])
    spans = sorted((ts(s["startTime"]), ts(s["finishTime"])) for s in subtasks)
    busy, cursor = 0.0, start
    for a, b in spans:
        if b > cursor:
            busy += b - max(a, cursor)
            cursor = b
    lines = [f"    task {task['id']}: {finish - start:.2f} s from its start to its finish (server clock)"]
    for name, secs in sorted(per_name.items(), key=lambda kv: -kv[1]):
        if secs >= 0.005:
            lines.append(f"      {secs:6.2f} s  {name}")
    lines.append(f"      {finish - start - busy:6.2f} s  between subtasks (no subtask running)")
    return lines


def agent_seconds(http: httpx.Client, task: dict[str, Any]) -> list[str]:
    """What the agents measured inside the stop and start steps (from the subtask logs), so the seekdb's
    own time is apart from obcp's around it."""
    lines = []
    for s in task["subtasks"]:
        if s["name"] not in ("Stop observer process", "Start observer process"):
            continue
        step = ts(s["finishTime"]) - ts(s["startTime"])
        log = http.get(f"/api/v2/tasks/instances/{task['id']}/subtasks/{s['id']}/log").json()["data"]["log"]
        found = re.search(r"(?:stopped by \w+ in|ready after) ([\d.]+) s", log)
        inside = f"{float(found.group(1)):.2f} s" if found else "?"
        lines.append(
            f"      {s['name']} (subtask {s['id']}): {step:.2f} s, of which the agent's own {inside}"
        )
    return lines


def phase(workdir: Path, zones: int, rounds: int, warmup: int) -> dict[str, Any]:
    label = f"{zones} x 1" + (" rolling" if zones > 1 else "")
    print(f"\n== {label}: bare restart{'s' if zones > 1 else ''} vs obcp ({load()})", flush=True)
    with (
        obcp_server(workdir / "server") as url,
        sandbox(url, workdir / "sandbox", zones, f"bench{zones}") as sb,
        bare_seekdbs(workdir / "bare", zones) as bare,
        httpx.Client(base_url=url, auth=("admin", ADMIN_PASSWORD), timeout=30) as http,
    ):
        body: dict[str, Any] = {"minorFreeze": False}
        if zones > 1:
            body["restartMode"] = "ROLLING"
        bare_times: list[float] = []
        obcp_times: list[float] = []
        tasks: list[dict[str, Any]] = []
        loads: list[str] = []
        for i in range(-warmup, rounds):
            time.sleep(1)  # let the previous restart's aftermath settle before timing the next one
            # Alternate which goes first (round i + 1: odd bare first, even obcp first), so a drift of the
            # machine's load during the run favours neither side.
            if i % 2 == 0:
                b = sum(db.restart() for db in bare)
                o, task = obcp_restart(http, sb.cluster_id, body)
            else:
                o, task = obcp_restart(http, sb.cluster_id, body)
                b = sum(db.restart() for db in bare)
            if i < 0:
                # The first restart after bootstrap and the server's first task are slower on both sides.
                print(f"  warm-up (not counted): bare {b:.2f} s, obcp {o:.2f} s ({load()})", flush=True)
                continue
            bare_times.append(b)
            obcp_times.append(o)
            tasks.append(task)
            loads.append(load())
            print(
                f"  round {i + 1}: bare {b:.2f} s, obcp {o:.2f} s, ratio {o / b:.2f} ({loads[-1]})",
                flush=True,
            )
        median = statistics.median(obcp_times)
        median_task = tasks[obcp_times.index(min(obcp_times, key=lambda t: abs(t - median)))]
        print(f"  where obcp's time went (median round, task {median_task['id']}):")
        print("\n".join(breakdown(median_task) + agent_seconds(http, median_task)), flush=True)
    return {
        "label": label,
        "bare": bare_times,
        "obcp": obcp_times,
        "loads": loads,
        "ratio": median / statistics.median(bare_times),
        "round_ratio": statistics.median(o / b for o, b in zip(obcp_times, bare_times, strict=True)),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--warmup", type=int, default=1, help="rounds run first and not counted")
    args = parser.parse_args()
    print(f"obcp restart overhead, {args.rounds} rounds ({load()}, {os.cpu_count()} cores)")
    with tempfile.TemporaryDirectory(prefix="obcp-bench-") as tmp:
        results = [phase(Path(tmp) / f"z{zones}", zones, args.rounds, args.warmup) for zones in (1, 3)]
    print(
        "\n| case | bare (median) | obcp (median) | ratio of medians | median round ratio "
        "| rounds (bare/obcp, s) |"
    )
    print("|---|---|---|---|---|---|")
    for r in results:
        rounds = ", ".join(f"{b:.2f}/{o:.2f}" for b, o in zip(r["bare"], r["obcp"], strict=True))
        print(
            f"| {r['label']} | {statistics.median(r['bare']):.2f} s | {statistics.median(r['obcp']):.2f} s "
            f"| **{r['ratio']:.2f}** | {r['round_ratio']:.2f} | {rounds} |"
        )
    print(f"\n{load()} at the end; target: both ratios <= 1.15")


if __name__ == "__main__":
    main()
