"""The engine's public surface: what the rest of obcp may import from `obcp.engine`.

A name added or removed here is a change of the engine's interface, made on purpose. Callers import from
`obcp.engine` itself, never from its modules, so its modules can move without touching them.
"""

from __future__ import annotations

import ast
from pathlib import Path

import obcp.engine

SRC = Path(obcp.engine.__file__).resolve().parents[1]

PUBLIC = {
    "ClusterLookup",
    "Context",
    "Engine",
    "EngineMetrics",
    "EngineSettings",
    "LockHolder",
    "Operation",
    "Pager",
    "ResourceLock",
    "RunSpan",
    "RunContext",
    "SettleListener",
    "SettledTask",
    "Subtask",
    "SubtaskState",
    "TaskData",
    "TaskFilter",
    "TaskSignature",
    "TaskState",
    "TaskSummary",
    "Template",
    "TemplateBuilder",
    "WaitNode",
    "basic_json",
    "list_tasks",
    "load_list_items",
    "load_task",
    "load_tasks",
    "lock_holder",
    "newest_tasks",
    "no_clusters",
    "read_log",
    "register",
    "run_spans",
    "reload_task",
    "KnownTask",
    "ReloadedTask",
    "subtask_contexts",
    "running_task_counts",
    "seed_json",
    "signature_of",
    "subtask_json",
    "task_page",
    "task_row",
    "task_signature",
    "task_signatures",
    "task_state",
    "wrapped_json",
}


def test_public_names_are_pinned() -> None:
    assert set(obcp.engine.__all__) == PUBLIC
    for name in PUBLIC:
        assert getattr(obcp.engine, name) is not None


def _engine_imports(path: Path) -> list[str]:
    """Modules under `obcp.engine` that a file imports (`from obcp.engine import x` counts as the package)."""
    found: list[str] = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("obcp.engine."):
            found.append(node.module)
        elif isinstance(node, ast.Import):
            found += [a.name for a in node.names if a.name.startswith("obcp.engine.")]
    return found


def test_callers_import_the_package_not_its_modules() -> None:
    outside = [p for p in SRC.rglob("*.py") if SRC / "engine" not in p.parents]
    offenders = {str(p.relative_to(SRC)): _engine_imports(p) for p in outside}
    assert {p: mods for p, mods in offenders.items() if mods} == {}


def _imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
        elif isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
    return names


def test_engine_knows_no_operations_api_or_clusters() -> None:
    forbidden = ("obcp.api", "obcp.operations", "obcp.meta.tables", "obcp.meta.inventory")
    found = {
        str(p.relative_to(SRC)): sorted(m for m in _imports(p) if m.startswith(forbidden))
        for p in (SRC / "engine").rglob("*.py")
    }
    assert {p: mods for p, mods in found.items() if mods} == {}


def test_only_the_engine_touches_the_task_tables() -> None:
    users = [
        str(p.relative_to(SRC))
        for p in SRC.rglob("*.py")
        if "obcp.meta.task_tables" in _imports(p) and not p.is_relative_to(SRC / "engine")
    ]
    # The metadb package may import them to register them on the shared metadata, never to query them.
    assert [u for u in users if not u.startswith("meta/")] == []
    assert "meta/inventory.py" not in users
