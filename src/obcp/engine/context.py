"""OCP's task Context: `{parallelIdx, stringMap, listMap}`, merged from upstreams, rendered as Java does.

Secrets never leave through it: `sanitized()` masks the values of keys that look secret, as OCP does, and
every rendering for the API or a log uses it.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from obcp.errors import ErrorCode, ObcpError

# Keys whose values differ between upstreams without being a conflict (the engine refreshes them).
MERGE_EXEMPT = frozenset({"latest_execution_start_time", "task_instance_id", "agent_async_task_token_map"})
# Keys the engine adds for the length of a run only.
TRANSIENT_KEYS = frozenset({"task_operation", "sub_task_instance_id"})

_SECRET_KEY = re.compile(
    r"pass(word|wd)?|secret|token|credential|private|(^|[_.\-])key($|[_.\-])|^storage\.", re.I
)
MASK = "******"


@lru_cache(maxsize=4096)
def looks_secret(key: str) -> bool:
    # Cached: a run's context has a few dozen keys, each asked about on every claim, log line and view
    # (bench/fleet: the regular expression was 8 % of the server's CPU at 100 restarts at once).
    return bool(_SECRET_KEY.search(key))


@dataclass
class Context:
    parallel_idx: int = -1
    string_map: dict[str, str] = field(default_factory=dict)
    list_map: dict[str, list[str]] = field(default_factory=dict)

    def copy(self) -> Context:
        return Context(
            self.parallel_idx, dict(self.string_map), {k: list(v) for k, v in self.list_map.items()}
        )

    def get(self, key: str, default: str | None = None) -> str | None:
        return self.string_map.get(key, default)

    def put(self, key: str, value: Any) -> None:
        self.string_map[key] = str(value)

    def put_list(self, key: str, values: list[Any]) -> None:
        self.list_map[key] = [str(v) for v in values]

    def parallel_value(self, list_key: str) -> str:
        """This parallel instance's item of `listMap[list_key]` (OCP's getParallelValue)."""
        values = self.list_map.get(list_key)
        if self.parallel_idx < 0 or values is None or self.parallel_idx >= len(values):
            raise ObcpError(
                ErrorCode.TASK_CONTEXT_ERROR, f"no parallel value {list_key}[{self.parallel_idx}]"
            )
        return values[self.parallel_idx]

    def to_json(self) -> str:
        return json.dumps(
            {"parallelIdx": self.parallel_idx, "stringMap": self.string_map, "listMap": self.list_map},
            sort_keys=True,
            separators=(",", ":"),
        )

    @classmethod
    def from_json(cls, text: str | None) -> Context:
        if not text:
            return cls()
        raw = json.loads(text)
        return cls(
            int(raw.get("parallelIdx", -1)),
            {str(k): str(v) for k, v in (raw.get("stringMap") or {}).items()},
            {str(k): [str(x) for x in v] for k, v in (raw.get("listMap") or {}).items()},
        )

    def sanitized(self) -> Context:
        return Context(
            self.parallel_idx,
            {k: (MASK if looks_secret(k) else v) for k, v in self.string_map.items()},
            {k: ([MASK] if looks_secret(k) else list(v)) for k, v in self.list_map.items()},
        )

    def secret_values(self) -> list[str]:
        """Values a log line must never show (long enough that masking them cannot garble ordinary text)."""
        values = [v for k, v in self.string_map.items() if looks_secret(k) and len(v) >= 4]
        for k, vs in self.list_map.items():
            if looks_secret(k):
                values.extend(v for v in vs if len(v) >= 4)
        return values

    def java_string(self) -> str:
        """`Context(parallelIdx=-1, stringMap={a=b}, listMap={k=[1, 2]})`, sanitized, as OCP's toString()."""
        s = self.sanitized()
        strings = ", ".join(f"{k}={v}" for k, v in s.string_map.items())
        lists = ", ".join(f"{k}=[{', '.join(v)}]" for k, v in s.list_map.items())
        return f"Context(parallelIdx={s.parallel_idx}, stringMap={{{strings}}}, listMap={{{lists}}})"

    def as_json_object(self) -> dict[str, Any]:
        """OCP's Jackson form of a Context (Shape B), sanitized."""
        s = self.sanitized()
        return {
            "listMap": s.list_map,
            "parallel": s.parallel_idx >= 0,
            "parallelIdx": s.parallel_idx,
            "stringMap": s.string_map,
        }


def merge(contexts: list[Context], *, strict: bool = True) -> Context:
    """The input of a subtask with these upstream outputs: stringMaps must agree, listMaps are unioned.
    Not `strict` (an operator skipped the subtask that would have refused them): the last upstream wins."""
    out = Context()
    for ctx in contexts:
        for key, value in ctx.string_map.items():
            if key in TRANSIENT_KEYS:
                continue
            old = out.string_map.get(key)
            if strict and old is not None and old != value and key not in MERGE_EXEMPT:
                raise ObcpError(ErrorCode.TASK_CONTEXT_ERROR, f"found different value for same key {key}")
            out.string_map[key] = value
        for key, values in ctx.list_map.items():
            merged = out.list_map.get(key)
            if merged is None:
                out.list_map[key] = list(values)
            elif merged != values:  # fan-out instances mostly carry the same list: compare before unioning
                known = set(merged)
                merged.extend(v for v in values if v not in known and not known.add(v))  # type: ignore[func-returns-value]
    return out
