"""Fleet scale, measured by SIMULATION: N clusters of Z zones x S servers restarted at once.

    python bench/fleet/run.py --clusters 100 --zones 3 --servers 10 [--restarts R] [--pollers P]
        [--poll-seconds S] [--metadb sqlite|postgresql] [--replicas 1|2] [--json FILE]

Only the observers and their agents are simulated (bench/fleet/sim_*.py: one process serving the agent
API, signed, on one loopback address per host, and the observers' SQL through obcp's `Connector` seam);
the obcp server, its engine, the metadb and every HTTP path are the real ones. Without --metadb it runs
SQLite (one replica), PostgreSQL (one replica) and PostgreSQL (two replicas) one after the other.

Baselines measured in the same run: each restart's simulated critical path (the sum over zones of the
slowest stop plus the slowest start), and OCP's model of the same DAG (ready subtasks looked for once a
second: a chain of k steps waits about k/2 s more on average, up to k s).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from types import FrameType
from typing import Any

sys.path[:0] = [str(Path(__file__).resolve().parents[2])]  # the repository: tests.ob.ob4_standin

import fleet_load  # noqa: E402
import fleet_report as fr  # noqa: E402
import fleet_stack  # noqa: E402
from sim_channel import ChannelClient  # noqa: E402
from sim_observers import host_address  # noqa: E402


def _faults(args: argparse.Namespace) -> list[str]:
    """The simulation's timings and faults, as its command-line flags."""
    hosts = args.clusters * args.zones * args.servers
    flags = [f"--start-min={args.start[0]}", f"--start-max={args.start[1]}"]
    flags += [f"--stop-min={args.stop[0]}", f"--stop-max={args.stop[1]}"]
    flags += [f"--fail-start={host_address(i * 7 % hosts)}" for i in range(args.fail_starts)]
    flags += [f"--hang-agent={host_address((i * 11 + 3) % hosts)}" for i in range(args.hang_agents)]
    return flags


async def _sim_call(port: int, op: str) -> dict[str, Any]:
    channel = ChannelClient("127.0.0.1", port)
    return await channel.call({"op": op})


def _own_cpu() -> float:
    times = os.times()
    return times.user + times.system


def _print_census(before: list[dict[str, Any]], after: list[dict[str, Any]], tasks: int) -> None:
    """The metadb statements the replicas sent during the restarts, per task, most frequent first."""
    moved: dict[str, int] = {}
    for b, a in zip(before, after, strict=True):
        for head, n in a.get("census", {}).items():
            moved[head] = moved.get(head, 0) + n - b.get("census", {}).get(head, 0)
    print(f"   metadb statements per task ({sum(moved.values()) / tasks:.0f} in all):")
    for head, n in sorted(moved.items(), key=lambda kv: -kv[1])[:40]:
        print(f"   {n / tasks:8.1f}  {head[:120]}")


