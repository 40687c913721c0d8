"""The dependency audit of `make audit` (run by `make test`): pip-audit over the locked Python dependencies
(`uv export --frozen`, every extra) and `npm audit` over the console's dev tools (package-lock.json).

A known vulnerability fails, unless tests/audit/allowlist.toml lets it through with a reason. A dependency
that the vulnerability service could not answer for is reported by name and count — an audit that could
not look is never shown as a clean one — and fails with --require-complete (OBCP_AUDIT_REQUIRE_COMPLETE=1).

    python -m tests.audit.dependency_audit --python-requirements FILE [--npm-dir DIR] [--npm NPM]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ALLOWLIST = Path(__file__).with_name("allowlist.toml")
# What pip-audit's traceback says when its vulnerability service cannot be reached or answers an error.
UNREACHABLE = ("ConnectionError", "ConnectTimeout", "ServiceError", "HTTPError")


class AuditError(Exception):
    """The audit cannot be trusted to have run (a bad allow-list, a tool that failed)."""


@dataclass(frozen=True)
class Allowed:
    id: str
    package: str
    reason: str


@dataclass(frozen=True)
class Vulnerability:
    package: str
    version: str
    ids: tuple[str, ...]  # the advisory's id first, then its aliases
    text: str  # how the report names it: fixed versions, severity, title


@dataclass
class Report:
    """What one tool found, before the allow-list: vulnerabilities, and what it could not audit."""

    tool: str
    ecosystem: str
    vulnerabilities: list[Vulnerability] = field(default_factory=list)
    not_audited: list[str] = field(default_factory=list)
    audited: int = 0


@dataclass
class Findings:
    """A report judged by the allow-list: what is not allowed, and the allow-list entries that matched."""

    report: Report
    vulnerable: list[str]
    allowed_used: set[str]


def read_allowlist(path: Path = ALLOWLIST) -> dict[str, list[Allowed]]:
    try:
        raw = tomllib.loads(path.read_text())
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise AuditError(f"{path}: {exc}") from exc
    lists: dict[str, list[Allowed]] = {}
    for ecosystem in ("python", "npm"):
        entries = raw.get(ecosystem, [])
        if not isinstance(entries, list):
            raise AuditError(f"{path}: [{ecosystem}] must be a list of entries")
        lists[ecosystem] = [_entry(path, ecosystem, e) for e in entries]
    return lists


def _entry(path: Path, ecosystem: str, entry: Any) -> Allowed:
    if not isinstance(entry, dict):
        raise AuditError(f"{path}: an entry of {ecosystem} is not a table")
    values = {k: str(entry.get(k, "")).strip() for k in ("id", "package", "reason")}
    missing = [k for k, v in values.items() if not v]
    if missing:
        what = values["id"] or "an entry"
        raise AuditError(
            f"{path}: {ecosystem} {what} has no {' and no '.join(missing)}: each entry needs a reason"
        )
    return Allowed(**values)


def audit_python(requirements: Path, osv_url: str | None = None) -> Report:
    """pip-audit over pinned requirements, without resolving or installing anything (--no-deps)."""
    report = Report("pip-audit", "python")
    with tempfile.TemporaryDirectory() as tmp:
        output = Path(tmp) / "report.json"
        argv = [str(Path(sys.executable).parent / "pip-audit"), "-r", str(requirements), "--no-deps"]
        argv += ["--disable-pip", "--progress-spinner", "off", "-f", "json", "-o", str(output)]
        if osv_url:
            argv += ["-s", "osv", "--osv-url", osv_url]
        done = subprocess.run(argv, capture_output=True, text=True, timeout=600, check=False)
        if not output.exists():
            last = (done.stderr.strip().splitlines() or ["no output"])[-1]
            if any(word in done.stderr for word in UNREACHABLE):
                # The service did not answer at all: nothing was audited, which is said, not failed on.
                report.not_audited.append(f"every package: the vulnerability service did not answer: {last}")
                return report
            raise AuditError(f"pip-audit failed ({done.returncode}): {done.stderr.strip()[-2000:]}")
        data = json.loads(output.read_text())
    for dep in data.get("dependencies", []):
        name, version = dep["name"], dep.get("version", "?")
        if "skip_reason" in dep:
            report.not_audited.append(f"{name}: {dep['skip_reason']}")
            continue
        report.audited += 1
        for vuln in dep.get("vulns", []):
            ids = (vuln["id"], *vuln.get("aliases", []))
            fixes = ", ".join(vuln.get("fix_versions", [])) or "none yet"
            report.vulnerabilities.append(Vulnerability(name, version, ids, f"fixed in: {fixes}"))
    return report


def audit_npm(directory: Path, npm: str = "npm", registry: str | None = None) -> Report:
    """npm audit of package-lock.json alone: node_modules need not exist, nothing is installed."""
    report = Report("npm audit", "npm")
    argv = [npm, "audit", "--package-lock-only", "--json"]
    if registry:
        argv.append(f"--registry={registry}")
    done = subprocess.run(argv, cwd=directory, capture_output=True, text=True, timeout=300, check=False)
    try:
        data = json.loads(done.stdout)
    except ValueError as exc:
        raise AuditError(f"npm audit failed ({done.returncode}): {done.stderr.strip()[-2000:]}") from exc
    if "error" in data or "message" in data:
        # The registry did not answer the audit (its audit endpoint is down or refuses): nothing was checked.
        reason = data.get("message") or data.get("error", {}).get("summary") or "no answer"
        report.not_audited.append(f"all of package-lock.json: the registry's audit endpoint: {reason}")
        return report
    report.audited = int(data.get("metadata", {}).get("dependencies", {}).get("total", 0))
    for name, entry in data.get("vulnerabilities", {}).items():
        for via in entry.get("via", []):
            if not isinstance(via, dict):
                continue  # vulnerable through another package, which is reported under its own name
            advisory = str(via.get("url", "")).rsplit("/", 1)[-1] or str(via.get("source"))
            text = f"{via.get('severity', '')}: {via.get('title', '')}"
            report.vulnerabilities.append(Vulnerability(name, via.get("range", ""), (advisory,), text))
    return report


def judge(report: Report, allowed: list[Allowed]) -> Findings:
    by_package = {(a.package.lower(), a.id) for a in allowed}
    vulnerable: list[str] = []
    used: set[str] = set()
    for v in report.vulnerabilities:
        hit = next((i for i in v.ids if (v.package.lower(), i) in by_package), None)
        if hit is not None:
            used.add(hit)
        else:
            vulnerable.append(f"{v.package} {v.version}: {' / '.join(v.ids)} ({v.text})")
    return Findings(report, vulnerable, used)


def verdict(findings: list[Findings], allowlist: dict[str, list[Allowed]], require_complete: bool) -> int:
    failed = False
    for found in findings:
        report = found.report
        print(f"{report.tool}: {report.audited} package(s) audited, {len(report.not_audited)} not audited")
        for line in found.vulnerable:
            print(f"  VULNERABLE {line}")
            failed = True
        stale = [a.id for a in allowlist[report.ecosystem] if a.id not in found.allowed_used]
        if stale and not report.not_audited:
            print(f"  allow-list entries that match nothing any more (remove them): {', '.join(stale)}")
            failed = True
        if report.not_audited:
            print(f"  NOT AUDITED ({len(report.not_audited)}): the vulnerability service did not answer for:")
            for line in report.not_audited[:5]:
                print(f"    {line}")
            if len(report.not_audited) > 5:
                print(f"    … and {len(report.not_audited) - 5} more")
            failed = failed or require_complete
    missing = sum(len(f.report.not_audited) for f in findings)
    if failed:
        print("dependency audit: FAILED")
    elif missing:
        # Not a clean bill: said so on the last line, where a reader of `make test` looks.
        print(
            f"dependency audit: no known vulnerability found, but INCOMPLETE: {missing} not audited "
            "(OBCP_AUDIT_REQUIRE_COMPLETE=1 makes that a failure)"
        )
    else:
        print("dependency audit: passed")
    return 1 if failed else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--python-requirements", type=Path, required=True)
    parser.add_argument("--npm-dir", type=Path, help="where package-lock.json is; omitted: no npm audit")
    parser.add_argument("--npm", default="npm")
    parser.add_argument("--allowlist", type=Path, default=ALLOWLIST)
    parser.add_argument("--osv-url", help="audit against this OSV API instead of PyPI's")
    parser.add_argument("--npm-registry", help="the registry whose audit endpoint npm asks")
    parser.add_argument(
        "--require-complete",
        action="store_true",
        default=os.environ.get("OBCP_AUDIT_REQUIRE_COMPLETE") == "1",
        help="fail when a dependency could not be audited",
    )
    args = parser.parse_args(argv)
    try:
        allowlist = read_allowlist(args.allowlist)
        reports = [audit_python(args.python_requirements, args.osv_url)]
        if args.npm_dir is not None:
            reports.append(audit_npm(args.npm_dir, args.npm, args.npm_registry))
    except AuditError as exc:
        print(f"dependency audit: FAILED: {exc}")
        return 1
    findings = [judge(r, allowlist[r.ecosystem]) for r in reports]
    return verdict(findings, allowlist, args.require_complete)


if __name__ == "__main__":
    sys.exit(main())
