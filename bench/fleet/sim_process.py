"""The fleet SIMULATION process: simulated agents (HTTP, signed) and simulated observers' SQL (the channel).

    python bench/fleet/sim_process.py --clusters N --zones Z --servers S --agent-port P --channel-port C

Prints one JSON line when it listens ({"ready": true, ...}); SIGTERM stops it. The channel also answers
`{"op": "report"}` with every simulated observer's restarts, and `{"op": "cpu"}` with this process's CPU.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from pathlib import Path
from typing import Any

sys.path[:0] = [str(Path(__file__).resolve().parents[2])]  # the repository: tests.ob.ob4_standin

import uvicorn  # noqa: E402
from sim_agents import PerHostSignatures, agent_routes, listening_sockets  # noqa: E402
from sim_channel import serve_channel  # noqa: E402
from sim_observers import SQL_PORT, Faults, Fleet, Timings, agent_key, build_fleet  # noqa: E402

from obcp.ob.errors import ObConnectError, ObSqlError  # noqa: E402
from obcp.ob.topology import ServerAddr  # noqa: E402

UNSCRIPTED: list[str] = []


def sql_answer(fleet: Fleet, request: dict[str, Any]) -> dict[str, Any]:
    cluster = fleet.cluster_of.get(request["ip"])
    if cluster is None:
        return {"error": {"kind": "connect", "errno": 2003, "message": "no simulated observer there"}}
    addr = ServerAddr(request["ip"], 2882)
    try:
        if request["op"] == "connect":
            if request.get("port") != SQL_PORT:
                raise ObConnectError(f"{request['ip']}:{request.get('port')}", "(login)", 2003, "wrong port")
            cluster.session(addr)
            return {}
        rows, count = cluster._run(addr, request["sql"], request["args"])
        return {"rows": rows, "count": count}
    except ObSqlError as exc:
        kind = "connect" if isinstance(exc, ObConnectError) else "sql"
        return {"error": {"kind": kind, "errno": exc.errno, "message": exc.ob_message}}
    except AssertionError as exc:  # a statement the simulation has no script for: the run must fail
        UNSCRIPTED.append(str(exc))
        return {"error": {"kind": "sql", "errno": None, "message": f"simulation: {exc}"}}


def report(fleet: Fleet) -> dict[str, Any]:
    observers = {}
    for address, o in fleet.observers.items():
        observers[address] = {
            "state": o.state,
            "restarts": [r.__dict__ for r in o.restarts],
            "serviceTime": o.cluster.service_time(o.addr),
        }
    journal = [sql for c in fleet.clusters for _, sql in c.statements]
    return {"observers": observers, "unscripted": UNSCRIPTED, "alterStatements": journal}


async def main(args: argparse.Namespace) -> None:
    timings = Timings(args.start_min, args.start_max, args.stop_min, args.stop_max)
    faults = Faults(frozenset(args.fail_start), frozenset(args.hang_agent))
    fleet = build_fleet(args.clusters, args.zones, args.servers, args.seed, timings, faults)

    async def handle(request: dict[str, Any]) -> dict[str, Any]:
        if request["op"] == "report":
            return report(fleet)
        if request["op"] == "cpu":
            times = os.times()
            return {"cpu": times.user + times.system}
        return sql_answer(fleet, request)

    channel = await serve_channel("127.0.0.1", args.channel_port, handle)
    hosts = list(fleet.observers)
    keys = {host: agent_key(args.seed, host) for host in hosts}
    app = PerHostSignatures(agent_routes(fleet, args.agent_port), keys, args.agent_port)
    config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="off", backlog=256)
    server = uvicorn.Server(config)
    sockets = listening_sockets(hosts, args.agent_port)
    # uvicorn handles SIGTERM and SIGINT: it stops serving, then the process ends of the signal.
    serving = asyncio.create_task(server.serve(sockets=sockets))
    while not server.started:  # noqa: ASYNC110 -- uvicorn's Server only offers the flag
        await asyncio.sleep(0.05)
    print(json.dumps({"ready": True, "hosts": len(hosts), "pid": os.getpid()}), flush=True)
    await serving
    channel.close()


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description="fleet simulation: simulated agents and observers")
    p.add_argument("--clusters", type=int, required=True)
    p.add_argument("--zones", type=int, required=True)
    p.add_argument("--servers", type=int, required=True)
    p.add_argument("--seed", type=int, default=16)
    p.add_argument("--agent-port", type=int, required=True)
    p.add_argument("--channel-port", type=int, required=True)
    p.add_argument("--start-min", type=float, default=Timings.start_min)
    p.add_argument("--start-max", type=float, default=Timings.start_max)
    p.add_argument("--stop-min", type=float, default=Timings.stop_min)
    p.add_argument("--stop-max", type=float, default=Timings.stop_max)
    p.add_argument("--fail-start", action="append", default=[], help="host whose next start fails")
    p.add_argument("--hang-agent", action="append", default=[], help="host whose agent never answers")
    return p.parse_args(argv)


if __name__ == "__main__":
    asyncio.run(main(parse()))