def one_round(args: argparse.Namespace, kind: str, count: int) -> dict[str, Any]:
    """One configuration: a fresh metadb, the simulation, `count` replicas; registration, the restarts."""
    label = f"{kind}, {count} replica{'s' if count > 1 else ''}"
    print(f"\n== {label}: {args.clusters} clusters x {args.zones} zones x {args.servers} servers (simulated)")
    home = Path(tempfile.mkdtemp(prefix="obcp-fleet-"))
    # Every zone's fan-out of every cluster at once: the engine's default (64 steps a replica) queues them.
    max_running = args.max_running or max(64, 2 * args.clusters * args.servers)
    engine_env = {"OBCP_ENGINE_MAX_RUNNING": str(max_running)}
    if args.census:
        engine_env["OBCP_FLEET_CENSUS"] = "1"
    print(f"   OBCP_ENGINE_MAX_RUNNING={max_running}")
    with (
        fleet_stack.simulation(args, home, args.agent_port, _faults(args)) as sim,
        fleet_stack.metadb(kind, home) as db_url,
        fleet_stack.replicas(count, home, db_url, sim.channel_port, engine_env) as servers,
    ):
        urls = [r.url for r in servers]
        began = time.monotonic()
        cluster_ids = asyncio.run(
            fleet_load.register(urls[0], args.clusters, args.zones, args.servers, args.seed, args.agent_port)
        )
        hosts_n = len(cluster_ids) * args.zones * args.servers
        print(f"   registered {hosts_n} hosts and {len(cluster_ids)} clusters "
              f"through the API in {time.monotonic() - began:.1f} s")  # fmt: skip
        targets = cluster_ids[: args.restarts or len(cluster_ids)]
        rows_before, bytes_before = fleet_stack.task_table_size(db_url)
        before = [r.counters() for r in servers]
        sim_cpu_before = asyncio.run(_sim_call(sim.channel_port, "cpu"))["cpu"]
        driver_cpu_before = _own_cpu()
        began = time.monotonic()

        refused: list[str] = []

        async def restart_and_follow() -> tuple[list[int], fleet_load.Latencies]:
            task_ids = await fleet_load.restart_all(urls, targets, refused)
            return task_ids, await fleet_load.follow(
                urls, task_ids, args.pollers, args.watchers, args.poll_seconds
            )

        task_ids, lat = asyncio.run(restart_and_follow())
        elapsed = time.monotonic() - began
        driver_cpu = _own_cpu() - driver_cpu_before
        after = [r.counters() for r in servers]
        if args.census:
            _print_census(before, after, len(targets))
        sim_cpu = asyncio.run(_sim_call(sim.channel_port, "cpu"))["cpu"] - sim_cpu_before
        rows_after, bytes_after = fleet_stack.task_table_size(db_url)
        tasks = asyncio.run(fleet_load.fetch_tasks(urls[0], task_ids))
        report = asyncio.run(_sim_call(sim.channel_port, "report"))
        failed_steps = asyncio.run(fleet_load.failures(urls[0], tasks))
        if args.log_of:
            print(asyncio.run(fleet_load.subtask_log(urls[0], tasks[0], args.log_of)))
    per_cluster = args.zones * args.servers
    hosts = {
        cid: {
            f"zone{z + 1}": [
                host_address(i * per_cluster + z * args.servers + k) for k in range(args.servers)
            ]
            for z in range(args.zones)
        }
        for i, cid in enumerate(cluster_ids)
        if cid in targets
    }
    crit = fr.critical_paths(hosts, report["observers"])
    rows = fr.restart_rows(tasks, crit, dict(zip(task_ids, targets, strict=True)))
    cpu = sum(a["cpu"] - b["cpu"] for a, b in zip(after, before, strict=True))
    writes = sum(a["writes"] - b["writes"] for a, b in zip(after, before, strict=True))
    commits = sum(a["commits"] - b["commits"] for a, b in zip(after, before, strict=True))
    result = {
        "config": label,
        "elapsed_s": elapsed,
        "restarts": len(task_ids),
        "critical_path_s": [c for c, _ in crit.values()],
        "observers_restarted": sum(n for _, n in crit.values()),
        "alter_statements": report["alterStatements"],
        **rows,
        "task_get_s": lat.task_get,
        "page_get_s": lat.page_get,
        "sse_lag_s": lat.sse_lag,
        "sse_events": lat.sse_events,
        "load_errors": lat.errors,
        "transport_errors": dict(Counter(lat.transport_errors)),
        "submissions_refused": refused,
        "server_cpu_s": cpu,
        "simulation_cpu_s": sim_cpu,
        "driver_cpu_s": driver_cpu,
        "metadb_writes": writes,
        "metadb_commits": commits,
        "metadb_rows_per_task": {t: (rows_after[t] - rows_before[t]) / len(task_ids) for t in rows_after},
        "metadb_bytes_per_task": (bytes_after - bytes_before) / len(task_ids),
        "problems": failed_steps + fr.consistency(tasks, report, hosts),
        "step_ms": fr.step_durations_ms(tasks),
        "home": str(home),
    }
    print_round(result, args)
    return result


