"""The server SIGKILLed anywhere in a rolling restart: N rolling restarts of a 3 x 1 sandbox (real seekdb
observers, real agents), the `obcp server` SIGKILLed at a random moment of each (seeded) and started again
on the same home and port (so with the same server id: it takes its own runs back at once).

Each round: `POST /api/v2/ob/clusters/{id}/restart` (rolling, the defaults a user gets), a SIGKILL after a
random delay drawn from [0, 0.9 x the duration of a first, unkilled restart], the server started again,
the task waited for. A task that ends FAILED gets one `POST /api/v2/tasks/instances/{id}/retry`. A draw
that falls after the task has ended kills nothing: it is reported, not counted, and the window narrows to
0.9 x that task's duration, so that N kills land while a task runs. Meanwhile a /proc watcher
(`obcp.sandbox.observer_watch`) records every observer process: each round must show exactly two pids per
observer (the old one, gone; the new one, running) — no observer stopped or started twice. Prints how many
rounds finished on their own, after one retry, or never, and which steps the kill interrupted (the
subtasks run more than once). Target: every round on its own. The exit code is 0 only when every round
finished on its own with each observer replaced exactly once.

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


def report(done: list[Round], warmup: float, window: float) -> dict[str, Any]:
    killed = [r for r in done if not r.killed_after_end]
    outcomes = Counter(r.outcome for r in killed)
    victims = Counter(name for r in killed for name in r.rerun)
    summary = {
        "rounds": len(killed),
        "own": outcomes["own"],
        "after_one_retry": outcomes["retry"],
        "never": outcomes["never"],
        "observers_replaced_exactly_once": sum(1 for r in killed if not r.pid_problems),
        "draws_after_the_task_ended": len(done) - len(killed),
        "all_rounds_observers_replaced_exactly_once": sum(1 for r in done if not r.pid_problems),
        "unkilled_restart_seconds": round(warmup, 2),
        "final_window_seconds": round(window, 2),
        "round_seconds_median": sorted(r.seconds for r in killed)[len(killed) // 2] if killed else 0,
        "steps_run_again": dict(victims.most_common()),
        "detail": [asdict(r) for r in done],
    }
    n = len(killed)
    once = sum(1 for r in killed if not r.pid_problems)
    missed = [r for r in done if r.killed_after_end]
    missed_once = sum(1 for r in missed if not r.pid_problems)
    print(f"\nkill campaign: {n} rolling restarts of a 3 x 1 sandbox, the server SIGKILLed while each ran")
    print(f"  finished on their own:    {summary['own']}/{n}")
    print(f"  finished after one retry: {summary['after_one_retry']}/{n}")
    print(f"  never finished:           {summary['never']}/{n}")
    print(f"  observers replaced exactly once (2 pids each): {once}/{n}")
    print(
        f"  draws that fell after the task's end (not killed, not counted, drawn again): {len(missed)}, "
        f"observers replaced exactly once in those too: {missed_once}/{len(missed)}"
    )
    print(
        f"  unkilled restart: {warmup:.2f} s; kill window {0.9 * warmup:.2f} s at first, "
        f"{window:.2f} s at the end; killed round (kill, restart of the server, task): median "
        f"{summary['round_seconds_median']} s"
    )
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
                    done, window = rounds(server, sb.cluster_id, watch, o, rng, 0.9 * warmup)
        finally:
            server.stop()
    summary = report(done, warmup, window)
    if o.json_out is not None:
        o.json_out.write_text(json.dumps(summary, indent=2))
    every_round_once = summary["all_rounds_observers_replaced_exactly_once"] == len(done)
    return bool(summary["own"] == o.rounds and every_round_once)


def rounds(
    server: RestartableServer,
    cluster_id: int,
    watch: ObserverWatch,
    o: Options,
    rng: random.Random,
    window: float,
) -> tuple[list[Round], float]:
    """Rounds until `o.rounds` kills landed while their task ran. A draw that falls after the task's end
    is reported, not counted, and narrows the window to 0.9 x that task's duration (restarts get quicker
    as the machine's load falls)."""
    done: list[Round] = []
    n = 0
    while sum(1 for r in done if not r.killed_after_end) < o.rounds:
        n += 1
        r = one_round(server, cluster_id, watch, n, rng.uniform(0, window), o.freeze)
        done.append(r)
        if r.killed_after_end:
            window = min(window, 0.9 * r.seconds)
        print(
            f"round {n}: kill at {r.kill_after:.2f} s, {r.outcome} in {r.seconds} s; "
            f"run again: {r.rerun or '-'}"
            + (f"; the task had ended: not killed, window now {window:.2f} s" if r.killed_after_end else "")
            + (f"; pids: {r.pid_problems}" if r.pid_problems else "")
            + (f"; {r.error}" if r.error else ""),
            flush=True,
        )
    return done, window


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
