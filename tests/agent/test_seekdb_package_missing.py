"""Without the sandbox extra (pylibseekdb), the seekdb kind says which package to install: in its status
and as the reason a start is refused, never as an ImportError."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from obcp import demo
from obcp.agent.config import ObserverConfig, OceanBaseHomeConfig
from obcp.agent.errors import ObserverOperationError
from obcp.agent.observer_process import ObserverProcess
from obcp.cli.main import app
from tests.support.ports import free_sql_ports

MESSAGE = "the seekdb kind needs the pylibseekdb package: pip install 'obcp[sandbox]'"


@pytest.fixture
def no_pylibseekdb(monkeypatch: pytest.MonkeyPatch) -> None:
    # A None entry in sys.modules is how Python marks a module as not importable.
    monkeypatch.setitem(sys.modules, "pylibseekdb", None)


@pytest.mark.usefixtures("no_pylibseekdb")
def test_seekdb_kind_names_the_extra_when_pylibseekdb_is_missing(tmp_path: Path) -> None:
    port = free_sql_ports(1)[0]
    ob = ObserverProcess(ObserverConfig(name="s1", base_dir=tmp_path / "s1", sql_port=port), "127.0.0.1:t")
    status = ob.status(ports=False)
    assert status["binary"] is None and MESSAGE in status["binaryProblem"]
    with pytest.raises(ObserverOperationError) as caught:
        ob.start(initialize=True, root_password=None)
    assert caught.value.code == "binary_missing" and MESSAGE in caught.value.message
    assert not (tmp_path / "s1" / "run").exists()


@pytest.mark.usefixtures("no_pylibseekdb")
def test_observer_kind_and_an_explicit_binary_need_no_pylibseekdb(tmp_path: Path) -> None:
    home = OceanBaseHomeConfig(kind="observer", name="o1", home_path=tmp_path / "ob", sql_port=2881)
    assert home.resolved_binary() == tmp_path / "ob" / "bin" / "observer"
    seekdb = ObserverConfig(name="s1", base_dir=tmp_path / "s1", sql_port=2881, binary=Path("/opt/seekdb"))
    assert seekdb.resolved_binary() == Path("/opt/seekdb")


@pytest.mark.usefixtures("no_pylibseekdb")
def test_sandbox_and_demo_name_the_extra_before_starting_anything(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    result = CliRunner().invoke(app, ["sandbox", "up", "--no-register", "--dir", str(tmp_path / "sb")])
    assert result.exit_code == 2
    assert "the sandbox needs the pylibseekdb package: pip install 'obcp[sandbox]'" in result.output
    assert not (tmp_path / "sb").exists()
    monkeypatch.setenv("OBCP_DEMO_HOME", str(tmp_path / "demo"))
    assert demo.main() == 2
    assert "the demo needs the pylibseekdb package: pip install 'obcp[sandbox]'" in capsys.readouterr().out
    assert not (tmp_path / "demo").exists()
