"""`obcp agent install|uninstall` and `obcp server install|uninstall`: the units they write, the user they
pick, the secrets kept out of the unit, and systemd's own check of the units where systemd-analyze exists."""

from __future__ import annotations

import os
import pwd
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from obcp.cli.main import app
from obcp.install.unit_file import quote_arg, quote_path
from tests.support.tls_certs import make_certificates

OBCP = Path(sys.executable).parent / "obcp"
DB_PASSWORD = "Db-Pw-9xQ2mK7vL4"
runner = CliRunner()


def invoke(*args: str, env: dict[str, str] | None = None) -> Result:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("OBCP_", "SUDO_"))}
    return runner.invoke(app, list(args), env={**clean, **(env or {})})


def agent_config(tmp_path: Path, *homes: Path) -> Path:
    observers = "".join(
        f'[[observers]]\nkind = "observer"\nname = "ob{i}"\nhome_path = "{home}"\n'
        f"sql_port = {2881 + 10 * i}\n"
        for i, home in enumerate(homes)
    )
    # TLS files that exist, as `obcp agent install` requires (tests/cli/test_agent_install_tls.py covers it).
    tls = make_certificates(tmp_path, "127.0.0.1")
    tls_section = f'[tls]\ncert_file = "{tls["server_cert"]}"\nkey_file = "{tls["server_key"]}"\n'
    path = tmp_path / "agent.toml"
    path.write_text(f'listen = "127.0.0.1:2886"\nkey_file = "agent.key"\n{tls_section}{observers}')
    return path


def directives(unit: str) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for line in unit.splitlines():
        if "=" in line and not line.startswith(("#", "[")):
            key, value = line.split("=", 1)
            found.setdefault(key, []).append(value)
    return found


def owned_by(path: Path, user: str) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    entry = pwd.getpwnam(user)
    os.chown(path, entry.pw_uid, entry.pw_gid)
    return path


needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="giving a directory to another user needs root")


