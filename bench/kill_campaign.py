"""The server SIGKILLed anywhere in a rolling restart: N rolling restarts of a 3 x 1 sandbox (real seekdb
observers, real agents), the `obcp server` SIGKILLed at a random moment of each (seeded) and started again
on the same home and port (so with the same server id: it takes its own runs back at once).

Each round: `POST /api/v2/ob/clusters/{id}/restart` (rolling, the defaults a user gets), a SIGKILL after a
random delay drawn from [0, 0.9 x the duration of a first, unkilled restart], the server started again,
the task waited for. A task that ends FAILED gets one `POST /api/v2/tasks/instances/{id}/retry`. Meanwhile
a /proc watcher (`obcp.sandbox.observer_watch`) records every observer process: each round must show
exactly two pids per observer (the old one, gone; the new one, running) — no observer stopped or started
twice. Prints how many rounds finished on their own, after one retry, or never, and which steps the kill
interrupted (the subtasks run more than once). Target: every round on its own. The exit code is 0 only
when every round finished on its own with each observer replaced exactly once.

    OBCP_SANDBOX_FIRST_SQL_PORT=... .venv/bin/python bench/kill_campaign.py [--rounds 50] [--seed 12]
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
import time
from collections import Counter
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from _stack import ADMIN_PASSWORD, sandbox
from obcp.sandbox.kill_rounds import (
    RestartableServer,
    Round,
    failed_steps,
    one_round,
    submit_restart,
    wait_task,
)
from obcp.sandbox.observer_watch import ObserverWatch, replaced_once


def report(rounds: list[Round], warmup: float) -> dict[str, Any]:
    outcomes = Counter(r.outcome for r in rounds)
    victims = Counter(name for r in rounds for name in r.rerun)
    summary = {
        "rounds": len(rounds),
        "own": outcomes["own"],
        "after_one_retry": outcomes["retry"],
        "never": outcomes["never"],
        "observers_replaced_exactly_once": sum(1 for r in rounds if not r.pid_problems),
        "killed_after_the_task_ended": sum(1 for r in rounds if r.killed_after_end),
        "unkilled_restart_seconds": round(warmup, 2),
        "round_seconds_median": sorted(r.seconds for r in rounds)[len(rounds) // 2] if rounds else 0,
        "steps_run_again": dict(victims.most_common()),
        "detail": [asdict(r) for r in rounds],
    }
    n = len(rounds)
    print(f"\nkill campaign: {n} rolling restarts of a 3 x 1 sandbox, the server SIGKILLed in each")
    print(f"  finished on their own:    {summary['own']}/{n}")
    print(f"  finished after one retry: {summary['after_one_retry']}/{n}")
    print(f"  never finished:           {summary['never']}/{n}")
    print(
        f"  observers replaced exactly once (2 pids each): {summary['observers_replaced_exactly_once']}/{n}"
    )
    print(f"  kills that landed after the task had ended: {summary['killed_after_the_task_ended']}")
    print(f"  unkilled restart: {warmup:.2f} s; killed round (kill, restart of the server, task): median "
          f"{summary['round_seconds_median']} s")  # fmt: skip
    print(f"  steps run again after the kill: {summary['steps_run_again']}")
    return summary


@dataclass
class Options:
    rounds: int
    seed: int
    window: float | None  # kill within [0, window] s; None: 0.9 x an unkilled restart's duration
    freeze: bool
    json_out: Path | None


def campaign(o: Options) -> bool:
    rng = random.Random(o.seed)
    with tempfile.TemporaryDirectory(prefix="obcp-kill-campaign-") as tmp:
        server = RestartableServer(Path(tmp) / "server", ADMIN_PASSWORD)
        server.start()
        try:
            with sandbox(server.url, Path(tmp) / "sandbox", 3, "killcampaign") as sb:
                state = json.loads((Path(tmp) / "sandbox" / "sandbox.json").read_text())
                bases = [Path(s["base_dir"]) for s in state["servers"]]
                with ObserverWatch(bases) as watch:
                    warmup = o.window / 0.9 if o.window else unkilled(server, sb.cluster_id, watch, o.freeze)
                    print(
                        f"kills within [0, {0.9 * warmup:.2f}] s of each restart; seed {o.seed}", flush=True
                    )
                    done: list[Round] = []
                    for n in range(1, o.rounds + 1):
                        delay = rng.uniform(0, 0.9 * warmup)
                        r = one_round(server, sb.cluster_id, watch, n, delay, o.freeze)
                        done.append(r)
                        print(
                            f"round {n}: kill at {r.kill_after:.2f} s, {r.outcome} in {r.seconds} s; "
                            f"run again: {r.rerun or '-'}"
                            + (f"; pids: {r.pid_problems}" if r.pid_problems else "")
                            + (f"; {r.error}" if r.error else ""),
                            flush=True,
                        )
        finally:
            server.stop()
    summary = report(done, warmup)
    if o.json_out is not None:
        o.json_out.write_text(json.dumps(summary, indent=2))
    return bool(summary["own"] == o.rounds and summary["observers_replaced_exactly_once"] == o.rounds)


def unkilled(server: RestartableServer, cluster_id: int, watch: ObserverWatch, freeze: bool) -> float:
    """One restart left alone: how long one takes (the kill window), and a check of the watcher."""
    since = watch.mark()
    t0 = time.monotonic()
    task = wait_task(server, submit_restart(server, cluster_id, freeze))
    seconds = time.monotonic() - t0
    assert task["status"] == "SUCCESSFUL", failed_steps(server, task)
    assert not replaced_once(watch, since), replaced_once(watch, since)
    print(f"unkilled rolling restart: {seconds:.2f} s", flush=True)
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=50)
    parser.add_argument("--seed", type=int, default=12)
    parser.add_argument(
        "--window",
        type=float,
        default=None,
        help="kill within [0, WINDOW] s (default: from an unkilled restart)",
    )
    parser.add_argument(
        "--no-minor-freeze",
        action="store_true",
        help='restart with {"minorFreeze": false} (a shorter restart)',
    )
    parser.add_argument("--json", type=Path, default=None, help="also write the figures to this file")
    a = parser.parse_args()
    ok = campaign(Options(a.rounds, a.seed, a.window, not a.no_minor_freeze, a.json))
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
