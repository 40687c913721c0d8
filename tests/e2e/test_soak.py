"""The soak of bench/soak.py, short: two `obcp server` replicas, two rolling restarts of a 3 x 1 sandbox (real
seekdb observers, real agents) back to back while the replicas are SIGKILLed in turn and started again.

Its metadb is a database on the session's seekdb (tests/support/seekdb_metadb.py): a real OceanBase-kernel
server that is not one of the observers the restarts stop and start, so this is also the restart end to end
with OceanBase as the metadb. The full soak (a dozen restarts, on PostgreSQL) is in docs/benchmarks.md.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pymysql
import pytest
from sqlalchemy.engine import make_url

from tests.dbs import temporary_database

pytestmark = [pytest.mark.seekdb, pytest.mark.slow, pytest.mark.timeout(600)]

ROOT = Path(__file__).resolve().parents[2]
SOAK = ROOT / "bench" / "soak.py"


def metadb_service_time(url: str) -> int:
    """When the metadb's seekdb started serving (epoch us): it changes on every start of that server."""
    u = make_url(url)
    conn = pymysql.connect(
        host=u.host, port=u.port or 3306, user=u.username or "root", password=u.password or ""
    )
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT @@version_comment")
            comment = cur.fetchone()
            assert comment is not None and "OceanBase" in str(comment[0]), comment
            cur.execute("SELECT START_SERVICE_TIME FROM oceanbase.V$OB_SERVER_STAT")
            row = cur.fetchone()
            assert row is not None
            return int(row[0])
    finally:
        conn.close()


def test_two_replicas_two_restarts_with_replicas_killed_on_a_seekdb_metadb(tmp_path: Path) -> None:
    with temporary_database("seekdb", tmp_path) as url:
        metadb_started = metadb_service_time(url)
        run = subprocess.run(
            [sys.executable, str(SOAK), "--restarts", "2", "--kill-every", "2", "4", "--db-url", url],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=540,
        )
        assert metadb_service_time(url) == metadb_started, "the metadb's seekdb was restarted"
    lines = [line for line in run.stdout.splitlines() if line.startswith("SOAK-RESULT ")]
    assert lines, run.stdout[-3000:] + run.stderr[-3000:]
    result = json.loads(lines[-1].removeprefix("SOAK-RESULT "))
    assert result["wrong"] == [] and run.returncode == 0, run.stdout[-3000:]
    assert [t["status"] for t in result["tasks"]] == ["SUCCESSFUL", "SUCCESSFUL"], result["tasks"]
    # Three observers, each replaced exactly once during each restart (the metadb's seekdb, above, never):
    # one process from before the restarts, one new one in the first, one in the second.
    starts = result["observer_starts"]
    assert len(starts) == 3 and all(s == [0, 1, 2] for s in starts.values()), result["observer_processes"]
    # The replicas were killed under the restarts, and the live one answered every call.
    assert sum(result["replica_kills"].values()) >= 2, result["replica_kills"]
    assert result["api_failures"] == [] and all(n > 0 for n in result["api_answers"].values()), result
