"""What the audit trail costs a call that changes something, measured in one run against a baseline.

Two in-process apps on SQLite files of their own: obcp as it is, and the same app without its audit
middleware (so no call opens an audit entry and no event is written: the baseline). Rounds alternate which
app goes first; each round times N changes (a role created, then deleted: two audited transactions) and N
refused changes (a user without the permission deleting a host: one event in a transaction of its own) on
each app, wall and CPU time. It prints medians per call and the ratios, and what one audited call adds to a
restart (a restart is one audited call, its submission; nothing is audited while its steps run).

    .venv/bin/python bench/audit_overhead.py [--rounds 5] [--calls 100]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from fastapi import FastAPI
from fastapi.testclient import TestClient

from obcp.api.app import create_app
from obcp.api.audit import AuditMiddleware
from obcp.config import Settings
from obcp.meta.migrate import upgrade

ADMIN = ("admin", "bench-admin-password")
VIEWER = ("viewer", "bench-viewer-password")
# A 1 x 1 restart through obcp takes about 2.7 s (docs/benchmarks.md, "Restart overhead").
RESTART_SECONDS = 2.7


def app_in(home: Path, audited: bool) -> FastAPI:
    home.mkdir(parents=True)
    url = f"sqlite:///{home / 'metadb.sqlite'}"
    upgrade(url)
    app = create_app(Settings(home=home, db_url=url, admin_password=ADMIN[1]))
    if not audited:
        app.user_middleware = [
            m for m in app.user_middleware if getattr(m, "cls", None) is not AuditMiddleware
        ]
    return app


def prepare(c: TestClient) -> None:
    body = {"username": VIEWER[0], "password": VIEWER[1], "roles": ["CLUSTER_VIEWER"]}
    assert c.post("/api/v2/iam/users", json=body, auth=ADMIN).status_code == 200
    host = {"address": "10.0.0.1", "agentPort": 2886, "agentKey": "bench-agent-key-0123"}
    assert c.post("/api/v2/compute/hosts", json=host, auth=ADMIN).status_code == 200


def changes(c: TestClient, calls: int) -> None:
    for i in range(calls // 2):
        role = c.post("/api/v2/iam/roles", json={"name": f"B{i}", "permissions": ["TASK:*:READ"]}, auth=ADMIN)
        assert role.status_code == 200, role.text
        assert c.delete(f"/api/v2/iam/roles/{role.json()['data']['id']}", auth=ADMIN).status_code == 200


def refusals(c: TestClient, calls: int) -> None:
    for _ in range(calls):
        assert c.delete("/api/v2/compute/hosts/1", auth=VIEWER).status_code == 403


def timed(fn: Callable[[TestClient, int], None], c: TestClient, calls: int) -> tuple[float, float]:
    wall, cpu = time.perf_counter(), time.process_time()
    fn(c, calls)
    return (time.perf_counter() - wall) / calls, (time.process_time() - cpu) / calls


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--calls", type=int, default=100)
    args = parser.parse_args()
    results: dict[tuple[str, str], list[tuple[float, float]]] = {}
    with tempfile.TemporaryDirectory(prefix="obcp-audit-bench-") as tmp:
        apps = {side: app_in(Path(tmp) / side, side == "audited") for side in ("audited", "baseline")}
        clients = {side: TestClient(app) for side, app in apps.items()}
        for c in clients.values():
            c.__enter__()
            prepare(c)
            changes(c, 20)  # warm-up: argon2 caches, first statements
        try:
            for r in range(args.rounds):
                order = ("audited", "baseline") if r % 2 == 0 else ("baseline", "audited")
                for side in order:
                    for name, fn in (("change", changes), ("refusal", refusals)):
                        results.setdefault((name, side), []).append(timed(fn, clients[side], args.calls))
        finally:
            for c in clients.values():
                c.__exit__(None, None, None)
    report(results)


def report(results: dict[tuple[str, str], list[tuple[float, float]]]) -> None:
    print(f"{'call':<9} {'side':<9} {'wall ms/call':>13} {'cpu ms/call':>12}")
    medians: dict[tuple[str, str], tuple[float, float]] = {}
    for (name, side), runs in sorted(results.items()):
        wall = statistics.median(w for w, _ in runs) * 1000
        cpu = statistics.median(c for _, c in runs) * 1000
        medians[(name, side)] = (wall, cpu)
        print(f"{name:<9} {side:<9} {wall:>13.2f} {cpu:>12.2f}")
    for name in ("change", "refusal"):
        (wa, ca), (wb, cb) = medians[(name, "audited")], medians[(name, "baseline")]
        ratios = f"{wa / wb:.3f} wall, {ca / cb:.3f} cpu"
        print(f"{name}: audited / baseline = {ratios}; {wa - wb:+.2f} ms wall, {ca - cb:+.2f} ms cpu a call")
    added = medians[("change", "audited")][0] - medians[("change", "baseline")][0]
    share = added / 1000 / RESTART_SECONDS * 100
    print(
        f"one audited call in a {RESTART_SECONDS} s restart: {added:+.2f} ms, {share:+.3f} % of the restart"
    )


if __name__ == "__main__":
    main()
