"""Subtask classes, their registry, and templates: DAGs of subtask classes instantiated against a context.

A subtask class is registered under a stable name (its `key`, stored as the subtask's class_name) so that
whichever replica claims the subtask, also after a crash, finds the same code.
"""

from __future__ import annotations

import graphlib
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar, TypeVar

from obcp.engine.context import Context
from obcp.errors import ErrorCode, ObcpError
from obcp.meta.db import Database

WAIT_NODE = "Wait node"


class Subtask:
    """One step. Override `run` (and `rollback` when the step has something to undo).

    Class attributes are the step's definition: its name as OCP shows it, timeout in seconds, automatic
    retries, and the capability flags operators see honoured by the API.
    """

    key: ClassVar[str] = ""
    name: ClassVar[str] = ""
    timeout: ClassVar[int] = 600
    retry_count: ClassVar[int] = 0
    can_retry: ClassVar[bool] = True
    can_rollback: ClassVar[bool] = True
    can_skip: ClassVar[bool] = True
    can_cancel: ClassVar[bool] = True
    # Safe to run again from the start when the server running it died (idempotent steps).
    continue_after_crash: ClassVar[bool] = False
    # Once this step has run, the task can no longer be rolled back (OCP's prohibitRollback).
    prohibit_rollback: ClassVar[bool] = False

    async def run(self, ctx: RunContext) -> None:
        raise NotImplementedError

    async def rollback(self, ctx: RunContext) -> None:
        return None


@dataclass
class RunContext:
    """What a running subtask sees: OCP's Context (which it may extend for its downstreams), the metadb,
    and the services its layer gave the engine (`Engine(services=...)`; the engine never looks inside)."""

    context: Context
    task_id: int
    subtask_id: int
    run_time: int
    operation: str
    log: logging.Logger
    db: Database
    services: object = None
    # The static parameters its template node was built with (`TemplateBuilder.add(..., params=)`).
    params: Mapping[str, str] = field(default_factory=dict)

    @property
    def parallel_idx(self) -> int:
        return self.context.parallel_idx

    def get(self, key: str, default: str | None = None) -> str | None:
        return self.context.get(key, default)

    def put(self, key: str, value: Any) -> None:
        self.context.put(key, value)

    def parallel_value(self, list_key: str) -> str:
        return self.context.parallel_value(list_key)


_registry: dict[str, type[Subtask]] = {}
S = TypeVar("S", bound=type[Subtask])


def register(cls: S) -> S:
    """Class decorator: makes the subtask runnable by name on every replica that imports its module."""
    if not cls.name:
        raise ValueError(f"{cls.__qualname__} has no name")
    key = cls.key or f"{cls.__module__}.{cls.__qualname__}"
    cls.key = key
    existing = _registry.get(key)
    if existing is not None and existing is not cls:
        raise ValueError(f"subtask key {key!r} registered twice")
    _registry[key] = cls
    return cls


def lookup(key: str) -> type[Subtask] | None:
    return _registry.get(key)


def registered_keys() -> list[str]:
    return sorted(_registry)


@register
class WaitNode(Subtask):
    """OCP's join: a no-op all branches of a fan-out lead to, so the next step has one upstream, not N."""

    key = "obcp.engine.WaitNode"
    name = WAIT_NODE
    timeout = 60
    continue_after_crash = True

    async def run(self, ctx: RunContext) -> None:
        return None


