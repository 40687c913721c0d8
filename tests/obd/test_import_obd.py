"""`init-from-obd` + agents + `obcp cluster import-obd` bring a 3 × 1 cluster of stand-in OceanBase homes
(the real seekdb binary as bin/observer) under management from an obd-style config.yaml; a file that
disagrees with the cluster, or a wrong root password, is refused with the difference named and nothing
written."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from tests.agent.harness import ROOT_PASSWORD
from tests.obd.standin_cluster import StandinDeployment, standin_deployment, start_observers
from tests.stack import Api, cli, obcp_server
from tests.support.ports import free_sql_ports

pytestmark = [pytest.mark.seekdb, pytest.mark.slow, pytest.mark.timeout(600)]


@pytest.fixture(scope="module")
def deployed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Api, StandinDeployment]]:
    home = tmp_path_factory.mktemp("obd-import")
    with obcp_server(home / "server") as server, standin_deployment(home / "obd", first_ip=44) as dep:
        start_observers(dep)
        api = Api(server.url)
        try:
            yield server.url, api, dep
        finally:
            api.close()


def import_obd(url: str, dep: StandinDeployment, config: Path, *extra: str, check: bool = True) -> str:
    args = ["--agent-port", str(dep.agent_port), "--agent-key-file", str(dep.key_file), *extra]
    result = cli(url, "cluster", "import-obd", str(config), *args, check=check)
    out = result.stdout + result.stderr
    assert ROOT_PASSWORD not in out and dep.agent_key not in out, "no secret in the output"
    return out


def nothing_written(api: Api) -> None:
    assert api.data("GET", "/api/v2/ob/clusters")["contents"] == []
    assert api.data("GET", "/api/v2/compute/hosts")["contents"] == []


def test_a_file_that_disagrees_is_refused_with_the_difference_named(
    deployed: tuple[str, Api, StandinDeployment], tmp_path: Path
) -> None:
    url, api, dep = deployed
    document = yaml.safe_load(dep.obd_config.read_text())
    component = document["oceanbase-ce"]
    # A fourth server obd would list that no observer of the cluster is.
    component["servers"].append({"name": "server4", "ip": "127.0.0.47"})
    (port,) = free_sql_ports(1)
    component["server4"] = {"home_path": str(tmp_path / "ob4"), "mysql_port": port, "zone": "zone4"}
    bad = tmp_path / "config.yaml"
    bad.write_text(yaml.safe_dump(document))
    out = import_obd(url, dep, bad, check=False)
    assert f"{bad} does not match the cluster; nothing was written" in out, out
    assert f"server4 (127.0.0.47:{port}, zone zone4): no observer answers as root@sys" in out, out
    assert "host 127.0.0.47: its agent at port" in out and "does not answer" in out, out
    nothing_written(api)


def test_a_wrong_root_password_is_refused(
    deployed: tuple[str, Api, StandinDeployment], tmp_path: Path
) -> None:
    url, api, dep = deployed
    wrong = tmp_path / "root.pw"
    wrong.write_text("Not_the_root_pw_1\n")
    out = import_obd(url, dep, dep.obd_config, "--root-password-file", str(wrong), check=False)
    assert "does not match the cluster" in out and "Access denied" in out, out
    nothing_written(api)


def test_import_brings_the_cluster_under_management(deployed: tuple[str, Api, StandinDeployment]) -> None:
    url, api, dep = deployed
    out = import_obd(url, dep, dep.obd_config)
    for h in dep.hosts:
        assert f"{h.zone:<12} {h.name:<16} {h.ip}:{h.sql_port}  standalone " in out, out
    assert "imported cluster obd_standin with 3 host(s)" in out, out
    cluster_id = int(out.rsplit("cluster id: ", 1)[1].split()[0])
    view = api.data("GET", f"/api/v2/ob/clusters/{cluster_id}")
    assert view["name"] == "obd_standin" and view["status"] == "RUNNING" and view["obClusterId"] == 1
    got = [(z["name"], s["ip"], s["sqlPort"], s["observerName"]) for z in view["zones"] for s in z["servers"]]
    assert got == [(h.zone, h.ip, h.sql_port, h.name) for h in dep.hosts]
    hosts = api.data("GET", "/api/v2/compute/hosts")["contents"]
    assert sorted((h["address"], h["agentPort"]) for h in hosts) == [
        (h.ip, dep.agent_port) for h in dep.hosts
    ]
    # One audit event for the whole import (hosts and cluster in one transaction), without its secrets.
    (event,) = api.data("GET", "/api/v2/audit/events", params={"action": "CLUSTER_IMPORT"})["contents"]
    assert (event["result"], event["resourceId"], event["userName"]) == ("SUCCESS", str(cluster_id), "admin")
    assert ROOT_PASSWORD not in str(event) and dep.agent_key not in str(event)
    # Managed: a zone restart through the agents made by init-from-obd replaces that observer.
    before = dep.hosts[1].pid
    task = api.data("POST", f"/api/v2/ob/clusters/{cluster_id}/zones/zone2/restart")
    assert api.wait_task(task["id"])["status"] == "SUCCESSFUL"
    assert dep.hosts[1].pid not in (None, before)
    # A second import of the same file is refused: the cluster exists.
    again = import_obd(url, dep, dep.obd_config, check=False)
    assert "error 11014" in again, again
