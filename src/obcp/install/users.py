"""Which user a service runs as: the owner of the directories it works in, or the one installing it."""

from __future__ import annotations

import getpass
import os
import pwd
from collections.abc import Iterable
from pathlib import Path


class InstallError(Exception):
    """A unit that cannot be written as asked; the message says why and what to do."""


def invoking_user() -> str:
    """The user running the command; under sudo, the user who ran sudo."""
    sudo_user = os.environ.get("SUDO_USER")
    if os.geteuid() == 0 and sudo_user:
        return sudo_user
    return getpass.getuser()


def owner_of(path: Path) -> str:
    uid = path.stat().st_uid
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        raise InstallError(f"{path} is owned by uid {uid}, which has no user name; pass --user") from None


def default_user(directories: Iterable[Path]) -> str:
    """The one owner of the existing directories, else the invoking user; several owners are refused,
    since one agent runs as one user."""
    owners = {owner_of(d): d for d in directories if d.is_dir()}
    if len(owners) > 1:
        named = ", ".join(f"{d} ({u})" for u, d in sorted(owners.items()))
        raise InstallError(f"the directories have different owners: {named}; pass --user")
    if owners:
        return next(iter(owners))
    return invoking_user()


def check_user(name: str) -> None:
    try:
        pwd.getpwnam(name)
    except KeyError:
        raise InstallError(f"no user named {name!r} on this host") from None
