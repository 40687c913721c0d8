"""Static pages served by `obcp server` (no build step, no external CDN)."""

from __future__ import annotations

from importlib import resources


def page(name: str) -> str:
    return resources.files(__package__).joinpath(name).read_text(encoding="utf-8")
