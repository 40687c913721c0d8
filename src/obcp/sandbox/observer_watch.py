"""A /proc watcher of observer processes: every process whose working directory is an observer's base dir
(seekdb runs in its base dir, the agent's child changes into it before it executes seekdb), seen from the
outside, whoever started it. The fault tests and `bench/kill_campaign.py` use it to prove that a restart
replaced each observer exactly once: two pids per observer (the old one, the new one), never a third.

It polls (every 50 ms by default); an observer lives seconds at least, so none is missed. A pid first seen
elsewhere is looked at again for a while, since a child forked by the agent changes its directory an
instant after it exists. Only a process that names its base dir on its command line counts (seekdb runs
with `--base-dir`): seekdb's own children (shell commands it runs as it starts) do not, nor does the agent's
fork before it executes seekdb."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

# How long a pid seen outside every base dir is looked at again (a fork changes its cwd right after).
RECHECK_SECONDS = 10.0


@dataclass
class Sighting:
    pid: int
    base_dir: str
    first_seen: float  # time.monotonic()
    last_seen: float
    parent: int = 0
    command: str = ""
    gone: bool = False
    # A child of an observer (seekdb runs `sh -c grep … /proc/cpuinfo` as it starts): not an observer.
    helper: bool = False

    @property
    def names_base(self) -> bool:
        return self.base_dir in self.command

    @property
    def observer(self) -> bool:
        """An observer names its base dir on its command line (seekdb's `--base-dir`), which a helper,
        even one orphaned by its observer's death, does not."""
        return not self.helper and self.names_base


class ObserverWatch:
    def __init__(self, base_dirs: Iterable[Path], interval: float = 0.05, proc: Path = Path("/proc")) -> None:
        self._bases = {os.path.realpath(b): str(b) for b in base_dirs}
        self._interval = interval
        self._proc = proc
        self._lock = threading.Lock()
        self._sightings: list[Sighting] = []
        self._live: dict[int, Sighting] = {}
        self._others: dict[int, float] = {}  # pid -> first seen, outside every base dir
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="observer-watch", daemon=True)

    def __enter__(self) -> ObserverWatch:
        self.poll()
        self._thread.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def _loop(self) -> None:
        while not self._stop.wait(self._interval):
            self.poll()

    def _base_of(self, pid: int) -> str | None:
        try:
            cwd = os.readlink(self._proc / str(pid) / "cwd")
        except OSError:
            return None
        return self._bases.get(cwd)

    def _zombie(self, pid: int) -> bool:
        """An observer that exited but whose parent has not reaped it yet (an observer orphaned by its
        agent's death belongs to PID 1, which may reap late): gone, though /proc still lists it."""
        try:
            stat = (self._proc / str(pid) / "stat").read_text()
        except OSError:
            return True
        return stat.rsplit(")", 1)[1].split()[0] == "Z"

    def _describe(self, pid: int) -> tuple[int, str] | None:
        """Its parent and command line; None if it is already gone."""
        try:
            stat = (self._proc / str(pid) / "stat").read_text()
            command = (self._proc / str(pid) / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            return None
        # The parent is the second field after the command name, which is in parentheses.
        return int(stat.rsplit(")", 1)[1].split()[1]), command.strip()

    def poll(self) -> None:
        now = time.monotonic()
        try:
            pids = {int(name) for name in os.listdir(self._proc) if name.isdigit()}
        except OSError:
            return
        with self._lock:
            for pid in list(self._live):
                if pid not in pids or self._zombie(pid):
                    self._live.pop(pid).gone = True
            for pid in [p for p in self._others if p not in pids]:
                del self._others[pid]  # a pid that comes back is another process: looked at afresh
            for pid in sorted(pids):  # a parent (lower pid, as a rule) before its children
                seen = self._live.get(pid)
                if seen is not None:
                    seen.last_seen = now
                    if not seen.names_base:  # a fork of the agent until it executes the observer
                        described = self._describe(pid)
                        seen.command = described[1] if described else seen.command
                    continue
                first = self._others.get(pid)
                if first is not None and now - first > RECHECK_SECONDS:
                    continue
                base = self._base_of(pid)
                if base is None:
                    self._others.setdefault(pid, now)
                    continue
                described = self._describe(pid)
                if described is None:
                    # Gone between two reads: a helper that lived less than a poll (an observer lives
                    # seconds), whose parent could not be told.
                    continue
                self._others.pop(pid, None)
                sighting = Sighting(pid, self._bases[base], now, now, *described)
                sighting.helper = self._observer_child(sighting)
                self._live[pid] = sighting
                self._sightings.append(sighting)

    def _observer_child(self, sighting: Sighting) -> bool:
        """Whether its parent is an observer of the same base dir: one seen already, or (when that parent
        was first looked at outside the base dir for longer than the recheck window, as a slow fork under
        load is) one that /proc shows running there with the base dir on its command line."""
        parent = self._live.get(sighting.parent)
        if parent is not None:
            return parent.base_dir == sighting.base_dir
        base = self._base_of(sighting.parent)
        described = self._describe(sighting.parent) if base is not None else None
        return (
            base is not None
            and self._bases[base] == sighting.base_dir
            and described is not None
            and sighting.base_dir in described[1]
        )

    def mark(self) -> float:
        """A moment to count from (`pids_since`): what runs at the mark counts, also when it is gone before
        the next poll (the moment is taken before this poll, so that the poll's sightings are after it)."""
        moment = time.monotonic()
        self.poll()
        return moment

    def since(self, since: float) -> dict[str, list[Sighting]]:
        """Per base dir, every process seen there alive at some moment since `since`, in order."""
        self.poll()
        found: dict[str, list[Sighting]] = {base: [] for base in self._bases.values()}
        with self._lock:
            for s in self._sightings:
                if s.observer and (not s.gone or s.last_seen >= since):
                    found[s.base_dir].append(s)
        return found

    def pids_since(self, since: float) -> dict[str, list[int]]:
        """Per base dir, every observer pid alive at some moment since `since`, in order of appearance."""
        return {base: [s.pid for s in seen] for base, seen in self.since(since).items()}

    def live(self) -> dict[str, list[int]]:
        """Per base dir, the observer pids running now."""
        self.poll()
        found: dict[str, list[int]] = {base: [] for base in self._bases.values()}
        with self._lock:
            for s in self._live.values():
                if s.observer:
                    found[s.base_dir].append(s.pid)
        return found


def replaced_once(watch: ObserverWatch, since: float) -> dict[str, str]:
    """Per base dir whose observer was NOT replaced exactly once since `since`: what was seen instead.
    Exactly once means two pids (the one running at `since` and its successor), the first one gone and
    the second one running."""
    live = watch.live()
    problems: dict[str, str] = {}
    for base, seen in watch.since(since).items():
        pids = [s.pid for s in seen]
        ok = len(pids) == 2 and live[base] == [pids[1]]
        if not ok:
            detail = ", ".join(f"{s.pid} (parent {s.parent}: {s.command[:120]})" for s in seen)
            problems[base] = f"pids seen {detail}; running now {live[base]}"
    return problems
