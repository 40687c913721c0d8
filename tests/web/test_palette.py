"""The console's palette, read from console.css itself: health and task states each have their colours,
every badge spells its state out (colour is never the only signal), and each badge's text meets WCAG AA
contrast (4.5:1, the badges' text is small) against its background."""

from __future__ import annotations

import re
from pathlib import Path

CSS = Path(__file__).resolve().parents[2] / "src/obcp/web/static/console.css"
AA_SMALL_TEXT = 4.5
TASK_STATES = ["PENDING", "READY", "RUNNING", "CANCELING", "FAILED", "SUCCESSFUL"]
HEALTH_TONES = ["ok", "progress", "trouble", "idle"]


def _rules(css: str) -> dict[str, dict[str, str]]:
    """selector → its declarations (comments dropped; a selector list counts for each selector)."""
    css = re.sub(r"/\*.*?\*/", "", css, flags=re.S)
    rules: dict[str, dict[str, str]] = {}
    for selectors, body in re.findall(r"([^{}]+)\{([^{}]*)\}", css):
        decls = {k.strip(): v.strip() for k, v in (d.split(":", 1) for d in body.split(";") if ":" in d)}
        for sel in selectors.split(","):
            rules.setdefault(sel.strip(), {}).update(decls)
    return rules


def _resolve(value: str, variables: dict[str, str]) -> str:
    while (m := re.fullmatch(r"var\((--[\w-]+)\)", value.strip())) is not None:
        value = variables[m.group(1)]
    return value.strip()


def _luminance(hex_colour: str) -> float:
    h = hex_colour.lstrip("#")
    if len(h) == 3:
        h = "".join(c * 2 for c in h)
    channels = [int(h[i : i + 2], 16) / 255 for i in (0, 2, 4)]
    lin = [c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * lin[0] + 0.7152 * lin[1] + 0.0722 * lin[2]


def contrast(a: str, b: str) -> float:
    la, lb = sorted((_luminance(a), _luminance(b)), reverse=True)
    return (la + 0.05) / (lb + 0.05)


def _badge(rules: dict[str, dict[str, str]], base: str, cls: str) -> tuple[str, str, str]:
    """(text colour, background, the mark before the text) of a badge, its base rule under its own."""
    variables = rules[":root"]
    decls = {**rules[base], **rules[f"{base}.{cls}"]}
    mark = rules.get(f"{base}.{cls}::before", {}).get("content", "")
    fg = _resolve(decls.get("color", "#fff"), variables)
    bg = _resolve(decls["background"], variables)
    return fg, bg, mark


def test_wcag_contrast_of_the_reference_pairs() -> None:
    assert round(contrast("#000", "#fff"), 1) == 21.0
    assert round(contrast("#777777", "#ffffff"), 2) == 4.48


def test_every_task_state_badge_meets_aa_and_carries_a_mark() -> None:
    rules = _rules(CSS.read_text())
    marks = set()
    for state in TASK_STATES:
        fg, bg, mark = _badge(rules, ".state", state)
        assert contrast(fg, bg) >= AA_SMALL_TEXT, (state, fg, bg, contrast(fg, bg))
        assert mark not in ("", '""'), f"{state} has no mark of its own"
        marks.add(mark)
    assert len(marks) == len(TASK_STATES), "two task states share a mark"


def test_every_health_badge_meets_aa_and_differs_from_the_task_badges() -> None:
    rules = _rules(CSS.read_text())
    tones = {tone: _badge(rules, ".health", tone) for tone in HEALTH_TONES}
    for tone, (fg, bg, mark) in tones.items():
        assert contrast(fg, bg) >= AA_SMALL_TEXT, (tone, fg, bg, contrast(fg, bg))
        assert mark not in ("", '""'), tone
    assert len({bg for _, bg, _ in tones.values()}) == len(HEALTH_TONES)
    # A healthy server must not look like a running task: other background, other mark.
    _, running_bg, running_mark = _badge(rules, ".state", "RUNNING")
    _, ok_bg, ok_mark = tones["ok"]
    assert ok_bg != running_bg and ok_mark != running_mark
    # …and one meaning keeps one colour: in progress is the same hue for a task and a restarting zone.
    variables = rules[":root"]
    assert _resolve("var(--s-running)", variables) == _resolve("var(--progress)", variables)
    assert _resolve("var(--s-successful)", variables) == _resolve("var(--ok)", variables)
    assert _resolve("var(--s-failed)", variables) == _resolve("var(--trouble)", variables)
