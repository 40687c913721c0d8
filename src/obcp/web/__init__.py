"""Static pages served by `obcp server` (no build step, no external CDN)."""

from __future__ import annotations

import mimetypes
from importlib import resources

# The console's scripts are ES modules, which browsers run only when served with a JavaScript MIME type.
# Static files take their type from `mimetypes`, which a machine's own tables (a Windows registry entry,
# an odd /etc/mime.types) may map to text/plain for .js; this pins it for the whole process.
mimetypes.add_type("text/javascript", ".js")


def page(name: str) -> str:
    return resources.files(__package__).joinpath(name).read_text(encoding="utf-8")
