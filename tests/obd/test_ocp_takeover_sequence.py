"""OCP's takeover as obd's ocp-server plugin drives it, against a stand-in OceanBase home (the real seekdb
binary as bin/observer) on 127.0.0.51: list or create a host type, list or create an SSH credential, POST
takeOver, poll the task. obcp installs no agent: with no agent registered the task fails at "Check host
agents" naming the host and what to do; registered but not running, it fails there again saying so; once
the agent runs, a retry resumes and the cluster is under management."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.agent.harness import ROOT_PASSWORD
from tests.obd.standin_cluster import StandinDeployment, standin_deployment, start_observers
from tests.stack import Api, obcp_server

pytestmark = [pytest.mark.seekdb, pytest.mark.slow, pytest.mark.timeout(600)]

SSH_PASSWORD = "Ssh_pw_never_returned_1"


@pytest.fixture(scope="module")
def one_host(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Api, StandinDeployment]]:
    home = tmp_path_factory.mktemp("ocp-takeover")
    with obcp_server(home / "server") as server, standin_deployment(home / "obd", 51, count=1) as dep:
        start_observers(dep)
        agent = dep.hosts[0].agent
        assert agent is not None
        agent.kill()  # the observer runs on; its host has no agent answering now
        api = Api(server.url)
        try:
            yield api, dep
        finally:
            api.close()


def failed_step(task: dict[str, Any]) -> dict[str, Any]:
    assert task["status"] == "FAILED", task
    failed: list[dict[str, Any]] = [s for s in task["subtasks"] if s["status"] == "FAILED"]
    assert len(failed) == 1, failed
    return failed[0]


def step_log(api: Api, task_id: int, sub: dict[str, Any]) -> str:
    r = api.call("GET", f"/api/v2/tasks/instances/{task_id}/subtasks/{sub['id']}/log")
    assert r.status_code == 200, r.text
    return str(r.json()["data"])


def test_obds_sequence_fails_without_an_agent_and_resumes_once_it_runs(
    one_host: tuple[Api, StandinDeployment],
) -> None:
    api, dep = one_host
    host = dep.hosts[0]
    # obd: the first host type, or a new one.
    types = api.data("GET", "/api/v2/compute/hostTypes")["contents"]
    assert types == []
    host_type = api.data(
        "POST", "/api/v2/compute/hostTypes", json={"name": "obd_host_type", "description": "obd"}
    )
    assert api.data("GET", "/api/v2/compute/hostTypes")["contents"] == [host_type]
    # obd: its credential by name, or a new one.
    assert api.data("GET", "/api/v2/profiles/me/credentials")["contents"] == []
    credential = api.data(
        "POST",
        "/api/v2/profiles/me/credentials",
        json={"targetType": "HOST", "name": "obd_credential",
              "sshCredentialProperty": {"type": "PASSWORD", "username": "admin", "passphrase": SSH_PASSWORD}},
    )  # fmt: skip
    listed = api.call("GET", "/api/v2/profiles/me/credentials")
    assert SSH_PASSWORD not in listed.text and listed.json()["data"]["contents"] == [credential]
    assert credential["sshCredentialProperty"] == {"type": "PASSWORD", "username": "admin"}

    body = {"switchConfigUrl": True, "connectionMode": "direct", "rootSysPassword": ROOT_PASSWORD,
            "address": host.ip, "port": host.sql_port,
            "hostInfo": {"kind": "DEDICATED_PHYSICAL_MACHINE", "hostTypeId": host_type["id"], "sshPort": 22,
                         "credentialId": credential["id"]}}  # fmt: skip
    answer = api.call("POST", "/api/v2/ob/clusters/takeOver", json=body)
    assert answer.status_code == 200 and ROOT_PASSWORD not in answer.text, answer.text
    task_id, cluster_id = answer.json()["data"]["id"], answer.json()["data"]["clusterId"]
    assert api.data("GET", f"/api/v2/ob/clusters/{cluster_id}")["status"] in ("TAKINGOVER", "RUNNING")

    # No agent registered for the host: the step names it and says what to do.
    step = failed_step(api.wait_task(task_id))
    assert step["name"] == "Check host agents"
    log = step_log(api, task_id, step)
    assert f"host {host.ip} has no obcp agent registered" in log, log
    assert f"obcp agent init-from-obd config.yaml --host {host.ip}" in log and "then retry this task" in log
    assert api.data("GET", f"/api/v2/ob/clusters/{cluster_id}")["status"] == "TAKINGOVER"

    # Registered, but its agent is not running: the retry fails at the same step, saying so.
    assert host.agent is not None
    api.data("POST", "/api/v2/compute/hosts",
             json={"address": host.ip, "agentPort": host.agent.port, "agentKey": dep.agent_key})  # fmt: skip
    api.data("POST", f"/api/v2/tasks/instances/{task_id}/retry")
    step = failed_step(api.wait_task(task_id))
    log = step_log(api, task_id, step)
    assert step["name"] == "Check host agents"
    assert f"host {host.ip}: its obcp agent at port {host.agent.port} does not answer" in log, log

    # The agent runs (and adopts the running observer): the retry resumes and finishes.
    host.agent.start()
    api.data("POST", f"/api/v2/tasks/instances/{task_id}/retry")
    final = api.wait_task(task_id)
    assert final["status"] == "SUCCESSFUL", final
    names = [s["name"] for s in sorted(final["subtasks"], key=lambda s: s["id"])]
    assert names == ["Discover cluster topology", "Check host agents", "Save cluster topology"]
    view = api.data("GET", f"/api/v2/ob/clusters/{cluster_id}")
    assert view["status"] == "RUNNING" and view["obVersion"]
    servers = [s for z in view["zones"] for s in z["servers"]]
    assert [(s["ip"], s["sqlPort"], s["observerName"]) for s in servers] == [
        (host.ip, host.sql_port, host.name)
    ]