def test_agent_unit_runs_the_installed_obcp_with_the_absolute_config(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = tmp_path / "observer"
    home.mkdir()
    agent_config(tmp_path, home)
    monkeypatch.chdir(tmp_path)
    result = invoke("agent", "install", "--config", "agent.toml", "--user", "nobody", "--dry-run")
    assert result.exit_code == 0, result.output
    unit = directives(result.stdout)
    assert unit["ExecStart"] == [f"{OBCP} agent --config {tmp_path / 'agent.toml'}"]
    assert unit["User"] == ["nobody"]
    assert unit["Restart"] == ["on-failure"]
    assert unit["NoNewPrivileges"] == ["yes"]
    # Observers outlive an agent restart, and inherit limits fit for OceanBase.
    assert unit["KillMode"] == ["process"]
    assert unit["LimitNOFILE"] == ["655350"] and unit["TasksMax"] == ["infinity"]
    # Nothing that would take the observers' /tmp or homes away from them.
    assert not {"PrivateTmp", "ProtectHome", "SystemCallFilter"} & unit.keys()
    assert unit["ReadWritePaths"] == [f"-{home}"]
    assert unit["WantedBy"] == ["multi-user.target"]
    assert not (tmp_path / "obcp-agent.service").exists()


@needs_root
def test_agent_user_defaults_to_the_owner_of_the_homes(tmp_path: Path) -> None:
    homes = [owned_by(tmp_path / "a", "nobody"), owned_by(tmp_path / "b", "nobody"), tmp_path / "not-yet"]
    config = agent_config(tmp_path, *homes)
    result = invoke("agent", "install", "--config", str(config), "--dry-run")
    assert result.exit_code == 0, result.output
    assert directives(result.stdout)["User"] == ["nobody"]

    owned_by(tmp_path / "b", "root")
    result = invoke("agent", "install", "--config", str(config), "--dry-run")
    assert result.exit_code == 2
    assert "different owners" in result.output and "nobody" in result.output and "--user" in result.output


def test_agent_user_without_homes_is_the_invoking_one_and_root_is_warned_about(tmp_path: Path) -> None:
    config = agent_config(tmp_path, tmp_path / "missing")
    me = pwd.getpwuid(os.geteuid()).pw_name
    result = invoke("agent", "install", "--config", str(config), "--dry-run")
    assert result.exit_code == 0, result.output
    assert directives(result.stdout)["User"] == [me]
    assert ("does not need" in result.output) == (me == "root")


def test_agent_install_refuses_unknown_users_and_invalid_configs(tmp_path: Path) -> None:
    config = agent_config(tmp_path, tmp_path / "h")
    result = invoke("agent", "install", "--config", str(config), "--user", "no-such-user-x", "--dry-run")
    assert result.exit_code == 2 and "no user named 'no-such-user-x'" in result.output
    config.write_text('[[observers]]\nkind = "observer"\nname = "x"\nhome_path = "rel"\nsql_port = 1\n')
    result = invoke("agent", "install", "--config", str(config), "--dry-run")
    assert result.exit_code == 2 and "home_path must be an absolute path" in result.output


def test_agent_install_writes_the_unit_and_uninstall_waits_for_disable(tmp_path: Path) -> None:
    config = agent_config(tmp_path, tmp_path / "h")
    units = tmp_path / "units"
    result = invoke("agent", "install", "--config", str(config), "--user", "nobody", "--unit-dir", str(units))
    assert result.exit_code == 0, result.output
    path = units / "obcp-agent.service"
    assert stat.S_IMODE(path.stat().st_mode) == 0o644
    assert directives(path.read_text())["User"] == ["nobody"]
    assert "systemctl daemon-reload" in result.output
    assert "systemctl enable --now obcp-agent" in result.output

    # What `systemctl enable` leaves: uninstall refuses until it is disabled.
    (units / "multi-user.target.wants").mkdir()
    (units / "multi-user.target.wants" / "obcp-agent.service").symlink_to(path)
    result = invoke("agent", "uninstall", "--unit-dir", str(units))
    assert result.exit_code == 2 and "systemctl disable --now obcp-agent" in result.output
    assert path.exists()
    (units / "multi-user.target.wants" / "obcp-agent.service").unlink()
    result = invoke("agent", "uninstall", "--unit-dir", str(units))
    assert result.exit_code == 0, result.output
    assert not path.exists() and "systemctl daemon-reload" in result.output
    assert invoke("agent", "uninstall", "--unit-dir", str(units)).exit_code == 2


def test_server_install_keeps_secrets_in_a_0600_env_file(tmp_path: Path) -> None:
    home, env_file, units = tmp_path / "home", tmp_path / "etc" / "server.env", tmp_path / "units"
    db_url = f"mysql://obcp:{DB_PASSWORD}@127.0.0.1:3306/obcp"
    result = invoke(
        "server", "install", "--home", str(home), "--port", "8181", "--db-url", db_url,
        "--env-file", str(env_file), "--unit-dir", str(units), "--user", "nobody",
        env={"OBCP_ADMIN_PASSWORD": "Admin-Pw-1x$`\"\\"},
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    unit_text = (units / "obcp-server.service").read_text()
    assert DB_PASSWORD not in unit_text and "Admin-Pw" not in unit_text
    assert DB_PASSWORD not in result.output and "Admin-Pw" not in result.output
    unit = directives(unit_text)
    assert unit["ExecStart"] == [f"{OBCP} server"]
    assert unit["User"] == ["nobody"] and unit["Restart"] == ["on-failure"]
    assert unit["EnvironmentFile"] == [str(env_file)]
    assert unit["ReadWritePaths"] == [str(home)] and unit["ProtectSystem"] == ["strict"]
    assert stat.S_IMODE(env_file.stat().st_mode) == 0o600
    env_text = env_file.read_text()
    assert f'OBCP_HOME="{home}"' in env_text and 'OBCP_PORT="8181"' in env_text
    assert f'OBCP_DB_URL="{db_url}"' in env_text
    assert 'OBCP_ADMIN_PASSWORD="Admin-Pw-1x\\$\\`\\"\\\\"' in env_text
    assert home.is_dir() and stat.S_IMODE(home.stat().st_mode) == 0o700
    if os.geteuid() == 0:
        assert pwd.getpwuid(home.stat().st_uid).pw_name == "nobody"
    assert invoke("server", "uninstall", "--unit-dir", str(units)).exit_code == 0
    assert not (units / "obcp-server.service").exists() and env_file.exists()


def test_server_install_refuses_plain_http_beyond_loopback(tmp_path: Path) -> None:
    """The unit's server would refuse to start: no unit, no env file; with TLS from the environment, both."""
    env_file, units = tmp_path / "server.env", tmp_path / "units"
    args = ["server", "install", "--home", str(tmp_path / "h"), "--host", "0.0.0.0", "--user", "nobody"]
    args += ["--env-file", str(env_file), "--unit-dir", str(units)]
    result = invoke(*args)
    assert result.exit_code == 2 and "--host 0.0.0.0 is not a loopback address" in result.output
    assert not env_file.exists() and not units.exists()
    tls = make_certificates(tmp_path, "127.0.0.1")
    result = invoke(
        *args, env={"OBCP_TLS_CERT": str(tls["server_cert"]), "OBCP_TLS_KEY": str(tls["server_key"])}
    )
    assert result.exit_code == 0, result.output
    assert f'OBCP_TLS_CERT="{tls["server_cert"]}"' in env_file.read_text()


def test_server_unit_defaults_to_the_state_directory(tmp_path: Path) -> None:
    result = invoke(
        "server", "install", "--user", "nobody", "--dry-run", "--db-url", "sqlite:////srv/m/obcp.db"
    )
    assert result.exit_code == 0, result.output
    unit = directives(result.stdout)
    assert unit["StateDirectory"] == ["obcp"] and unit["EnvironmentFile"] == ["/etc/obcp/server.env"]
    assert unit["ReadWritePaths"] == ["/srv/m"]  # a SQLite metadb outside the home stays writable
    assert "OBCP_HOME, OBCP_DB_URL" in result.output


def test_unit_values_are_quoted_as_systemd_reads_them() -> None:
    assert quote_arg("/opt/obcp/bin/obcp") == "/opt/obcp/bin/obcp"
    assert quote_arg("/etc/obcp agent/a.toml") == '"/etc/obcp agent/a.toml"'
    assert quote_arg("50%$HOME") == "50%%$$HOME"
    assert quote_arg('a"b\\c') == '"a\\"b\\\\c"'
    assert quote_path(Path("/data/ob 1"), "-") == '"-/data/ob 1"'


SYSTEMD_ANALYZE = shutil.which("systemd-analyze")


@pytest.mark.skipif(SYSTEMD_ANALYZE is None, reason="systemd-analyze is not installed on this machine")
@pytest.mark.parametrize("kind", ["agent", "server"])
def test_systemd_analyze_accepts_the_units(tmp_path: Path, kind: str) -> None:
    assert SYSTEMD_ANALYZE is not None
    args = ["--config", str(agent_config(tmp_path, tmp_path / "h"))] if kind == "agent" else []
    user = pwd.getpwuid(os.geteuid()).pw_name
    result = invoke(kind, "install", *args, "--user", user, "--dry-run")
    assert result.exit_code == 0, result.output
    path = tmp_path / f"obcp-{kind}.service"
    path.write_text(result.stdout)
    checked = subprocess.run([SYSTEMD_ANALYZE, "verify", str(path)], capture_output=True, text=True)
    # A directive systemd cannot parse is only a warning on stderr: none is allowed.
    problems = [line for line in checked.stderr.splitlines() if path.name in line]
    assert checked.returncode == 0 and problems == [], checked.stderr


def test_server_install_takes_obcp_home_from_the_environment_and_names_a_foreign_owner(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "var").mkdir()
    result = invoke("server", "install", "--user", "nobody", "--dry-run", env={"OBCP_HOME": "var"})
    assert result.exit_code == 0, result.output
    unit = directives(result.stdout)
    assert unit["ReadWritePaths"] == [str(tmp_path / "var")] and "StateDirectory" not in unit
    me = pwd.getpwuid(os.geteuid()).pw_name
    result = invoke(
        "server", "install", "--user", "nobody", "--home", str(tmp_path / "var"),
        "--env-file", str(tmp_path / "server.env"), "--unit-dir", str(tmp_path / "units"),
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert f"{tmp_path / 'var'} is owned by {me}, the server runs as nobody" in result.output
