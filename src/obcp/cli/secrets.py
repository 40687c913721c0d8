"""`obcp secrets`: the secret key's rotation, run beside a replica (its OBCP_HOME and metadb), not by API.

The procedure (docs/security.md, "Rotating the secret key"): `new-key` on one replica, copy the file it
writes to every replica; `rotate`; `promote` on every replica. No replica stops.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import typer

from obcp.config import Settings

secrets_app = typer.Typer(
    help="The secret key that encrypts stored secrets, and its rotation.", no_args_is_help=True
)

HomeOption = typer.Option(None, envvar="OBCP_HOME", help="data directory [default: ./var]")
DbOption = typer.Option(None, envvar="OBCP_DB_URL", help="metadb URL [default: SQLite in OBCP_HOME]")


def _settings(home: Path | None, db_url: str | None) -> Settings:
    overrides: dict[str, object] = {}
    if home is not None:
        overrides["home"] = home
    if db_url is not None:
        overrides["db_url"] = db_url
    return Settings(**overrides)  # type: ignore[arg-type]


@secrets_app.command("new-key")
def new_key(home: Path = HomeOption) -> None:
    """Write a new key to secret.key.new (refused if one is there); copy it to every replica next."""
    from obcp.secretbox import key_id, new_key_path, write_new_key

    path = new_key_path(_settings(home, None).resolved_secret_key_file())
    if not write_new_key(path):
        typer.echo(
            f"obcp: {path} exists already: copy it to every replica, or remove it to start over", err=True
        )
        raise typer.Exit(1)
    typer.echo(
        f"obcp: wrote {path} (key {key_id(path.read_bytes().strip())}); copy it beside secret.key on "
        "every replica, then run `obcp secrets rotate`"
    )


@secrets_app.command("status")
def status(home: Path = HomeOption, db_url: str = DbOption) -> None:
    """How many stored secrets each key wrote, and the keys this replica holds."""
    from obcp.meta.db import Database
    from obcp.secret_rotation import census
    from obcp.secretbox import SecretBox

    settings = _settings(home, db_url)
    box = SecretBox.from_file(settings.resolved_secret_key_file())
    typer.echo(f"keys here: {', '.join(box.key_ids)} (writing with {box.writing_key_id})")

    async def run() -> None:
        db = Database(settings.resolved_db_url())
        try:
            for name, counts in (await census(db)).items():
                typer.echo(f"{name}: " + (", ".join(f"{k} {n}" for k, n in sorted(counts.items())) or "none"))
        finally:
            await db.dispose()

    asyncio.run(run())


@secrets_app.command("rotate")
def rotate(home: Path = HomeOption, db_url: str = DbOption) -> None:
    """Re-encrypt every stored secret under secret.key.new; the replicas keep running and read both keys."""
    from obcp.meta.db import Database
    from obcp.secret_rotation import RotationError
    from obcp.secret_rotation import rotate as rotate_all
    from obcp.secretbox import SecretBox

    settings = _settings(home, db_url)
    box = SecretBox.from_file(settings.resolved_secret_key_file())

    async def run() -> int:
        db = Database(settings.resolved_db_url())
        try:
            unreadable = 0
            for done in await rotate_all(db, box):
                typer.echo(
                    f"{done.column}: {done.rotated} re-encrypted, {done.unchanged} already under the new key"
                    + (
                        f", {len(done.unreadable)} unreadable (ids {done.unreadable})"
                        if done.unreadable
                        else ""
                    )
                )
                unreadable += len(done.unreadable)
            return unreadable
        finally:
            await db.dispose()

    try:
        unreadable = asyncio.run(run())
    except RotationError as exc:
        typer.echo(f"obcp: {exc}", err=True)
        raise typer.Exit(1) from exc
    if unreadable:
        typer.echo("obcp: some stored secrets decrypt with neither key: they were left as they are", err=True)
        raise typer.Exit(1)
    typer.echo(
        f"obcp: every stored secret is under key {box.writing_key_id}; run `obcp secrets promote` on "
        "every replica"
    )


@secrets_app.command("promote")
def promote(home: Path = HomeOption, db_url: str = DbOption) -> None:
    """Make secret.key.new this replica's only key (refused while a stored secret still needs the old one)."""
    from obcp.meta.db import Database
    from obcp.secret_rotation import RotationError
    from obcp.secret_rotation import promote as promote_key
    from obcp.secretbox import SecretBox

    settings = _settings(home, db_url)
    key_file = settings.resolved_secret_key_file()
    box = SecretBox.from_file(key_file)

    async def run() -> str:
        db = Database(settings.resolved_db_url())
        try:
            return await promote_key(db, key_file, box)
        finally:
            await db.dispose()

    try:
        kid = asyncio.run(run())
    except RotationError as exc:
        typer.echo(f"obcp: {exc}", err=True)
        raise typer.Exit(1) from exc
    typer.echo(f"obcp: {key_file} is now key {kid}; the old key is gone from this replica")
