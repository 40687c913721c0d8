"""Rolling restart, through the API, of a 3 × 1 cluster made of stand-in OceanBase homes (kind observer:
the real seekdb binary as bin/observer, one agent per host made by `obcp agent init-from-obd`): rows
intact, every observer process replaced exactly once, each with a new START_SERVICE_TIME."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest

from tests.agent.harness import ROOT_PASSWORD
from tests.obd.standin_cluster import StandinDeployment, StandinHost, standin_deployment, start_observers
from tests.stack import Api, obcp_server

pytestmark = [pytest.mark.seekdb, pytest.mark.slow, pytest.mark.timeout(600)]


class PidWatch:
    """Samples each stand-in's pid (as its pid file and /proc say) until stopped: the distinct pids seen,
    in order, show how many times each process was replaced."""

    def __init__(self, hosts: list[StandinHost]) -> None:
        self._hosts = hosts
        self.seen: dict[str, list[int]] = {h.name: [] for h in hosts}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            for h in self._hosts:
                pid = h.pid
                if pid is not None and (not self.seen[h.name] or self.seen[h.name][-1] != pid):
                    self.seen[h.name].append(pid)
            self._stop.wait(0.02)

    def __enter__(self) -> PidWatch:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=10)


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Api, StandinDeployment, int]]:
    home = tmp_path_factory.mktemp("obd-restart")
    with obcp_server(home / "server") as server, standin_deployment(home / "obd", first_ip=41) as dep:
        start_observers(dep)
        api = Api(server.url)
        try:
            yield api, dep, _take_over(api, dep)
        finally:
            api.close()


def _take_over(api: Api, dep: StandinDeployment) -> int:
    zones = []
    for h in dep.hosts:
        assert h.agent is not None
        host = api.data(
            "POST",
            "/api/v2/compute/hosts",
            json={"address": h.ip, "agentPort": h.agent.port, "agentKey": dep.agent_key},
        )
        server = {"hostId": host["id"], "sqlPort": h.sql_port, "rpcPort": 2882, "observerName": h.name}
        zones.append({"name": h.zone, "servers": [server]})
    body = {"name": "obd_standin", "rootPassword": ROOT_PASSWORD, "zones": zones}
    cluster_id: int = api.data("POST", "/api/v2/ob/clusters/takeover", json=body)["id"]
    return cluster_id


def test_rolling_restart_replaces_every_process_once_and_keeps_rows(
    cluster: tuple[Api, StandinDeployment, int],
) -> None:
    api, dep, cluster_id = cluster
    for h in dep.hosts:
        assert h.agent is not None
        status = h.agent.request("GET", f"/v1/observers/{h.name}").json()
        assert status["kind"] == "observer" and status["binary"] == str(h.home / "bin" / "observer")
        h.sql("CREATE TABLE IF NOT EXISTS test.kept (id INT PRIMARY KEY, zone VARCHAR(32))")
        h.sql(f"REPLACE INTO test.kept VALUES (1, '{h.zone}'), (2, '{h.zone}')")
    pids = {h.name: h.pid for h in dep.hosts}
    assert None not in pids.values(), pids
    service_times = {h.name: h.start_service_time() for h in dep.hosts}

    with PidWatch(dep.hosts) as watch:
        task = api.data("POST", f"/api/v2/ob/clusters/{cluster_id}/restart")
        final = api.wait_task(task["id"])
    assert final["status"] == "SUCCESSFUL", final

    for h in dep.hosts:
        new_pid = h.pid
        assert new_pid is not None and new_pid != pids[h.name], h.name
        # The pid changed exactly once: the old process, then the new one, nothing in between.
        assert watch.seen[h.name] == [pids[h.name], new_pid], (h.name, watch.seen)
        assert h.start_service_time() > service_times[h.name], h.name
        assert h.sql("SELECT id, zone FROM test.kept ORDER BY id") == [(1, h.zone), (2, h.zone)]
    # Zone after zone: each observer was stopped only after the one before accepted SQL again.
    subs = final["subtasks"]
    accessible = [s for s in subs if s["name"] == "Wait observer accessible"]
    stops = [s for s in subs if s["name"] == "Stop observer process"]
    assert len(accessible) == len(stops) == 3
    for earlier, later in zip(accessible, stops[1:], strict=False):
        assert earlier["finishTime"] <= later["startTime"]
    view = api.data("GET", f"/api/v2/ob/clusters/{cluster_id}")
    assert view["status"] == "RUNNING" and [z["status"] for z in view["zones"]] == ["RUNNING"] * 3
