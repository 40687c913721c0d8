"""The process's log lines, one per event: plain text (the default) or one JSON object per line
(`OBCP_LOG_FORMAT=json`), each with the traceId of the API call that caused it and, in a subtask run, the
task id, subtask id and run (from `obcp.tracing`). Used by `obcp server` and the agent alike."""

from __future__ import annotations

import json
import logging
import os
from datetime import UTC, datetime
from typing import Any

from obcp.tracing import run_fields_var, trace_id_var

FORMATS = ("text", "json")


def context_fields() -> dict[str, Any]:
    """`traceId` and, in a subtask run, `taskId`, `subtaskId` and `run`: read when the line is formatted,
    which a stream handler does in the code that logs (so in its context)."""
    fields: dict[str, Any] = {}
    trace_id = trace_id_var.get()
    if trace_id:
        fields["traceId"] = trace_id
    run = run_fields_var.get()
    if run is not None:
        fields.update(taskId=run.task_id, subtaskId=run.subtask_id, run=run.run)
    return fields


class TextFormatter(logging.Formatter):
    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s%(where)s %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        fields = context_fields()
        where = " ".join(f"{k}={v}" for k, v in fields.items())
        record.where = f" [{where}]" if where else ""
        # One event, one line: a traceback or a multi-line message is escaped, not split.
        return super().format(record).replace("\n", "\\n")


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            **context_fields(),
        }
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, ensure_ascii=False, sort_keys=True)


def log_format(value: str | None = None) -> str:
    chosen = (value or os.environ.get("OBCP_LOG_FORMAT") or "text").lower()
    if chosen not in FORMATS:
        raise ValueError(f"OBCP_LOG_FORMAT must be one of {', '.join(FORMATS)}, got {chosen!r}")
    return chosen


def configure(level: str, fmt: str | None = None) -> None:
    """The root handler on stderr, and uvicorn's loggers through it (so its lines carry the traceId too)."""
    handler = logging.StreamHandler()
    handler.setFormatter(JsonFormatter() if log_format(fmt) == "json" else TextFormatter())
    root = logging.getLogger()
    root.handlers = [handler]
    root.setLevel(level.upper())
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        uv = logging.getLogger(name)
        uv.handlers = []
        uv.propagate = True
