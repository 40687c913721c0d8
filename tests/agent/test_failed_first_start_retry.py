"""A failed or interrupted first start leaves nothing that breaks the retry (left behind, its store/ and etc/
poison the directory: the next start fails with -4152 or -4015). Drives ObserverProcess in-process against
a real seekdb; HTTP is covered elsewhere."""

from __future__ import annotations

from pathlib import Path

import pytest

from obcp.agent.base_dir_check import INIT_MARKER
from obcp.agent.config import ObserverConfig
from obcp.agent.errors import ObserverOperationError
from obcp.agent.observer_process import ObserverProcess
from tests.agent.harness import ROOT_PASSWORD
from tests.support.ports import free_sql_ports
from tests.support.processes import kill_observer

pytestmark = [pytest.mark.seekdb, pytest.mark.timeout(120)]


def test_retry_after_failed_and_after_interrupted_first_start(tmp_path: Path) -> None:
    base = tmp_path / "ob"
    port = free_sql_ports(1)[0]
    bad = ObserverProcess(
        ObserverConfig(name="retry", base_dir=base, sql_port=port, parameters={"memory_budget": "abc"}),
        "127.0.0.1:test",
    )
    good = ObserverProcess(ObserverConfig(name="retry", base_dir=base, sql_port=port), "127.0.0.1:test")
    try:
        with pytest.raises(ObserverOperationError) as caught:
            bad.start(initialize=True, root_password=ROOT_PASSWORD)
        assert caught.value.code == "exited" and "memory_budget=abc" in caught.value.message
        assert not (base / "store").exists() and not (base / "etc").exists()
        assert not (base / INIT_MARKER).exists()

        # As if an agent had crashed in the middle of a bootstrap: marker plus half-written data.
        (base / "store" / "sstable").mkdir(parents=True)
        (base / "store" / "sstable" / "meta.db").write_text("half written")
        (base / "etc").mkdir()
        (base / INIT_MARKER).write_text("")
        with pytest.raises(ObserverOperationError) as caught:
            good.start(initialize=False, root_password=None)
        assert caught.value.code == "init_incomplete"
        assert (base / "store" / "sstable" / "meta.db").read_text() == "half written"

        result = good.start(initialize=True, root_password=ROOT_PASSWORD)
        assert result.changed and "initialised and started" in result.message
        assert good.is_initialised() and not (base / INIT_MARKER).exists()
        assert good.stop().changed
        # initialize=true on initialised data is a plain start (and the password is checked with SELECT 1).
        again = good.start(initialize=True, root_password=ROOT_PASSWORD)
        assert again.changed and again.message.startswith("observer retry started as pid")
        assert "already running" in good.start(initialize=True, root_password=None).message
    finally:
        good.stop()
        kill_observer(base)
