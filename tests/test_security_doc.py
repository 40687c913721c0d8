"""docs/security.md names the test behind each control: every test file and test it names exists, and every
control row names at least one, so the page cannot point at a test that was renamed or removed."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "security.md"
REFERENCE = re.compile(r"`(tests/[\w/]+\.py)(?:::(\w+))?")


def test_every_named_test_exists() -> None:
    text = DOC.read_text()
    references = REFERENCE.findall(text)
    assert len(references) >= 20, references
    for path, name in references:
        source = ROOT / path
        assert source.is_file(), path
        if name:
            assert re.search(rf"^(async )?def {name}\(", source.read_text(), re.M), f"{path}::{name}"


def test_every_control_names_its_test() -> None:
    section = DOC.read_text().split("## Controls and their tests", 1)[1].split("\n### ", 1)[0]
    rows = [line for line in section.splitlines() if line.startswith("| **")]
    assert len(rows) >= 15
    for row in rows:
        assert REFERENCE.search(row.rsplit("|", 2)[-2]), row[:80]
