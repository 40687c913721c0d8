"""The summary of a request kept in an audit event: its method, path, query and JSON body, with the value of
every field whose name looks like a secret (passwords, keys, secrets, tokens, credentials) replaced."""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import parse_qsl

REDACTED = "[redacted]"
# A field name that may carry a secret: rootSysPassword, agentKey, accessKeySecret, privateKey, passphrase...
# A webhook's `headers` are kept out whole: any may be a token under a name of the receiver's choosing.
SECRET_NAME = re.compile(
    r"pass|secret|token|key|credential|private|cookie|authori[sz]ation|signature|^headers$", re.I
)
MAX_SUMMARY_CHARS = 4000
MAX_STRING_CHARS = 256


def redacted(value: Any) -> Any:
    """The JSON value with every secret-named field's value replaced, at any depth."""
    if isinstance(value, dict):
        return {str(k): REDACTED if SECRET_NAME.search(str(k)) else redacted(v) for k, v in value.items()}
    if isinstance(value, list):
        return [redacted(v) for v in value]
    if isinstance(value, str) and len(value) > MAX_STRING_CHARS:
        return value[:MAX_STRING_CHARS] + f"... ({len(value)} characters)"
    return value


def summary(method: str, path: str, query: bytes, body: bytes) -> dict[str, Any]:
    result: dict[str, Any] = {"method": method, "path": path}
    pairs = parse_qsl(query.decode("latin-1"), keep_blank_values=True)
    if pairs:
        result["query"] = redacted(dict(pairs))
    if body:
        try:
            result["body"] = redacted(json.loads(body))
        except (ValueError, UnicodeDecodeError, RecursionError):
            # Not JSON: nothing of it is kept, a secret could be anywhere in it.
            result["body"] = f"({len(body)} bytes, not JSON)"
    return result


def as_text(data: dict[str, Any]) -> str:
    """The summary as stored: JSON, cut to a bounded size (the body goes first)."""
    text = json.dumps(data, sort_keys=True, ensure_ascii=True, separators=(",", ":"))
    if len(text) <= MAX_SUMMARY_CHARS:
        return text
    cut = {k: v for k, v in data.items() if k != "body"}
    cut["body"] = f"(not kept: the summary would be {len(text)} characters)"
    text = json.dumps(cut, sort_keys=True, ensure_ascii=True, separators=(",", ":"))
    return text[:MAX_SUMMARY_CHARS]
