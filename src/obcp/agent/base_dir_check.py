"""Does a base dir hold initialised data, a first start that never completed, or something to leave alone.

seekdb silently bootstraps a new empty database in a directory without data, so the agent decides.
"""

from __future__ import annotations

from pathlib import Path

from obcp.agent.errors import ObserverOperationError

# Written before a first start and removed once it is ready: if it is still there, the directory holds a
# first initialisation that never completed (failed, killed, agent crashed) and may be wiped for a retry.
INIT_MARKER = "obcp-init-incomplete"


def is_first_start(base: Path, initialize: bool) -> bool:
    """Whether this start is a first start (bootstrap); raise if the directory must not be started."""
    if (base / INIT_MARKER).exists():
        if not initialize:
            raise ObserverOperationError(
                "init_incomplete",
                f"the base dir {base} holds a first initialisation that never completed; start with "
                "initialize=true to remove it (store/ and etc/) and initialise again",
            )
        return True
    if (base / "store" / "sstable" / "meta.db").is_file():
        return False
    if (base / "store").exists() or (base / "etc").exists():
        raise ObserverOperationError(
            "data_incomplete",
            f"the base dir {base} has store/ or etc/ but no store/sstable/meta.db: its data files are "
            "missing or damaged; the agent will neither start nor touch it, inspect it by hand",
        )
    if not initialize:
        raise ObserverOperationError(
            "not_initialised",
            f"the base dir {base} holds no initialised data (store/sstable/meta.db is missing); refusing "
            "to start it, because seekdb would silently bootstrap a new empty database there. "
            "To create a new observer, start with initialize=true",
        )
    return True
