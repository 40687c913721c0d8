"""The unit of `obcp agent install`: the agent as the observers' owner, never root, and observers that
outlive an agent restart."""

from __future__ import annotations

from pathlib import Path

from obcp.agent.config import AgentConfig
from obcp.install.unit_file import ServiceUnit, quote_path
from obcp.install.users import default_user

AGENT_UNIT = "obcp-agent"

# The limits obd asks for on an OceanBase host (its limits.conf): observers started by the agent inherit
# the agent's, so systemd's defaults (1024 open files, a task cap per service) would bind them.
OBSERVER_LIMITS: list[tuple[str, str]] = [
    ("LimitNOFILE", "655350"),
    ("LimitNPROC", "655360"),
    ("LimitCORE", "infinity"),
    ("TasksMax", "infinity"),
]

# Hardening that leaves the agent able to start, signal and read its user's observers. Left out on
# purpose: PrivateTmp (the observers would live in a /tmp systemd tears down with the agent), ProtectHome
# (OceanBase homes are usually under /home), ProtectControlGroups (OceanBase may use its cgroup dirs),
# MemoryDenyWriteExecute and SystemCallFilter (they would apply to the observers too).
AGENT_HARDENING: list[tuple[str, str]] = [
    ("NoNewPrivileges", "yes"),
    ("ProtectSystem", "full"),
    ("ProtectKernelModules", "yes"),
    ("ProtectKernelLogs", "yes"),
    ("ProtectClock", "yes"),
    ("ProtectHostname", "yes"),
    ("RestrictSUIDSGID", "yes"),
    ("RestrictRealtime", "yes"),
    ("LockPersonality", "yes"),
]


def observer_dirs(config: AgentConfig) -> list[Path]:
    """The homes and base dirs of the configured observers (kind `observer` and `seekdb` alike)."""
    return [o.base_dir for o in config.observers]


def agent_user(config: AgentConfig, user: str | None) -> str:
    return user if user is not None else default_user(observer_dirs(config))


def agent_unit(obcp: Path, config_path: Path, config: AgentConfig, user: str) -> ServiceUnit:
    # ProtectSystem=full makes /usr, /boot and /etc read-only; a home there stays writable ("-": a base
    # dir the agent has yet to create is no reason for the unit to fail).
    writable = [("ReadWritePaths", quote_path(d, "-")) for d in observer_dirs(config)]
    return ServiceUnit(
        name=AGENT_UNIT,
        description="obcp host agent (starts, stops and reports the observers of this host)",
        exec_start=[str(obcp), "agent", "--config", str(config_path)],
        user=user,
        service=[
            # Stopping or restarting the agent must not stop the observers it started: only the agent
            # itself is signalled, its observers stay (and the next agent adopts them).
            ("KillMode", "process"),
            *OBSERVER_LIMITS,
            *AGENT_HARDENING,
            *writable,
        ],
    )
