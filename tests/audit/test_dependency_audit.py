"""The dependency audit's gate, run for real (pip-audit, npm audit) against STAND-IN vulnerability services
on 127.0.0.1 — an OSV API and an npm registry's audit endpoint, each reporting one made-up advisory
(`OBCP-STANDIN-…`), since no real service can be made to report a vulnerability on demand: a known
vulnerability fails the audit, an allow-list entry with a reason lets it through, one without a reason (or
one that matches nothing) fails, and a service that cannot answer is reported as not audited."""

from __future__ import annotations

import json
import shutil
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from tests.audit.dependency_audit import (
    AuditError,
    Report,
    audit_npm,
    audit_python,
    judge,
    read_allowlist,
    verdict,
)

ROOT = Path(__file__).resolve().parents[2]
OSV_ADVISORY = {
    "id": "OBCP-STANDIN-2026-0001",
    "aliases": ["CVE-0000-0001"],
    "summary": "stand-in advisory (test only)",
    "affected": [
        {
            "package": {"name": "idna", "ecosystem": "PyPI"},
            "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "99.0"}]}],
        }
    ],
}
NPM_ADVISORY = {
    "id": 9900001,
    "url": "https://github.com/advisories/GHSA-obcp-stan-d1n0",
    "title": "stand-in advisory (test only)",
    "severity": "high",
    "vulnerable_versions": "<99.0.0",
    "cwe": [],
    "cvss": {"score": 7.5, "vectorString": None},
}


class StandIn(BaseHTTPRequestHandler):
    """STAND-IN vulnerability services: OSV's POST /v1/query and npm's POST …/advisories/bulk."""

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("content-length", 0)))
        if self.path == "/v1/query":
            query = json.loads(body)
            answer: dict[str, object] = (
                {"vulns": [OSV_ADVISORY]} if query["package"]["name"] == "idna" else {}
            )
        elif self.path == "/-/npm/v1/security/advisories/bulk":
            answer = {"prettier": [NPM_ADVISORY]}
        else:
            self.send_error(404)
            return
        data = json.dumps(answer).encode()
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        self.send_error(404)  # package metadata: the audit needs none

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def stand_in() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), StandIn)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def allowlist(tmp_path: Path, python: str = "", npm: str = "") -> Path:
    path = tmp_path / "allowlist.toml"
    path.write_text(f"python = [{python}]\nnpm = [{npm}]\n")
    return path


IDNA_OK = '{id = "CVE-0000-0001", package = "idna", reason = "stand-in: the test says so"}'
PRETTIER_OK = '{id = "GHSA-obcp-stan-d1n0", package = "prettier", reason = "stand-in: a dev tool only"}'


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Pinned Python requirements (one with the stand-in advisory) and a copy of the console's lock file."""
    directory = tmp_path_factory.mktemp("audited")
    (directory / "requirements.txt").write_text("idna==3.10\nsniffio==1.3.1\n")
    for name in ("package.json", "package-lock.json"):
        shutil.copy(ROOT / name, directory / name)
    return directory


def npm() -> str:
    found = shutil.which("npm")
    if found is None:
        pytest.skip("npm is not installed (make setup needs it for the console's linters)")
    return found


@pytest.fixture(scope="module")
def reports(stand_in: str, project: Path) -> list[Report]:
    return [
        audit_python(project / "requirements.txt", f"{stand_in}/v1/query"),
        audit_npm(project, npm(), f"{stand_in}/"),
    ]


def verdict_of(reports: list[Report], path: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    lists = read_allowlist(path)
    code = verdict([judge(r, lists[r.ecosystem]) for r in reports], lists, require_complete=False)
    return code, capsys.readouterr().out


def test_known_vulnerabilities_fail_the_audit(
    reports: list[Report], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """pip-audit and npm audit each find their advisory (`make audit` runs the same through main())."""
    code, out = verdict_of(reports, allowlist(tmp_path), capsys)
    assert code == 1, out
    assert "pip-audit: 2 package(s) audited, 0 not audited" in out
    assert "VULNERABLE idna 3.10: " in out and "OBCP-STANDIN-2026-0001" in out and "(fixed in: 99.0)" in out
    assert "VULNERABLE prettier" in out and "GHSA-obcp-stan-d1n0 (high: stand-in advisory" in out, out
    assert out.endswith("dependency audit: FAILED\n")


def test_the_allow_list_lets_through_only_what_has_a_reason(
    reports: list[Report], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out = verdict_of(reports, allowlist(tmp_path, IDNA_OK, PRETTIER_OK), capsys)
    assert code == 0 and out.endswith("dependency audit: passed\n"), out

    code, out = verdict_of(reports, allowlist(tmp_path, IDNA_OK), capsys)
    assert code == 1 and "VULNERABLE prettier" in out and "VULNERABLE idna" not in out, out

    with pytest.raises(AuditError, match="CVE-0000-0001 has no reason: each entry needs a reason"):
        read_allowlist(allowlist(tmp_path, '{id = "CVE-0000-0001", package = "idna"}'))
    with pytest.raises(AuditError, match="has no reason"):
        read_allowlist(allowlist(tmp_path, npm='{id = "GHSA-x", package = "prettier", reason = " "}'))

    # An entry for an advisory the audit no longer finds has outlived its reason.
    stale = '{id = "CVE-0000-0002", package = "idna", reason = "was needed once"}'
    code, out = verdict_of(reports, allowlist(tmp_path, f"{IDNA_OK}, {stale}", PRETTIER_OK), capsys)
    assert code == 1 and "match nothing any more (remove them): CVE-0000-0002" in out, out


def test_an_audit_that_could_not_look_is_not_a_clean_one(
    stand_in: str, project: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # A registry whose audit endpoint does not answer: nothing audited, said so; a failure when required.
    dead = audit_npm(project, npm(), f"{stand_in}/nowhere/")
    assert dead.audited == 0 and len(dead.not_audited) == 1 and "audit endpoint" in dead.not_audited[0]
    lists = read_allowlist(allowlist(tmp_path))
    assert verdict([judge(dead, [])], lists, require_complete=False) == 0
    assert "INCOMPLETE: 1 not audited" in capsys.readouterr().out
    assert verdict([judge(dead, [])], lists, require_complete=True) == 1
    assert capsys.readouterr().out.endswith("dependency audit: FAILED\n")
    # The same for a vulnerability service that answers errors only (an OSV URL with nothing behind it).
    silent = audit_python(project / "requirements.txt", f"{stand_in}/nowhere")
    assert silent.audited == 0 and "the vulnerability service did not answer" in silent.not_audited[0]


def test_the_repository_allow_list_is_valid() -> None:
    lists = read_allowlist()
    assert set(lists) == {"python", "npm"}
    assert all(entry.reason for entries in lists.values() for entry in entries)
