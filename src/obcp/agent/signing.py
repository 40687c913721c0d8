"""HMAC-SHA256 request signatures shared by the agent (verifier) and the server's agent client (signer).

The signed string binds the method, the path with its query, a timestamp, a nonce and the body's SHA-256,
so a captured request cannot be replayed later, replayed now, aimed at another path or given another body;
and, when the request carries one, the traceId of the API call it serves (`X-OCP-Trace-ID`), so nobody can
attach another call's traceId to it in the agent's logs.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass

from obcp.tracing import TRACE_HEADER

TIMESTAMP_HEADER = "X-Obcp-Timestamp"
NONCE_HEADER = "X-Obcp-Nonce"
SIGNATURE_HEADER = "X-Obcp-Signature"
MAX_SKEW_SECONDS = 300


def canonical_request(
    method: str, path_with_query: str, timestamp: str, nonce: str, body: bytes, trace_id: str = ""
) -> bytes:
    body_hash = hashlib.sha256(body).hexdigest()
    # A request without a traceId signs the same five lines as before the traceId was added.
    lines = [method.upper(), path_with_query, timestamp, nonce, body_hash] + ([trace_id] if trace_id else [])
    return "\n".join(lines).encode()


def sign(
    key: bytes, method: str, path_with_query: str, timestamp: str, nonce: str, body: bytes, trace_id: str = ""
) -> str:
    message = canonical_request(method, path_with_query, timestamp, nonce, body, trace_id)
    return hmac.new(key, message, hashlib.sha256).hexdigest()


def signature_headers(
    key: bytes, method: str, path_with_query: str, body: bytes, trace_id: str = ""
) -> dict[str, str]:
    timestamp = str(int(time.time()))
    nonce = secrets.token_hex(16)
    headers = {
        TIMESTAMP_HEADER: timestamp,
        NONCE_HEADER: nonce,
        SIGNATURE_HEADER: sign(key, method, path_with_query, timestamp, nonce, body, trace_id),
    }
    if trace_id:
        headers[TRACE_HEADER] = trace_id
    return headers


@dataclass(frozen=True)
class Rejection:
    code: str
    message: str


class NonceCache:
    """Nonces seen within the timestamp window; older ones can no longer pass the timestamp check."""

    def __init__(self, ttl: float = 2 * MAX_SKEW_SECONDS, max_entries: int = 200_000) -> None:
        self._ttl = ttl
        self._max = max_entries
        self._seen: OrderedDict[str, float] = OrderedDict()
        self._lock = threading.Lock()

    def add(self, nonce: str, now: float) -> bool:
        """Record the nonce; False if it was already seen."""
        with self._lock:
            # Past max_entries the oldest nonces go early: a bound on memory that only an authenticated
            # caller sending ~300 requests a second could reach.
            while self._seen:
                oldest, at = next(iter(self._seen.items()))
                if at > now - self._ttl and len(self._seen) < self._max:
                    break
                del self._seen[oldest]
            if nonce in self._seen:
                return False
            self._seen[nonce] = now
            return True


class RequestVerifier:
    def __init__(self, key: bytes, nonces: NonceCache | None = None) -> None:
        self._key = key
        self._nonces = nonces or NonceCache()

    def verify(
        self,
        method: str,
        path_with_query: str,
        headers: dict[str, str],
        body: bytes,
        now: float | None = None,
    ) -> Rejection | None:
        """None when the request is authentic; otherwise why it is not."""
        now = time.time() if now is None else now
        timestamp = headers.get(TIMESTAMP_HEADER.lower())
        nonce = headers.get(NONCE_HEADER.lower())
        signature = headers.get(SIGNATURE_HEADER.lower())
        if not timestamp or not nonce or not signature:
            return Rejection(
                "missing_signature",
                f"the request is not signed: headers {TIMESTAMP_HEADER}, {NONCE_HEADER} and "
                f"{SIGNATURE_HEADER} are required",
            )
        try:
            stamp = int(timestamp)
        except ValueError:
            return Rejection("bad_timestamp", f"{TIMESTAMP_HEADER} must be integer Unix seconds")
        if abs(now - stamp) > MAX_SKEW_SECONDS:
            return Rejection(
                "stale_timestamp",
                f"the request timestamp is {int(now - stamp)} s away from the agent's clock "
                f"(allowed: ±{MAX_SKEW_SECONDS} s); check the clocks or resend",
            )
        if not 8 <= len(nonce) <= 128:
            return Rejection("bad_nonce", f"{NONCE_HEADER} must be 8 to 128 characters")
        trace_id = headers.get(TRACE_HEADER.lower(), "")
        expected = sign(self._key, method, path_with_query, timestamp, nonce, body, trace_id)
        if not hmac.compare_digest(expected, signature.lower()):
            return Rejection(
                "bad_signature",
                "the signature does not match this request (method, path and query, timestamp, nonce, "
                "body) under this host's agent key",
            )
        # Recorded only once authentic, so nobody can burn nonces of requests they cannot sign.
        if not self._nonces.add(nonce, now):
            return Rejection("replayed_nonce", "this nonce was already used: the request is a replay")
        return None
