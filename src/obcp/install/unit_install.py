"""Writing and removing unit files, and the systemctl commands that go with them (printed, never run:
enabling a service is the administrator's decision)."""

from __future__ import annotations

import os
import pwd
from pathlib import Path

from obcp.install.unit_file import ServiceUnit, render_unit
from obcp.install.users import InstallError


def enable_commands(unit: ServiceUnit) -> list[str]:
    return ["systemctl daemon-reload", f"systemctl enable --now {unit.name}"]


def write_unit(unit: ServiceUnit, unit_dir: Path) -> Path:
    path = unit_dir / unit.file_name
    try:
        unit_dir.mkdir(parents=True, exist_ok=True)
        path.write_text(render_unit(unit))
        path.chmod(0o644)
    except PermissionError:
        raise InstallError(f"cannot write {path}: run as root (sudo) or pass --unit-dir") from None
    return path


def write_secret_file(path: Path, text: str) -> None:
    """A file only its owner reads, created so from the start (never briefly world-readable)."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(text)
        path.chmod(0o600)
    except PermissionError:
        raise InstallError(f"cannot write {path}: run as root (sudo) or pass another path") from None


def make_owned_dir(path: Path, user: str) -> None:
    """A directory the service's user owns (0700), created when missing; chowned only when it is new."""
    if path.is_dir():
        return
    path.mkdir(parents=True, mode=0o700)
    if os.geteuid() == 0:
        entry = pwd.getpwnam(user)
        os.chown(path, entry.pw_uid, entry.pw_gid)


def remove_unit(name: str, unit_dir: Path) -> Path:
    """Remove a unit file, refused while the unit is still enabled (its symlink in a .wants dir would be
    left dangling)."""
    path = unit_dir / f"{name}.service"
    wanted = sorted(unit_dir.glob(f"*.wants/{name}.service"))
    if wanted:
        raise InstallError(f"{name} is still enabled ({wanted[0]}): first run systemctl disable --now {name}")
    if not path.exists():
        raise InstallError(f"{path} does not exist: nothing to uninstall")
    try:
        path.unlink()
    except PermissionError:
        raise InstallError(f"cannot remove {path}: run as root (sudo) or pass --unit-dir") from None
    return path
