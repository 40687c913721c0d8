"""The layer rules and the size rules of src/obcp, read from the source (AST), not from a running import.

Layers: the agent runs on database hosts and never imports server code; the engine knows neither
operations, the API nor the cluster tables; only the engine (and meta, which defines them) touches the
task tables; the OceanBase layer never imports the engine; the API touches no table itself but calls the
table's owner (obcp.iam.store, obcp.meta.inventory, obcp.meta.hosts, the engine), except that the console
sessions' owner, obcp.api.sessions, keeps the session table. Sizes: no module over 500 lines, no function
over 60 lines outside the migrations.

ALLOWED lists today's offenders by exact name, to be emptied as they are fixed: a new violation fails, and
so does an entry that no longer violates, so the list cannot outlive its reason.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src"
PACKAGE = SRC / "obcp"
MIGRATIONS = PACKAGE / "meta" / "migrations"
MAX_MODULE_LINES = 500
MAX_FUNCTION_LINES = 60

Function = ast.FunctionDef | ast.AsyncFunctionDef
SERVER_PACKAGES = ("api", "engine", "operations", "meta", "iam", "cli", "sandbox")


@dataclass(frozen=True)
class Rule:
    """Modules under `importer` must not import anything under one of `forbidden`."""

    importer: str
    forbidden: tuple[str, ...]
    exempt: tuple[str, ...] = ()


# Every module that declares tables: the API reaches them only through their owners.
TABLE_MODULES = tuple(f"obcp.meta.{p.stem}" for p in sorted((PACKAGE / "meta").glob("*tables.py")))

RULES = (
    Rule("obcp.agent", tuple(f"obcp.{p}" for p in SERVER_PACKAGES)),
    Rule("obcp.engine", ("obcp.operations", "obcp.api", "obcp.meta.tables")),
    Rule("obcp", ("obcp.meta.task_tables",), exempt=("obcp.engine", "obcp.meta")),
    Rule("obcp.ob", ("obcp.engine",)),
    Rule("obcp.api", tuple(m for m in TABLE_MODULES if m != "obcp.meta.session_tables")),
    Rule("obcp.api", ("obcp.meta.session_tables",), exempt=("obcp.api.sessions",)),
    # The audit trail sits beside meta: everyone who changes something may call it, it calls none of them.
    Rule(
        "obcp.audit",
        tuple(f"obcp.{p}" for p in (*SERVER_PACKAGES, "parameters", "ob", "agent") if p != "meta"),
    ),
)

# Known offenders, to be emptied as they are fixed (none today). An import is "importer -> imported"; a
# function is "module:qualified.name".
ALLOWED_IMPORTS: set[str] = set()
ALLOWED_LONG_MODULES: set[str] = set()
ALLOWED_LONG_FUNCTIONS: set[str] = set()


def modules() -> Iterator[tuple[str, Path]]:
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(SRC).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        yield ".".join(parts), path


def imported(module: str, path: Path) -> Iterator[str]:
    """Every module the source imports, at any depth (a lazy import in a function counts too)."""
    package = module if path.name == "__init__.py" else module.rsplit(".", 1)[0]
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            yield base
            # `from obcp.meta import task_tables` imports the module obcp.meta.task_tables.
            yield from (f"{base}.{alias.name}" for alias in node.names)


def within(name: str, prefix: str) -> bool:
    return name == prefix or name.startswith(prefix + ".")


def import_violations() -> set[str]:
    found: set[str] = set()
    for module, path in modules():
        names = set(imported(module, path))
        for rule in RULES:
            if not within(module, rule.importer) or any(within(module, e) for e in rule.exempt):
                continue
            for name in names:
                for forbidden in rule.forbidden:
                    if within(name, forbidden):
                        found.add(f"{module} -> {forbidden}")
    return found


def functions(
    tree: ast.AST, prefix: str = ""
) -> Iterator[tuple[str, ast.FunctionDef | ast.AsyncFunctionDef]]:
    for node in ast.iter_child_nodes(tree):
        if isinstance(node, Function):
            yield prefix + node.name, node
            yield from functions(node, f"{prefix}{node.name}.")
        elif isinstance(node, ast.ClassDef):
            yield from functions(node, f"{prefix}{node.name}.")
        else:
            yield from functions(node, prefix)


def size_violations() -> tuple[set[str], set[str]]:
    long_modules: set[str] = set()
    long_functions: set[str] = set()
    for module, path in modules():
        if path.is_relative_to(MIGRATIONS):
            continue
        source = path.read_text()
        if len(source.splitlines()) > MAX_MODULE_LINES:
            long_modules.add(module)
        for name, node in functions(ast.parse(source, str(path))):
            assert node.end_lineno is not None
            if node.end_lineno - node.lineno + 1 > MAX_FUNCTION_LINES:
                long_functions.add(f"{module}:{name}")
    return long_modules, long_functions


def check(kind: str, found: set[str], allowed: set[str]) -> None:
    new = sorted(found - allowed)
    stale = sorted(allowed - found)
    assert not new, f"new {kind}: {new}"
    assert not stale, f"allow-listed {kind} that no longer violate (remove them from the list): {stale}"


def test_layers_import_only_downwards() -> None:
    check("layer violations", import_violations(), ALLOWED_IMPORTS)


def test_no_module_over_500_lines() -> None:
    check(f"modules over {MAX_MODULE_LINES} lines", size_violations()[0], ALLOWED_LONG_MODULES)


def test_no_function_over_60_lines() -> None:
    check(f"functions over {MAX_FUNCTION_LINES} lines", size_violations()[1], ALLOWED_LONG_FUNCTIONS)


def test_server_state_only_through_the_runtime() -> None:
    """Handlers reach the server's parts through the typed dependencies on `Runtime`; `app.state` holds
    the runtime alone (the agent, a separate program, keeps its own)."""
    offenders = []
    for name, path in modules():
        if name == "obcp.api.runtime" or name.startswith("obcp.agent"):
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if not (isinstance(node, ast.Attribute) and node.attr == "state"):
                continue
            owner = node.value  # `app.state` or `request.app.state`
            if (isinstance(owner, ast.Name) and owner.id == "app") or (
                isinstance(owner, ast.Attribute) and owner.attr == "app"
            ):
                offenders.append(f"{name}:{node.lineno}")
    assert not offenders, f"app.state reached outside obcp.api.runtime: {offenders}"
