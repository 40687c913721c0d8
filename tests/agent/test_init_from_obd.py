"""`obcp agent init-from-obd`: obd-style config.yaml files written here, the agent TOML that comes out."""

from __future__ import annotations

import stat
import textwrap
from pathlib import Path

from typer.testing import CliRunner

from obcp.agent.config import OceanBaseHomeConfig, load_agent_config
from obcp.cli.agent import app

NAMED_SERVERS = """
oceanbase-ce:
  servers:
    - name: server1
      ip: 10.0.0.1
    - name: server2
      ip: 10.0.0.1
    - name: server3
      ip: 10.0.0.2
  global:
    home_path: /home/admin/observer
    mysql_port: 2881
    rpc_port: 2882
    appname: obcluster
    root_password: not-copied
  server1:
    zone: zone1
  server2:
    zone: zone2
    home_path: /data/observer2
    mysql_port: 3881
    rpc_port: 3882
  server3:
    zone: zone3
"""

BARE_IPS = """
oceanbase:
  servers:
    - 10.0.0.5
    - 10.0.0.6
  global:
    home_path: /root/observer
  10.0.0.6:
    zone: zone2
    mysql_port: 2991
"""


def run(tmp_path: Path, yaml_text: str, *args: str) -> tuple[int, str, Path]:
    source = tmp_path / "config.yaml"
    source.write_text(textwrap.dedent(yaml_text))
    out = tmp_path / "etc" / "agent.toml"
    result = CliRunner().invoke(app, ["init-from-obd", str(source), "--out", str(out), *args])
    return result.exit_code, result.output, out


def observers(out: Path) -> list[OceanBaseHomeConfig]:
    loaded = load_agent_config(out).observers
    assert all(isinstance(o, OceanBaseHomeConfig) for o in loaded)
    return [o for o in loaded if isinstance(o, OceanBaseHomeConfig)]


def test_named_servers_with_per_server_overrides(tmp_path: Path) -> None:
    code, output, out = run(tmp_path, NAMED_SERVERS, "--host", "10.0.0.1")
    assert code == 0, output
    found = observers(out)
    assert [(o.name, str(o.home_path), o.sql_port, o.rpc_port) for o in found] == [
        ("server1", "/home/admin/observer", 2881, 2882),
        ("server2", "/data/observer2", 3881, 3882),
    ]
    assert all(o.kind == "observer" and o.start_args == ["-p", "{sql_port}"] for o in found)
    assert "# zone zone2" in out.read_text() and "not-copied" not in out.read_text()
    key = tmp_path / "etc" / "agent.key"
    assert load_agent_config(out).key_file == key
    assert stat.S_IMODE(key.stat().st_mode) == 0o600 and len(key.read_text().strip()) >= 32
    assert f"created the agent key file {key}" in output
    first_key = key.read_text()
    code, output, _ = run(tmp_path, NAMED_SERVERS, "--host", "10.0.0.1")
    assert code == 0 and key.read_text() == first_key and "kept the existing agent key file" in output


def test_bare_ips_are_their_own_names(tmp_path: Path) -> None:
    code, output, out = run(tmp_path, BARE_IPS, "--host", "10.0.0.6")
    assert code == 0, output
    assert [(o.name, str(o.home_path), o.sql_port, o.rpc_port) for o in observers(out)] == [
        ("10.0.0.6", "/root/observer", 2991, 2882)
    ]


def test_start_args_and_key_file_options(tmp_path: Path) -> None:
    key = tmp_path / "keys" / "my.key"
    code, output, out = run(
        tmp_path,
        NAMED_SERVERS,
        "--host",
        "10.0.0.2",
        "--key-file",
        str(key),
        "--start-args",
        "-p {sql_port} -P {rpc_port}",
    )
    assert code == 0, output
    (server3,) = observers(out)
    assert server3.start_args == ["-p", "{sql_port}", "-P", "{rpc_port}"]
    assert server3.resolved_start_args() == ["-p", "2881", "-P", "2882"]
    assert load_agent_config(out).key_file == key and key.exists()


def test_an_unknown_host_is_refused_and_nothing_written(tmp_path: Path) -> None:
    code, output, out = run(tmp_path, NAMED_SERVERS, "--host", "10.9.9.9")
    assert code == 2
    assert "places no observer on host 10.9.9.9 (its hosts: 10.0.0.1, 10.0.0.2)" in output
    assert not out.exists() and not (tmp_path / "etc" / "agent.key").exists()


def test_a_file_without_an_oceanbase_component_is_refused(tmp_path: Path) -> None:
    code, output, _ = run(tmp_path, "obproxy-ce:\n  servers: [10.0.0.1]\n", "--host", "10.0.0.1")
    assert code == 2 and "has no oceanbase-ce or oceanbase component" in output
    code, output, _ = run(tmp_path, "oceanbase-ce:\n  servers: [10.0.0.1]\n", "--host", "10.0.0.1")
    assert code == 2 and "server 10.0.0.1 has no home_path" in output


def test_the_daemon_still_needs_its_config(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, [])
    assert result.exit_code == 2 and "missing option --config" in result.output