def print_round(r: dict[str, Any], args: argparse.Namespace) -> None:
    n_sub = max(1, r["subtasks"])
    rows_per_task = sum(r["metadb_rows_per_task"].values())
    print(f"   tasks: {r['statuses']}; {r['subtasks']} subtasks; DAG depth {fr.summary(r['depth'])}")
    print(f"   simulated critical path (s)          {fr.summary(r['critical_path_s'])}")
    print(f"   wall / critical path                 {fr.ratio_summary(r['ratio'])}   target <= 1.1")
    print(f"   OCP model (1 s look-up) / crit, avg  {fr.ratio_summary(r['ocp_ratio_avg'])}")
    print(f"   OCP model (1 s look-up) / crit, max  {fr.ratio_summary(r['ocp_ratio_max'])}")
    print(f"   obcp overhead, ms per chain step     {fr.summary(r['overhead_ms_per_step'])}")
    print(f"   READY -> running wait (ms)           {fr.summary(r['ready_waits_ms'])}   target max <= 100")
    if r["reruns"]:
        print(f"   {r['reruns']} subtasks ran more than once (a step repeated after a metadb wait): "
              "their waits are left out above")  # fmt: skip
    print(
        f"   task GET, {args.pollers} pollers every {args.poll_seconds:g} s (ms) "
        f"{fr.summary(r['task_get_s'], scale=1000)}   target p99 <= 50"
    )
    print(f"   task list page GET (ms)              {fr.summary(r['page_get_s'], scale=1000)}")
    print(
        f"   event stream, {args.watchers} watchers: lag after finish (ms) "
        f"{fr.summary(r['sse_lag_s'], scale=1000)}"
    )
    if r["submissions_refused"]:
        print(f"   {len(r['submissions_refused'])} restart submissions answered 503 and were asked again: "
              f"{r['submissions_refused'][0]}")  # fmt: skip
    if r["transport_errors"]:
        kinds = ", ".join(f"{n} {kind}" for kind, n in sorted(r["transport_errors"].items()))
        print(f"   (followers' requests that failed in transport and were repeated: {kinds})")
    print(f"   server CPU: {r['server_cpu_s']:.1f} s = {r['server_cpu_s'] / n_sub * 1000:.2f} ms per subtask "
          f"(simulation process: {r['simulation_cpu_s']:.1f} s; this driver and its followers: "
          f"{r['driver_cpu_s']:.1f} s)")  # fmt: skip
    print(f"   metadb: {rows_per_task:.0f} rows and {r['metadb_bytes_per_task'] / 1024:.1f} KiB per task; "
          f"{r['metadb_writes'] / r['elapsed_s']:.0f} row-writing statements/s, "
          f"{r['metadb_commits'] / r['elapsed_s']:.0f} commits/s over {r['elapsed_s']:.1f} s")  # fmt: skip
    if args.steps:
        slowest = sorted(r["step_ms"].items(), key=lambda kv: -sum(kv[1]) / len(kv[1]))[:8]
        for name, values in slowest:
            print(f"     step {name:<34} {fr.summary(values, ' ms')}")
    if r["load_errors"] or r["problems"]:
        print("   PROBLEMS: " + "; ".join(r["load_errors"] + r["problems"][:10]))
    else:
        print("   simulation and server agree: every task SUCCESSFUL, every simulated observer restarted "
              "once "
              "with a new START_SERVICE_TIME")  # fmt: skip


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0] if __doc__ else None)
    p.add_argument("--clusters", type=int, default=100)
    p.add_argument("--zones", type=int, default=3)
    p.add_argument("--servers", type=int, default=10, help="servers per zone")
    p.add_argument("--restarts", type=int, default=0, help="clusters restarted at once (default: all)")
    p.add_argument("--pollers", type=int, default=100)
    p.add_argument(
        "--poll-seconds",
        type=float,
        default=0.5,
        help="each poller's pause after an answer (default 0.5, as `obcp task watch`)",
    )
    p.add_argument("--watchers", type=int, default=50, help="event-stream (SSE) watchers")
    p.add_argument("--metadb", choices=["sqlite", "postgresql"], default=None)
    p.add_argument("--replicas", type=int, choices=[1, 2], default=1)
    p.add_argument("--seed", type=int, default=16)
    p.add_argument("--agent-port", type=int, default=23886, help="every simulated agent's port")
    p.add_argument(
        "--max-running",
        type=int,
        default=0,
        help="OBCP_ENGINE_MAX_RUNNING of the replicas (default: 2 x clusters x servers)",
    )
    p.add_argument(
        "--start",
        type=float,
        nargs=2,
        default=(1.7, 2.6),
        metavar=("MIN", "MAX"),
        help="simulated start seconds, uniform (measured on seekdb: 1.7-2.6)",
    )
    p.add_argument(
        "--stop",
        type=float,
        nargs=2,
        default=(0.05, 0.1),
        metavar=("MIN", "MAX"),
        help="simulated stop seconds, uniform (measured on seekdb: 0.05-0.1)",
    )
    p.add_argument("--fail-starts", type=int, default=0, help="simulated observers whose start fails")
    p.add_argument("--hang-agents", type=int, default=0, help="simulated agents that never answer")
    p.add_argument("--census", action="store_true", help="print the metadb statements per task")
    p.add_argument("--steps", action="store_true", help="print the slowest steps' run times")
    p.add_argument("--log-of", default=None, help="print the first task's log of this step")
    p.add_argument("--json", type=Path, default=None, help="write every figure here")
    args = p.parse_args(argv)
    if args.poll_seconds <= 0:
        p.error(
            f"--poll-seconds must be above 0 (a poller would ask without pause), not {args.poll_seconds:g}"
        )
    return args


def _exit(signum: int, frame: FrameType | None) -> None:
    raise SystemExit(1)  # so that every process this run started is stopped on the way out


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    signal.signal(signal.SIGTERM, _exit)
    print(
        "SIMULATION: the observers and their agents are simulated; server, engine, metadb and HTTP are real."
    )
    print(f"machine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f} (shared with other work)")
    if args.metadb is not None:
        configs = [(args.metadb, args.replicas)]
    elif fleet_stack.postgresql_reachable():
        configs = [("sqlite", 1), ("postgresql", 1), ("postgresql", 2)]
    else:
        print("PostgreSQL not reachable (OBCP_TEST_PG_URL): SQLite only")
        configs = [("sqlite", 1)]
    results = [one_round(args, kind, count) for kind, count in configs]
    if len(results) > 1:
        print("\n== metadb and replicas (p50 wall / critical path; task GET p99; server CPU per subtask)")
        for r in results:
            get_p99 = fr.pct(r["task_get_s"], 0.99) * 1000
            print(f"   {r['config']:<24} {fr.pct(r['ratio'], 0.5):.3f}   {get_p99:6.1f} ms"
                  f"   {r['server_cpu_s'] / max(1, r['subtasks']) * 1000:.2f} ms")  # fmt: skip
    if args.json is not None:
        args.json.write_text(json.dumps(results, indent=1, default=str))
    agreed = all(not r["problems"] and not r["load_errors"] for r in results)
    return 0 if agreed else 1


if __name__ == "__main__":
    sys.exit(main())