@dataclass(frozen=True)
class Node:
    index: int
    cls: type[Subtask]
    upstreams: tuple[int, ...]
    split_key: str | None = None
    serial: bool = False
    name: str | None = None
    params: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class SubtaskSpec:
    """One subtask row to create: `upstreams` are indexes into the same plan."""

    index: int
    cls: type[Subtask]
    name: str
    parallel_idx: int
    upstreams: tuple[int, ...]
    params: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class Template:
    name: str
    nodes: tuple[Node, ...]
    prohibit_rollback: bool = False

    def instantiate(self, context: Context) -> list[SubtaskSpec]:
        """The subtask rows for this argument: split nodes become one instance per item of their list."""
        instances: dict[int, list[int]] = {}
        specs: list[SubtaskSpec] = []
        for node in self.nodes:
            ups = [i for u in node.upstreams for i in _exits(instances[u], self.nodes[u])]
            name = node.name or node.cls.name
            if node.split_key is None:
                specs.append(SubtaskSpec(len(specs), node.cls, name, -1, tuple(ups), node.params))
                instances[node.index] = [len(specs) - 1]
                continue
            items = context.list_map.get(node.split_key) or []
            if not items:
                raise ObcpError(ErrorCode.TASK_CONTEXT_ERROR, f"Illegal split list {node.split_key}")
            made: list[int] = []
            for i in range(len(items)):
                # PARALLEL instances all hang off every upstream; SERIAL ones form a chain.
                deps = ups if (not node.serial or i == 0) else [made[-1]]
                specs.append(SubtaskSpec(len(specs), node.cls, name, i, tuple(deps), node.params))
                made.append(len(specs) - 1)
            instances[node.index] = made
        return specs


def _exits(instances: list[int], node: Node) -> list[int]:
    # Downstreams of a serial fan-out wait for its last instance only; of a parallel one, for all.
    return [instances[-1]] if node.serial else instances


class TemplateBuilder:
    """OCP's TemplateBuilder: `then` chains after the last step; `add` places a step after any steps.

    >>> t = (TemplateBuilder("Restart OB cluster").then(Prepare).then(RestartZone, split_key="zones",
    ...      serial=True).wait().then(Finish).build())
    """

    def __init__(self, name: str) -> None:
        self.name = name
        self._nodes: list[Node] = []
        self._tail: tuple[int, ...] = ()
        self._prohibit_rollback = False

    def add(
        self,
        cls: type[Subtask],
        *,
        after: tuple[int, ...] | list[int] = (),
        split_key: str | None = None,
        serial: bool = False,
        name: str | None = None,
        params: Mapping[str, Any] | None = None,
    ) -> int:
        """A step after the given steps (none: a root); returns its handle for later `after=`."""
        if lookup(cls.key) is not cls:
            raise ValueError(f"subtask class {cls.__qualname__} is not registered (use @register)")
        for up in after:
            if not 0 <= up < len(self._nodes):
                raise ObcpError(ErrorCode.TASK_LOOP)
        frozen = tuple(sorted((str(k), str(v)) for k, v in (params or {}).items()))
        node = Node(len(self._nodes), cls, tuple(after), split_key, serial, name, frozen)
        self._nodes.append(node)
        self._tail = (node.index,)
        return node.index

    def then(
        self, cls: type[Subtask], *, split_key: str | None = None, serial: bool = False
    ) -> TemplateBuilder:
        self.add(cls, after=self._tail, split_key=split_key, serial=serial)
        return self

    def branches(self, *classes: type[Subtask]) -> TemplateBuilder:
        """Steps that run side by side after the current tail; the next `then` waits for all of them."""
        after = self._tail
        self._tail = tuple(self.add(cls, after=after) for cls in classes)
        return self

    def wait(self) -> TemplateBuilder:
        return self.then(WaitNode)

    def prohibit_rollback(self, prohibit: bool = True) -> TemplateBuilder:
        self._prohibit_rollback = prohibit
        return self

    def build(self) -> Template:
        if not self._nodes:
            raise ValueError("a template needs at least one step")
        sorter: graphlib.TopologicalSorter[int] = graphlib.TopologicalSorter()
        for node in self._nodes:
            sorter.add(node.index, *node.upstreams)
        try:
            sorter.prepare()
        except graphlib.CycleError as exc:
            raise ObcpError(ErrorCode.TASK_LOOP) from exc
        return Template(self.name, tuple(self._nodes), self._prohibit_rollback)
