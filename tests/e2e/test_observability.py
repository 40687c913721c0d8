"""Metrics and joined-up logs on a real stack: an `obcp server` process with JSON logs and a metrics token,
a sandbox of one real seekdb observer behind a real agent. One restart, scraped live while it runs (parsed
with prometheus_client's own parser), and followed from the POST's traceId through the server's log lines
(the API call, each subtask run of its task) and the agent's (the stop and the start it was asked for)."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from obcp.agent.client import AgentSignatureAuth
from obcp.sandbox.server_process import ServerProcess
from obcp.tracing import TRACE_HEADER
from tests.stack import Api, Sandbox, running_stack

pytestmark = [pytest.mark.seekdb, pytest.mark.slow, pytest.mark.timeout(600)]

TOKEN = "prometheus-test-token-0123456789"
Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def parse(text: str) -> Samples:
    samples: Samples = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            samples[(s.name, frozenset(s.labels.items()))] = s.value
    return samples


def value(samples: Samples, metric: str, **labels: str) -> float:
    """The sum of the samples of `metric` whose labels include `labels`."""
    want = set(labels.items())
    return sum(v for (n, ls), v in samples.items() if n == metric and want <= ls)


@dataclass
class Observed:
    server: ServerProcess
    api: Api
    sb: Sandbox
    trace_id: str
    task: dict[str, Any]
    during: list[Samples]
    after: Samples


def scrape(url: str) -> Samples:
    r = httpx.get(f"{url}/metrics", headers={"Authorization": f"Bearer {TOKEN}"}, timeout=10)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/plain")
    return parse(r.text)


@pytest.fixture(scope="module")
def observed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Observed]:
    home = tmp_path_factory.mktemp("observability")
    token_file = home / "metrics.token"
    token_file.write_text(TOKEN + "\n")
    with pytest.MonkeyPatch.context() as mp:
        # Inherited by the server process and, through `obcp sandbox up`, by the agent.
        mp.setenv("OBCP_LOG_FORMAT", "json")
        mp.setenv("OBCP_METRICS_TOKEN_FILE", str(token_file))
        with running_stack(home, zones=1) as (server, api, sb):
            during: list[Samples] = []
            stop = threading.Event()

            def scraper() -> None:
                while not stop.is_set():
                    during.append(scrape(server.url))
                    stop.wait(0.3)

            thread = threading.Thread(target=scraper)
            thread.start()
            try:
                r = api.call("POST", f"/api/v2/ob/clusters/{sb.cluster_id}/restart")
                assert r.status_code == 200, r.text
                trace_id = r.json()["traceId"]
                task = api.wait_task(r.json()["data"]["id"])
            finally:
                stop.set()
                thread.join()
            yield Observed(server, api, sb, trace_id, task, during, scrape(server.url))


def test_a_live_scrape_during_a_restart(observed: Observed) -> None:
    o = observed
    assert o.task["status"] == "SUCCESSFUL", o.task
    assert len(o.during) >= 3
    # While it ran, a scrape saw the task running and a subtask run in progress.
    assert any(value(s, "obcp_tasks_running", name="Restart OB cluster") == 1 for s in o.during)
    assert any(value(s, "obcp_engine_runs_active") >= 1 for s in o.during)
    after = o.after
    assert value(after, "obcp_tasks_running", name="Restart OB cluster") == 0
    assert value(after, "obcp_tasks_finished_total", name="Restart OB cluster", state="SUCCESSFUL") == 1
    runs = value(after, "obcp_subtask_run_duration_seconds_count", result="successful")
    assert runs == len(o.task["subtasks"]), (runs, len(o.task["subtasks"]))
    stop_runs = value(after, "obcp_subtask_run_duration_seconds_count", name="Stop observer process")
    assert stop_runs == 1
    assert value(after, "obcp_subtask_ready_wait_seconds_count") >= 1
    host = f"{o.sb.servers()[0]['address']}:{o.sb.servers()[0]['agent_port']}"
    for action in ("stop", "start"):
        assert value(after, "obcp_agent_calls_total", host=host, action=action, outcome="ok") >= 1, action
        assert value(after, "obcp_agent_call_duration_seconds_count", host=host, action=action) >= 1
    outage = value(after, "obcp_restart_outage_seconds", cluster_id=str(o.sb.cluster_id))
    assert 0 < outage < 300
    route = "/api/v2/ob/clusters/{id}/restart"
    assert value(after, "obcp_http_requests_total", route=route, method="POST", status="200") == 1
    assert value(after, "obcp_http_request_duration_seconds_count", route=route, method="POST") == 1
    assert value(after, "obcp_engine_lease_takeovers_total") == 0


def test_labels_are_templates_and_refusals_have_reasons(observed: Observed) -> None:
    url = observed.server.url
    httpx.get(f"{url}/api/v2/ob/clusters/123456789", auth=("admin", "wrong-password"), timeout=10)
    httpx.get(f"{url}/api/v2/no/such/path/secret-looking-value", timeout=10)
    httpx.get(f"{url}/metrics", headers={"Authorization": "Bearer not-the-token-at-all"}, timeout=10)
    r = httpx.get(f"{url}/metrics", timeout=10)
    assert r.status_code == 401
    text = httpx.get(f"{url}/metrics", headers={"Authorization": f"Bearer {TOKEN}"}, timeout=10).text
    samples = parse(text)
    assert value(samples, "obcp_auth_refusals_total", reason="bad_password") >= 1
    assert value(samples, "obcp_auth_refusals_total", reason="bad_token") >= 1
    assert value(samples, "obcp_auth_refusals_total", reason="no_credentials") >= 2
    assert value(samples, "obcp_http_requests_total", route="/api/v2/ob/clusters/{id}", status="401") >= 1
    assert value(samples, "obcp_http_requests_total", route="unmatched") >= 1
    # No raw path, id, password or token in any label.
    for secret in ("123456789", "secret-looking-value", "wrong-password", TOKEN, "not-the-token"):
        assert secret not in text


def json_lines(path: Path) -> list[dict[str, Any]]:
    lines = []
    for raw in path.read_text(errors="replace").splitlines():
        if raw.startswith("{"):
            lines.append(json.loads(raw))
    return lines


def test_one_restart_followed_by_its_trace_id_through_server_and_agent_logs(observed: Observed) -> None:
    o = observed
    server_lines = [line for line in json_lines(o.server.log_path) if line.get("traceId") == o.trace_id]
    # The API call itself (uvicorn's access line) ...
    assert any("POST /api/v2/ob/clusters/" in line["message"] for line in server_lines), server_lines[:5]
    # ... and every subtask run of the task it made, with the task, subtask and run.
    runs = [line for line in server_lines if line["message"].startswith("subtask ")]
    assert {line["subtaskId"] for line in runs} == {s["id"] for s in o.task["subtasks"]}
    assert {line["taskId"] for line in runs} == {o.task["id"]}
    assert all(line["run"] == 1 for line in runs)
    # The agent's lines for the stop and the start it was asked for carry the same traceId.
    agent_logs = sorted(o.sb.root.rglob("agent.log"))
    assert agent_logs, list(o.sb.root.rglob("*"))
    agent_lines = [line for p in agent_logs for line in json_lines(p) if line.get("traceId") == o.trace_id]
    messages = " | ".join(line["message"] for line in agent_lines)
    assert "stop observer" in messages and "start observer" in messages, messages


def test_the_agent_serves_its_metrics_to_a_signed_caller(observed: Observed) -> None:
    server = observed.sb.servers()[0]
    keys = sorted(observed.sb.root.rglob("agent.key"))
    assert keys
    key = keys[0].read_text().strip().encode()
    url = f"http://{server['address']}:{server['agent_port']}/metrics"
    assert httpx.get(url, timeout=10).status_code == 401
    # The traceId is part of what is signed: one attached to a request signed without it is refused.
    forged = httpx.get(url, auth=AgentSignatureAuth(key), headers={TRACE_HEADER: "forged-1"}, timeout=10)
    assert forged.status_code == 401 and forged.json()["error"]["code"] == "bad_signature"
    r = httpx.get(url, auth=AgentSignatureAuth(key), timeout=10)
    assert r.status_code == 200, r.text
    samples = parse(r.text)
    assert value(samples, "obcp_agent_observer_up") == 1
    for op in ("stop", "start"):
        assert value(samples, "obcp_agent_observer_operations_total", operation=op, outcome="ok") >= 1
        assert value(samples, "obcp_agent_observer_operation_duration_seconds_count", operation=op) >= 1
    assert value(samples, "obcp_agent_signature_refusals_total", reason="missing_signature") >= 1
    assert value(samples, "obcp_agent_signature_refusals_total", reason="bad_signature") >= 1
