"""What kind of OceanBase answers on a session, asked of the server itself (never configured).

Distributed OceanBase 4.x has `oceanbase.DBA_OB_SERVERS` in the sys tenant; a standalone server (seekdb,
single-node OceanBase) has not, and reports itself in `version()` as e.g. `5.7.25-OceanBase seekdb-v1.4.0.0`
with `@@version_comment` `OceanBase 4.3.5.3 seekdb (r1.4.0.0) ...`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import Enum

from obcp.ob.errors import ER_NO_SUCH_TABLE, ObSqlError
from obcp.ob.executor import SqlExecutor

VERSION_SQL = "SELECT version() AS VERSION, @@version_comment AS VERSION_COMMENT"
HAS_SERVERS_VIEW_SQL = "SELECT COUNT(*) AS N FROM oceanbase.DBA_OB_SERVERS"

_KERNEL_VERSION = re.compile(r"OceanBase(?:[ _]CE)?[ -]v?(\d+(?:\.\d+){1,4})", re.IGNORECASE)
_PRODUCT_VERSION = re.compile(r"-v(\d+(?:\.\d+){1,4})\s*$")
_ANY_VERSION = re.compile(r"(\d+(?:\.\d+){1,4})")


class ObKind(Enum):
    DISTRIBUTED = "DISTRIBUTED"
    STANDALONE = "STANDALONE"


@dataclass(frozen=True)
class ObCapability:
    """`version` is `version()` verbatim; `parsed_version` is the product's own version (seekdb's for
    seekdb, OceanBase's otherwise); `kernel_version` is the OceanBase kernel from `@@version_comment`."""

    kind: ObKind
    version: str
    parsed_version: tuple[int, ...]
    product: str
    kernel_version: tuple[int, ...]
    version_comment: str

    @property
    def distributed(self) -> bool:
        return self.kind is ObKind.DISTRIBUTED

    @property
    def version_text(self) -> str:
        return ".".join(str(p) for p in self.parsed_version)


def parse_product(version: str, comment: str) -> tuple[str, tuple[int, ...], tuple[int, ...]]:
    """(product, product version, kernel version) from `version()` and `@@version_comment`."""
    product = "seekdb" if "seekdb" in version.lower() or "seekdb" in comment.lower() else "OceanBase"
    kernel = _first_version(_KERNEL_VERSION, comment) or _first_version(_KERNEL_VERSION, version)
    own = _first_version(_PRODUCT_VERSION, version)
    if product == "OceanBase":
        own = kernel or own
    return product, own or kernel or _first_version(_ANY_VERSION, version), kernel or own


def _first_version(pattern: re.Pattern[str], text: str) -> tuple[int, ...]:
    m = pattern.search(text)
    return tuple(int(p) for p in m.group(1).split(".")) if m else ()


async def detect_capability(ex: SqlExecutor) -> ObCapability:
    rows = await ex.query(VERSION_SQL)
    version = str(rows[0]["VERSION"]) if rows else ""
    comment = str(rows[0].get("VERSION_COMMENT") or "") if rows else ""
    product, own, kernel = parse_product(version, comment)
    try:
        await ex.query(HAS_SERVERS_VIEW_SQL)
        kind = ObKind.DISTRIBUTED
    except ObSqlError as exc:
        # 1146 is the only answer that means "no such view"; anything else (timeout, lost session)
        # must not turn a distributed cluster into a standalone one.
        if exc.errno != ER_NO_SUCH_TABLE:
            raise
        kind = ObKind.STANDALONE
    return ObCapability(kind, version, own, product, kernel, comment)
