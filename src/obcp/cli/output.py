"""How a reading command prints: a table for people by default, `-o json` for programs (kubectl's and obd's
convention). JSON is the API's `data`, exactly, so it can be read back as the API answered it."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from enum import StrEnum
from typing import Any

import typer
from rich import box
from rich.console import Console
from rich.table import Table
from rich.text import Text

from obcp.cli.dag_view import STYLE


class Output(StrEnum):
    table = "table"
    json = "json"


OUTPUT = typer.Option(Output.table, "-o", "--output", help="table (for people) or json (the API's data)")

# Health of a cluster, zone or server: the word stays next to the colour, which is never the only signal.
HEALTH = {
    "RUNNING": ("●", "green"),
    "STOPPED": ("■", "dim"),
    "STARTING": ("▲", "yellow"),
    "STOPPING": ("▼", "yellow"),
    "RESTARTING": ("↻", "yellow"),
    "UNAVAILABLE": ("✗", "bold red"),
    "ABNORMAL": ("✗", "bold red"),
}


def health(status: Any) -> Text:
    mark, style = HEALTH.get(str(status), ("?", ""))
    return Text(f"{mark} {status}", style=style)


def task_state(status: Any) -> Text:
    mark, style = STYLE.get(str(status), ("?", ""))
    return Text(f"{mark} {status}", style=style)


def print_json(data: Any) -> None:
    typer.echo(json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False))


def table(title: str | None, columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> Table:
    # Rules under the header only, as kubectl and obd print: a row stays one line for grep and awk.
    t = Table(title=title, title_justify="left", header_style="bold", box=box.SIMPLE_HEAD)
    for col in columns:
        t.add_column(col)
    for row in rows:
        t.add_row(*(c if isinstance(c, Text) else Text("" if c is None else str(c)) for c in row))
    return t


def show(*renderables: Any) -> None:
    """Prints for a person; not on a terminal Rich leaves the colours out and keeps a wide enough line."""
    console = Console() if Console().is_terminal else Console(width=200)
    for r in renderables:
        console.print(r)
