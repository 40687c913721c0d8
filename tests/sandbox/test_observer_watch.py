"""The /proc watcher against real processes: a process running in a base dir counts, its children (as
seekdb's shell helpers) do not, a replacement is two pids, a second replacement three."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

from obcp.sandbox.observer_watch import ObserverWatch, replaced_once


def start(base: Path) -> subprocess.Popen[bytes]:
    # A parent that runs a child in the same directory, as seekdb runs `sh -c grep … /proc/cpuinfo`.
    # The parent names the base dir on its command line (as seekdb's --base-dir); the child does not.
    return subprocess.Popen(["sh", "-c", "sleep 30 & wait", str(base)], cwd=base, start_new_session=True)


def stop(proc: subprocess.Popen[bytes]) -> None:
    os.killpg(proc.pid, signal.SIGKILL)  # its own process group: the parent and its child
    proc.wait(timeout=10)


def settle(watch: ObserverWatch) -> None:
    time.sleep(0.3)
    watch.poll()


def test_a_replacement_is_two_pids_and_children_do_not_count(tmp_path: Path) -> None:
    base, other = tmp_path / "obs1", tmp_path / "obs2"
    base.mkdir()
    other.mkdir()
    first = start(base)
    try:
        with ObserverWatch([base, other], interval=0.02) as watch:
            settle(watch)
            since = watch.mark()
            assert watch.live()[str(base)] == [first.pid]  # the child `sleep` is a helper
            stop(first)
            second = start(base)
            try:
                settle(watch)
                assert watch.pids_since(since)[str(base)] == [first.pid, second.pid]
                problems = replaced_once(watch, since)
                assert str(base) not in problems
                assert str(other) in problems  # nothing ran there: not replaced
                stop(second)
                third = start(base)
                try:
                    settle(watch)
                    assert str(base) in replaced_once(watch, since)  # replaced twice: three pids
                finally:
                    stop(third)
            finally:
                if second.poll() is None:
                    stop(second)
    finally:
        if first.poll() is None:
            stop(first)


def test_an_exited_observer_not_yet_reaped_is_gone(tmp_path: Path) -> None:
    """An observer orphaned by its agent's death belongs to PID 1, which may reap it late: a zombie in /proc
    is no longer running (seen in the fault tests: the old observer listed beside its replacement)."""
    base = tmp_path / "obs"
    base.mkdir()
    with ObserverWatch([base]) as watch:
        proc = start(base)
        settle(watch)
        assert watch.live()[str(base)] == [proc.pid]
        os.killpg(proc.pid, signal.SIGKILL)
        deadline = time.monotonic() + 10
        # Not waited for yet: the process is a zombie of this one.
        while (Path("/proc") / str(proc.pid) / "stat").read_text().rsplit(")", 1)[1].split()[0] != "Z":
            assert time.monotonic() < deadline, "the killed process never became a zombie"
            time.sleep(0.05)
        settle(watch)
        assert watch.live()[str(base)] == []
        proc.wait(timeout=10)


def test_what_runs_at_the_mark_counts_though_it_is_gone_before_the_next_poll(tmp_path: Path) -> None:
    # No poll of its own in between (a loaded machine): the mark's own poll is the only sighting of the
    # first process, which must still count as running at the mark.
    base = tmp_path / "obs1"
    base.mkdir()
    first = start(base)
    try:
        with ObserverWatch([base], interval=3600) as watch:
            time.sleep(0.3)
            since = watch.mark()
            stop(first)
            second = start(base)
            try:
                settle(watch)
                assert watch.pids_since(since)[str(base)] == [first.pid, second.pid]
            finally:
                stop(second)
    finally:
        if first.poll() is None:
            stop(first)
