"""The seed contract, end to end: `POST /api/v2/ob/clusters/{id}/restart` with no body on a cluster of one
zone with one real seekdb observer answers as the OCP page shows (field by field), and the task really
restarts the observer (a new START_SERVICE_TIME) and brings the cluster back to RUNNING."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pymysql
import pytest

from tests.stack import Api, Sandbox, running_stack

pytestmark = [pytest.mark.seekdb, pytest.mark.slow, pytest.mark.timeout(600)]

SEED_ORDER = [
    "Prepare restart cluster",
    "Set zone context",
    "Prepare restart OB zone",
    "Prepare restart observer",
    "Wait node",
    "Stop observer process",
    "Wait node",
    "Start observer process",
    "Wait observer accessible",
    "Start ocp agent service",
    "Wait node",
    "Start server",
    "Wait node",
    "Update observer status",
    "Start zone",
    "Update zone status",
    "Sync cluster info",
    "Sync all tenant information",
    "Update OB cluster status",
]
SEED_DATA_KEYS = {"cluster", "context", "creator", "id", "name", "startTime", "status", "tasks"}
SEED_SUBTASK_KEYS = {"description", "downstreams", "id", "name", "operation", "status", "upstreams"}


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Api, Sandbox]]:
    home = tmp_path_factory.mktemp("seed")
    with running_stack(home, zones=1) as (_, api, sb):
        yield api, sb


def service_time(sb: Sandbox) -> int:
    s = sb.servers()[0]
    conn = pymysql.connect(host=s["address"], port=s["sql_port"], user="root", password=sb.root_password,
                           connect_timeout=5, read_timeout=10)  # fmt: skip
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT START_SERVICE_TIME FROM oceanbase.V$OB_SERVER_STAT")
            row = cur.fetchone()
            assert row is not None
            return int(row[0])
    finally:
        conn.close()


def topological(tasks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    by_id = {t["id"]: t for t in tasks}
    [root] = [t for t in tasks if not t["upstreams"]]
    order = [root]
    while order[-1]["downstreams"]:
        [nxt] = order[-1]["downstreams"]
        order.append(by_id[nxt])
    return order


def test_restart_answers_the_seed_shape_and_restarts_the_observer(stack: tuple[Api, Sandbox]) -> None:
    api, sb = stack
    before = service_time(sb)
    # Exactly what an OCP client sends: no body.
    response = api.call("POST", f"/api/v2/ob/clusters/{sb.cluster_id}/restart")
    assert response.status_code == 200, response.text
    envelope = response.json()
    assert set(envelope) == {"data", "duration", "server", "status", "successful", "timestamp", "traceId"}
    assert envelope["successful"] is True and envelope["status"] == 200
    data = envelope["data"]
    assert set(data) == SEED_DATA_KEYS
    assert data["name"] == "Restart OB cluster"
    assert data["status"] == "RUNNING"
    assert set(data["cluster"]) == {"id", "name", "obClusterId"}
    assert data["cluster"]["id"] == sb.cluster_id and data["cluster"]["name"] == "sandbox"
    assert data["creator"] == {"id": 1, "name": "admin"}
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,3})?(Z|[+-]\d\d:\d\d)", data["startTime"])

    server_id = api.data("GET", f"/api/v2/ob/clusters/{sb.cluster_id}/servers")["contents"][0]["id"]
    host_id = api.data("GET", f"/api/v2/ob/clusters/{sb.cluster_id}/servers")["contents"][0]["hostId"]
    context = data["context"]
    # Java's toString of OCP's Context; the order of map entries is the map's own (OCP's is a HashMap).
    match = re.fullmatch(r"Context\(parallelIdx=-1, stringMap=\{(.*)\}, listMap=\{(.*)\}\)", context)
    assert match, context
    strings = dict(item.split("=", 1) for item in match.group(1).split(", "))
    seed_strings = {
        "cluster_name": "sandbox",
        "cluster_id": str(sb.cluster_id),
        "ocpagent_service_name": "agent",
        "former_cluster_status": "RUNNING",
    }
    assert seed_strings.items() <= strings.items(), strings
    lists = dict(re.findall(r"([^,= ]+)=\[([^\]]*)\]", match.group(2)))
    assert lists[f"{sb.cluster_id}.zone1.server_ids"] == str(server_id)
    assert lists[f"{sb.cluster_id}.zone1.host_ids"] == str(host_id)
    assert lists["zone_names"] == "zone1"

    tasks = data["tasks"]
    assert len(tasks) == 19
    for t in tasks:
        assert set(t) == SEED_SUBTASK_KEYS
        assert t["description"] == t["name"] and t["operation"] == "EXECUTE"
        assert t["status"] in ("PENDING", "READY", "RUNNING", "SUCCESSFUL")
    # The seed's chain: one root, each node with one upstream and one downstream, in the seed's order.
    chain = topological(tasks)
    assert [t["name"] for t in chain] == SEED_ORDER
    assert len(chain) == 19
    assert [t["id"] for t in tasks] == sorted(t["id"] for t in tasks)
    assert [t["id"] for t in tasks] == [t["id"] for t in chain], "tasks[] is listed in the seed's order"

    final = api.wait_task(data["id"])
    assert final["status"] == "SUCCESSFUL", final
    assert all(s["status"] == "SUCCESSFUL" for s in final["subtasks"])
    after = service_time(sb)
    assert after != before, "the observer was not restarted: START_SERVICE_TIME is unchanged"

    cluster = api.data("GET", f"/api/v2/ob/clusters/{sb.cluster_id}")
    assert cluster["status"] == "RUNNING"
    assert all(z["status"] == "RUNNING" for z in cluster["zones"])
    assert all(s["status"] == "RUNNING" for z in cluster["zones"] for s in z["servers"])
    last = cluster["lastOperation"]
    assert last["taskId"] == data["id"] and last["status"] == "SUCCESSFUL"
    # A single observer restarted: clients saw an outage, and obcp measured it.
    assert last["availability"]["longestOutageSeconds"] > 0

    accessible = next(s for s in final["subtasks"] if s["name"] == "Wait observer accessible")
    log = api.data("GET", f"/api/v2/tasks/instances/{data['id']}/subtasks/{accessible['id']}/log")["log"]
    assert "START_SERVICE_TIME" in log and "accepts SQL" in log
    last_step = next(s for s in final["subtasks"] if s["name"] == "Update OB cluster status")
    log = api.data("GET", f"/api/v2/tasks/instances/{data['id']}/subtasks/{last_step['id']}/log")["log"]
    assert "longest interval with no observer answering SQL" in log
    assert sb.root_password not in log
