"""OCP paging: `page` (1-based), `size` (1..2000, default 10) and `sort=field,asc|desc`."""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import Query
from sqlalchemy import ColumnElement, Select

from obcp.api.envelope import Page
from obcp.errors import ErrorCode, ObcpError

MAX_PAGE_SIZE = 2000


@dataclass(frozen=True)
class PageQuery:
    page: int
    size: int
    sort: str | None

    @property
    def offset(self) -> int:
        return (self.page - 1) * self.size

    def result_page(self, total: int) -> Page:
        return Page(number=self.page, size=self.size, total_elements=total)

    def apply(
        self,
        query: Select,  # type: ignore[type-arg]
        allowed: dict[str, ColumnElement],  # type: ignore[type-arg]
        default: ColumnElement,  # type: ignore[type-arg]
    ) -> Select:  # type: ignore[type-arg]
        """Order (validated against `allowed`), then limit/offset; the id breaks ties so pages are stable."""
        order = [default]
        if self.sort:
            field, _, direction = self.sort.partition(",")
            field, direction = field.strip(), (direction.strip().lower() or "asc")
            if field not in allowed:
                raise ObcpError(ErrorCode.SORT_FIELD_UNSUPPORTED, field or "(empty)")
            if direction not in ("asc", "desc"):
                raise ObcpError(ErrorCode.ILLEGAL_ARGUMENT, f"sort direction {direction!r} (use asc or desc)")
            column = allowed[field]
            order = [column.desc() if direction == "desc" else column.asc(), default]
        return query.order_by(*order).limit(self.size).offset(self.offset)


async def page_query(
    page: int = Query(1, description="page number, from 1"),
    size: int = Query(10, description=f"entries per page, at most {MAX_PAGE_SIZE}"),
    sort: str | None = Query(None, description="field,asc or field,desc", max_length=100),
) -> PageQuery:
    if page < 1 or page > 10_000_000:
        raise ObcpError(ErrorCode.ILLEGAL_ARGUMENT, f"page (got {page}; pages start at 1)")
    if size < 1 or size > MAX_PAGE_SIZE:
        raise ObcpError(ErrorCode.ILLEGAL_ARGUMENT, f"size (got {size}; from 1 to {MAX_PAGE_SIZE})")
    return PageQuery(page, size, sort)
