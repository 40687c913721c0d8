"""The fleet benchmark's SIMULATION agrees with the real server, at a small size (5 clusters x 3 zones x
2 servers): bench/fleet/run.py runs as it does for the figures — simulated agents (signed HTTP, one loopback
address per host) and simulated observers' SQL through the `Connector` seam; the obcp server, its engine,
the metadb and the HTTP paths real — and its result is checked, not its timings."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from obcp.agent.ports import free_port

REPO = Path(__file__).resolve().parents[2]
pytestmark = [pytest.mark.timeout(240), pytest.mark.slow]


def test_five_clusters_restarted_at_once_every_simulated_observer_once(tmp_path: Path) -> None:
    out = tmp_path / "fleet.json"
    argv = [
        sys.executable, str(REPO / "bench" / "fleet" / "run.py"), "--clusters", "5", "--zones", "3",
        "--servers", "2", "--pollers", "4", "--watchers", "2", "--metadb", "sqlite", "--start", "0.4", "0.6",
        "--agent-port", str(free_port("127.0.1.1")), "--json", str(out),
    ]  # fmt: skip
    run = subprocess.run(argv, capture_output=True, text=True, timeout=220, env=os.environ.copy())
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    assert "SIMULATION" in run.stdout
    (result,) = json.loads(out.read_text())
    assert result["problems"] == [] and result["load_errors"] == []
    assert result["statuses"] == {"SUCCESSFUL": 5}
    # Every simulated observer restarted exactly once, through the agent's stop and start.
    assert result["observers_restarted"] == 30
    # Rolling: each zone stopped and started once by ALTER SYSTEM, one zone at a time per cluster.
    journal = result["alter_statements"]
    assert sum("STOP ZONE" in s for s in journal) == 15 and sum("START ZONE" in s for s in journal) == 15
    # The server waited for what the simulation lived: no restart shorter than its simulated critical path.
    assert len(result["ratio"]) == 5 and min(result["ratio"]) >= 1.0
    # Every follower got answers: task GETs, pages, and each event-stream watcher the task's final state.
    assert result["task_get_s"] and result["page_get_s"] and len(result["sse_lag_s"]) == 2
