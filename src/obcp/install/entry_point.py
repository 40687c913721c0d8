"""The absolute path of the installed `obcp` command, which a unit's ExecStart must name."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path


def obcp_command() -> Path:
    """The `obcp` being run now if it is one, else the one beside this Python (a venv's bin/), else the
    first on PATH; never a relative path, which systemd would refuse."""
    candidates = [Path(sys.argv[0]), Path(sys.executable).parent / "obcp"]
    found = shutil.which("obcp")
    if found is not None:
        candidates.append(Path(found))
    for candidate in candidates:
        if candidate.name == "obcp" and candidate.is_file() and os.access(candidate, os.X_OK):
            return Path(os.path.abspath(candidate))
    raise FileNotFoundError("cannot find the installed `obcp` command (install obcp, e.g. pip install obcp)")
