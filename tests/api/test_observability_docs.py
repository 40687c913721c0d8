"""docs/observability.md and the Grafana dashboard name only series that exist: every metric name in them
is in a scrape of the server (through its API) or of an agent's registry; the dashboard is valid JSON that
Grafana can import (a data source input, panels with Prometheus queries)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from obcp.agent.metrics import AgentMetrics

DOCS = Path(__file__).resolve().parents[2] / "docs"
NAME = re.compile(r"\b((?:obcp|process)_[a-z_]+)\b")
SUFFIXES = {"counter": ("_total",), "histogram": ("_bucket", "_count", "_sum"), "gauge": ("",)}


def exposed(text: str) -> set[str]:
    """Every series name a query can use: the families' names with their type's suffixes."""
    names: set[str] = set()
    for family in text_string_to_metric_families(text):
        names.add(family.name)
        names.update(family.name + s for s in SUFFIXES.get(family.type, ("",)))
        names.update(s.name for s in family.samples)
    return names


def dashboard() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((DOCS / "grafana" / "obcp.json").read_text())
    return loaded


def queries() -> list[str]:
    exprs = [t["expr"] for p in dashboard()["panels"] for t in p["targets"]]
    exprs += [v["query"] for v in dashboard()["templating"]["list"]]
    return exprs


def test_every_series_in_the_doc_and_the_dashboard_exists(client: TestClient, admin: tuple[str, str]) -> None:
    scrape = client.get("/metrics", auth=admin)
    assert scrape.status_code == 200
    known = exposed(scrape.text) | exposed(AgentMetrics(lambda: {"ob1": True}).render().decode())
    doc = (DOCS / "observability.md").read_text()
    in_doc = set(NAME.findall(doc)) - {"process_"}
    in_dashboard = {n for q in queries() for n in NAME.findall(q)}
    assert len(in_doc) >= 15 and len(in_dashboard) >= 15
    assert in_doc - known == set(), "the doc names series no scrape has"
    assert in_dashboard - known == set(), "the dashboard queries series no scrape has"
    # Each series the code exposes is described in the doc's tables.
    ours = {n for n in known if n.startswith("obcp_")}
    families = {
        n.removesuffix("_total") for n in ours if not n.endswith(("_bucket", "_count", "_sum", "_created"))
    }
    undocumented = {f for f in families if f not in doc}
    assert undocumented == set()


def test_the_dashboard_is_importable() -> None:
    d = dashboard()
    assert d["__inputs"][0]["pluginId"] == "prometheus"
    assert d["uid"] and d["title"] == "obcp"
    ids = [p["id"] for p in d["panels"]]
    assert len(ids) == len(set(ids))
    for panel in d["panels"]:
        assert panel["datasource"]["uid"] == "${DS_PROMETHEUS}"
        assert panel["targets"], panel["title"]
        assert all(t["expr"].count("(") == t["expr"].count(")") for t in panel["targets"])
    needed = (
        "obcp_tasks_finished_total",
        "obcp_subtask_run_duration_seconds_bucket",
        "obcp_agent_calls_total",
    )
    assert all(any(n in q for q in queries()) for n in needed)
