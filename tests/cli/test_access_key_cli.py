"""`obcp accesskey …` and `obcp` signing with OBCP_ACCESS_KEY_ID / OBCP_ACCESS_KEY_SECRET, against a real
`obcp server` process (which verifies each signature as it would any OCP client's)."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from obcp.cli.main import app
from tests.stack import ADMIN_PASSWORD, obcp_server

pytestmark = pytest.mark.slow


def run(url: str, *args: str, **env: str) -> Result:
    full = {k: v for k, v in os.environ.items() if not k.startswith("OBCP_")}
    full.update(OBCP_URL=url, **env)
    return CliRunner().invoke(app, list(args), env=full)


def test_create_then_sign_with_the_key(tmp_path: Path) -> None:
    with obcp_server(tmp_path / "server") as server:
        basic = {"OBCP_USER": "admin", "OBCP_PASSWORD": ADMIN_PASSWORD}
        created = run(server.url, "accesskey", "create", "--description", "from the cli", **basic)
        assert created.exit_code == 0, created.output
        key_id = re.search(r"^AccessKeyId: (\w+)$", created.stdout, re.M)
        secret = re.search(r"^AccessKeySecret: (\w+)$", created.stdout, re.M)
        assert key_id and secret, created.stdout
        signed = {"OBCP_ACCESS_KEY_ID": key_id.group(1), "OBCP_ACCESS_KEY_SECRET": secret.group(1)}
        listed = run(server.url, "accesskey", "list", **signed)  # no password anywhere
        assert listed.exit_code == 0, listed.output
        assert (
            key_id.group(1) in listed.stdout and "ACTIVE" in listed.stdout and "from the cli" in listed.stdout
        )
        assert secret.group(1) not in listed.stdout
        assert run(server.url, "cluster", "list", **signed).exit_code == 0
        # A POST (signed once, with its Date), then the key refuses itself.
        disabled = run(server.url, "accesskey", "disable", key_id.group(1), **signed)
        assert disabled.exit_code == 0 and "DISABLED" in disabled.stdout, disabled.output
        refused = run(server.url, "cluster", "list", **signed)
        assert (
            refused.exit_code == 2
            and "HTTP 401, error 3000" in refused.output
            and "disabled" in refused.output
        )
        assert run(server.url, "accesskey", "enable", key_id.group(1), **basic).exit_code == 0
        theirs = run(server.url, "accesskey", "list", "--user-id", "1", **signed)
        assert theirs.exit_code == 0 and key_id.group(1) in theirs.stdout, theirs.output
        wrong = {**signed, "OBCP_ACCESS_KEY_SECRET": secret.group(1)[::-1]}
        result = run(server.url, "cluster", "list", **wrong)
        assert result.exit_code == 2 and "signature does not match" in result.output
        half = run(server.url, "cluster", "list", OBCP_ACCESS_KEY_ID=key_id.group(1))
        assert half.exit_code != 0 and "OBCP_ACCESS_KEY_SECRET" in half.output
        deleted = run(server.url, "accesskey", "delete", key_id.group(1), **basic)
        assert deleted.exit_code == 0, deleted.output
        log = server.log()
        assert "accessKeys" in log and secret.group(1) not in log
