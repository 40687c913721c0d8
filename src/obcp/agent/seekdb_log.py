"""Reading `<base>/log/seekdb.log`: the ERROR lines of one start, and the tail."""

from __future__ import annotations

from collections import deque
from pathlib import Path

MAX_ERROR_LINES = 8
MAX_LINE_CHARS = 600


def seekdb_log_path(base_dir: Path) -> Path:
    return base_dir / "log" / "seekdb.log"


def log_size(path: Path) -> int:
    try:
        return path.stat().st_size
    except FileNotFoundError:
        return 0


def read_since(path: Path, offset: int) -> str:
    """The text appended after offset (all of it if the file was rotated or recreated meanwhile)."""
    try:
        with path.open("rb") as f:
            f.seek(0, 2)
            if f.tell() < offset:
                offset = 0
            f.seek(offset)
            return f.read().decode("utf-8", errors="replace")
    except FileNotFoundError:
        return ""


def error_lines(text: str) -> list[str]:
    """ERROR lines, and the EDIAG lines just before them that carry the `ret="OB_..."` code behind them."""
    picked = [
        line.strip()[:MAX_LINE_CHARS]
        for line in text.splitlines()
        if "] ERROR " in line or "] EDIAG " in line or " ERROR " in line[:80]
    ]
    # The last lines are the ones nearest to the failure.
    return picked[-MAX_ERROR_LINES:]


def tail(path: Path, lines: int) -> list[str]:
    try:
        with path.open("rb") as f:
            f.seek(0, 2)
            size = f.tell()
            # Enough bytes for the requested lines in all but pathological logs, without reading 256 MB.
            f.seek(max(0, size - lines * 2048))
            data = f.read().decode("utf-8", errors="replace")
    except FileNotFoundError:
        return []
    return list(deque(data.splitlines(), maxlen=lines))
