"""Log lines: one per event, text or JSON, with the traceId and, inside a subtask run, its task, subtask and
run; and the traceId in the signature of an agent call."""

from __future__ import annotations

import json
import logging

import pytest

from obcp import logformat, tracing
from obcp.agent.signing import RequestVerifier, signature_headers


def record(message: str, exc: bool = False) -> logging.LogRecord:
    exc_info = None
    if exc:
        try:
            raise RuntimeError("boom\nsecond line")
        except RuntimeError:
            import sys

            exc_info = sys.exc_info()
    return logging.LogRecord("obcp.test", logging.INFO, __file__, 1, message, None, exc_info)


def test_json_lines_carry_the_trace_and_the_run() -> None:
    fmt = logformat.JsonFormatter()
    assert "traceId" not in json.loads(fmt.format(record("outside")))
    token = tracing.trace_id_var.set("abc123")
    try:
        line = json.loads(fmt.format(record("in a request")))
        assert line["traceId"] == "abc123" and "taskId" not in line
    finally:
        tracing.trace_id_var.reset(token)
    bound = tracing.bind_run("def456", 7, 42, 2)
    try:
        text = fmt.format(record("in a run\nwith two lines", exc=True))
    finally:
        tracing.unbind(bound)
    assert "\n" not in text  # one event, one line
    line = json.loads(text)
    assert (line["traceId"], line["taskId"], line["subtaskId"], line["run"]) == ("def456", 7, 42, 2)
    assert line["message"] == "in a run\nwith two lines" and "RuntimeError: boom" in line["exception"]
    assert tracing.trace_id_var.get() == "" and tracing.run_fields_var.get() is None


def test_text_lines_carry_them_in_brackets() -> None:
    fmt = logformat.TextFormatter()
    bound = tracing.bind_run("def456", 7, 42, 1)
    try:
        text = fmt.format(record("a\nb", exc=True))
    finally:
        tracing.unbind(bound)
    assert "obcp.test [traceId=def456 taskId=7 subtaskId=42 run=1] a\\nb" in text
    assert "\n" not in text
    assert "[" not in fmt.format(record("plain"))


def test_the_log_format_setting_is_checked(monkeypatch: pytest.MonkeyPatch) -> None:
    assert logformat.log_format("JSON") == "json"
    monkeypatch.setenv("OBCP_LOG_FORMAT", "json")
    assert logformat.log_format() == "json"
    with pytest.raises(ValueError, match="text, json"):
        logformat.log_format("xml")


def test_the_trace_id_is_signed() -> None:
    key = b"k" * 32
    headers = signature_headers(key, "GET", "/v1/info", b"", "trace-1")
    assert headers[tracing.TRACE_HEADER] == "trace-1"
    lower = {k.lower(): v for k, v in headers.items()}
    assert RequestVerifier(key).verify("GET", "/v1/info", lower, b"") is None
    # Another traceId on the same signed request, or one added to a request signed without: refused.
    forged = {**lower, tracing.TRACE_HEADER.lower(): "trace-2"}
    rejection = RequestVerifier(key).verify("GET", "/v1/info", forged, b"")
    assert rejection is not None and rejection.code == "bad_signature"
    plain = {k.lower(): v for k, v in signature_headers(key, "GET", "/v1/info", b"").items()}
    assert tracing.TRACE_HEADER.lower() not in plain
    added = {**plain, tracing.TRACE_HEADER.lower(): "trace-3"}
    rejection = RequestVerifier(key).verify("GET", "/v1/info", added, b"")
    assert rejection is not None and rejection.code == "bad_signature"
    assert tracing.valid_trace_id("ok-123") == "ok-123"
    assert tracing.valid_trace_id("bad id\n") == "" and tracing.valid_trace_id("x" * 65) == ""
