"""Fast checks without processes: the signature verifier and the base dir rules."""

from __future__ import annotations

from pathlib import Path

import pytest

from obcp.agent.base_dir_check import INIT_MARKER, is_first_start
from obcp.agent.errors import ObserverOperationError
from obcp.agent.signing import NonceCache, RequestVerifier, signature_headers

KEY = b"unit-test-key-0123456789"


def lower(headers: dict[str, str]) -> dict[str, str]:
    return {k.lower(): v for k, v in headers.items()}


def test_verifier_accepts_once_and_binds_every_part() -> None:
    verifier = RequestVerifier(KEY)
    headers = lower(signature_headers(KEY, "POST", "/v1/observers/a/start?x=1", b'{"initialize":true}'))
    for method, path, body in [
        ("GET", "/v1/observers/a/start?x=1", b'{"initialize":true}'),
        ("POST", "/v1/observers/b/start?x=1", b'{"initialize":true}'),
        ("POST", "/v1/observers/a/start?x=2", b'{"initialize":true}'),
        ("POST", "/v1/observers/a/start?x=1", b'{"initialize":false}'),
    ]:
        rejection = verifier.verify(method, path, headers, body)
        assert rejection is not None and rejection.code == "bad_signature"
    assert verifier.verify("POST", "/v1/observers/a/start?x=1", headers, b'{"initialize":true}') is None
    again = verifier.verify("POST", "/v1/observers/a/start?x=1", headers, b'{"initialize":true}')
    assert again is not None and again.code == "replayed_nonce"


def test_verifier_window_and_missing_headers() -> None:
    verifier = RequestVerifier(KEY)
    headers = lower(signature_headers(KEY, "GET", "/v1/info", b""))
    stamp = int(headers["x-obcp-timestamp"])
    assert verifier.verify("GET", "/v1/info", headers, b"", now=stamp + 301) is not None
    assert verifier.verify("GET", "/v1/info", headers, b"", now=stamp - 301) is not None
    assert verifier.verify("GET", "/v1/info", {}, b"").code == "missing_signature"  # type: ignore[union-attr]
    bad = {**headers, "x-obcp-timestamp": "soon"}
    assert verifier.verify("GET", "/v1/info", bad, b"").code == "bad_timestamp"  # type: ignore[union-attr]


def test_nonce_cache_forgets_only_after_the_window() -> None:
    cache = NonceCache(ttl=600)
    assert cache.add("n1", now=1000.0)
    assert not cache.add("n1", now=1500.0)
    assert cache.add("n1", now=1601.0)  # outside the window a replay fails the timestamp check anyway


def test_base_dir_rules(tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    with pytest.raises(ObserverOperationError) as caught:
        is_first_start(empty, initialize=False)
    assert caught.value.code == "not_initialised"
    assert is_first_start(empty, initialize=True) is True

    data = tmp_path / "data"
    (data / "store" / "sstable").mkdir(parents=True)
    (data / "store" / "sstable" / "meta.db").write_text("x")
    assert is_first_start(data, initialize=False) is False
    assert is_first_start(data, initialize=True) is False, "initialised data is never bootstrapped again"

    partial = tmp_path / "partial"
    (partial / "etc").mkdir(parents=True)
    for initialize in (False, True):
        with pytest.raises(ObserverOperationError) as caught:
            is_first_start(partial, initialize=initialize)
        assert caught.value.code == "data_incomplete"

    crashed = tmp_path / "crashed"
    (crashed / "store" / "sstable").mkdir(parents=True)
    (crashed / "store" / "sstable" / "meta.db").write_text("x")
    (crashed / INIT_MARKER).write_text("")
    with pytest.raises(ObserverOperationError) as caught:
        is_first_start(crashed, initialize=False)
    assert caught.value.code == "init_incomplete"
    assert is_first_start(crashed, initialize=True) is True
