"""A stand-in for an obd-deployed OceanBase cluster: one stand-in OceanBase home per host (the real seekdb
binary as bin/observer, see tests/agent/standin_home.py), obd's `config.yaml` describing them, and one
real agent per host made from that file by `obcp agent init-from-obd`. Not an OceanBase cluster: each
stand-in is a standalone seekdb, so the "cluster" is the set of them, zone by zone, as the sandbox's is.

Everything started here is stopped by pid (agents by their process, stand-ins by their pid file checked
against their home)."""

from __future__ import annotations

import concurrent.futures
import contextlib
import subprocess
from collections.abc import Collection, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pymysql
import pytest
import yaml

from obcp.agent.ports import free_port
from tests.agent.harness import ROOT_PASSWORD, AgentProcess
from tests.agent.standin_home import build_standin_home, initialise_standin_home, kill_standin, standin_pid
from tests.stack import OBCP
from tests.support.ports import free_sql_ports

RPC_PORT = 2882


@dataclass
class StandinHost:
    """One host of the stand-in deployment: its loopback address, its home and its observer's ports."""

    name: str
    ip: str
    zone: str
    home: Path
    sql_port: int
    agent: AgentProcess | None = None

    @property
    def pid(self) -> int | None:
        return standin_pid(self.home)

    def sql(self, statement: str, password: str = ROOT_PASSWORD) -> list[tuple[Any, ...]]:
        conn = pymysql.connect(
            host=self.ip, port=self.sql_port, user="root", password=password,
            connect_timeout=5, read_timeout=30, autocommit=True,
        )  # fmt: skip
        try:
            with conn.cursor() as cur:
                cur.execute(statement)
                return list(cur.fetchall())
        finally:
            conn.close()

    def start_service_time(self) -> int:
        return int(self.sql("SELECT START_SERVICE_TIME FROM oceanbase.V$OB_SERVER_STAT")[0][0])


@dataclass
class StandinDeployment:
    """Every host's agent listens on `agent_port` at the host's address, with the one key of `key_file`
    (init-from-obd creates it for the first host and keeps it for the others)."""

    root: Path
    hosts: list[StandinHost]
    obd_config: Path
    agent_port: int
    key_file: Path

    @property
    def agent_key(self) -> str:
        return self.key_file.read_text().strip()


def obd_config_text(hosts: list[StandinHost], root_password: str | None, *, app_name: str) -> str:
    """obd's config.yaml for the hosts: named servers, home_path and ports in global and per server."""
    component: dict[str, Any] = {
        "servers": [{"name": h.name, "ip": h.ip} for h in hosts],
        "global": {"appname": app_name, "cluster_id": 1, "rpc_port": RPC_PORT, "devname": "lo"},
    }
    if root_password is not None:
        component["global"]["root_password"] = root_password
    for h in hosts:
        component[h.name] = {"home_path": str(h.home), "mysql_port": h.sql_port, "zone": h.zone}
    document = {"user": {"username": "admin", "port": 22}, "oceanbase-ce": component}
    return yaml.safe_dump(document, sort_keys=False)


def _agent_from_obd(deployment: StandinDeployment, host: StandinHost) -> AgentProcess:
    out = deployment.root / "agents" / host.ip
    out.mkdir(parents=True, exist_ok=True)
    result = subprocess.run(
        [OBCP, "agent", "init-from-obd", str(deployment.obd_config), "--host", host.ip,
         "--out", str(out / "agent.toml"), "--key-file", str(deployment.key_file), "--start-args", ""],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    key = deployment.agent_key
    return AgentProcess(host.ip, deployment.agent_port, key, out / "agent.toml", out / "agent.log")


@contextlib.contextmanager
def standin_deployment(
    root: Path,
    first_ip: int,
    count: int = 3,
    root_password: str | None = ROOT_PASSWORD,
    unstarted_agents: Collection[str] = (),
) -> Iterator[StandinDeployment]:
    """`count` hosts 127.0.0.<first_ip>…, zone1…, each with an initialised stand-in home (stopped), obd's
    config.yaml (`root_password` in it unless None) and an agent made by init-from-obd, running unless
    its host's address is in `unstarted_agents`."""
    ports = free_sql_ports(count)
    hosts = [
        StandinHost(f"server{i + 1}", f"127.0.0.{first_ip + i}", f"zone{i + 1}", root / f"ob{i + 1}", port)
        for i, port in enumerate(ports)
    ]
    root.mkdir(parents=True, exist_ok=True)
    deployment = StandinDeployment(
        root, hosts, root / "config.yaml", free_port("0.0.0.0"), root / "agent.key"
    )
    deployment.obd_config.write_text(obd_config_text(hosts, root_password, app_name="obd_standin"))
    try:
        for h in hosts:
            build_standin_home(h.home)
        with concurrent.futures.ThreadPoolExecutor(count) as pool:
            list(pool.map(lambda h: initialise_standin_home(h.home, h.sql_port, ROOT_PASSWORD), hosts))
        with pytest.MonkeyPatch.context() as mp:
            # The agent's environment is its observers': no telemetry lookups from the stand-ins.
            mp.setenv("TELEMETRY_ENABLED", "false")
            for h in hosts:
                h.agent = _agent_from_obd(deployment, h)
                if h.ip not in unstarted_agents:
                    h.agent.start()
        yield deployment
    finally:
        for h in hosts:
            if h.agent is not None:
                h.agent.stop()
            kill_standin(h.home)


def start_observers(deployment: StandinDeployment) -> None:
    """Every stand-in observer started through its agent, as obd's start would (without parameters)."""
    for h in deployment.hosts:
        assert h.agent is not None and h.agent.proc is not None, f"the agent of {h.ip} is not started"
        response = h.agent.request(
            "POST", f"/v1/observers/{h.name}/start", json={"rootPassword": ROOT_PASSWORD}
        )
        assert response.status_code == 200, response.text
