"""The signature of a delivery: `X-OBCP-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret,
"<t>.<body>")>`. The timestamp is the attempt's, so a receiver can refuse a replay older than it tolerates;
the body is the same bytes in every attempt."""

from __future__ import annotations

import hashlib
import hmac

HEADER = "X-OBCP-Signature"


def signature(secret: str, timestamp: int, body: bytes) -> str:
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={mac}"
