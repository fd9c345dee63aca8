"""Paging and sorting of list queries, shared by every list endpoint."""

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from sqlalchemy import ColumnElement, Select, func, select
from sqlalchemy.orm import Session

from relhealth.core.errors import InvalidInput

DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 500
# The arguments of flask-smorest's ``@blp.paginate`` on every list endpoint.
PAGING = {"page_size": DEFAULT_PAGE_SIZE, "max_page_size": MAX_PAGE_SIZE}


def sorted_by(
    stmt: Select,
    sort: Sequence[str],
    columns: Mapping[str, ColumnElement],
    tiebreak: ColumnElement,
) -> Select:
    """Order ``stmt`` by sort keys like ``["tier", "-annual_value"]`` (``-`` for descending).

    Unknown keys raise InvalidInput naming the allowed ones. ``tiebreak`` (usually the primary
    key) comes last so pages are stable.
    """
    clauses = []
    for key in sort:
        column = columns.get(key.removeprefix("-"))
        if column is None:
            allowed = ", ".join(sorted(columns))
            raise InvalidInput.on(
                "sort", f"Cannot sort by {key!r}; use one of: {allowed}.", location="query"
            )
        clauses.append(column.desc() if key.startswith("-") else column.asc())
    return stmt.order_by(*clauses, tiebreak)


def page_of(session: Session, stmt: Select, page: int, page_size: int) -> tuple[list, int]:
    """One page of ``stmt``'s rows (1-based ``page``) and the total row count."""
    total = session.scalar(select(func.count()).select_from(stmt.order_by(None).subquery())) or 0
    offset = (page - 1) * page_size
    if offset >= total:  # past the end; also keeps a huge page number out of the database
        return [], total
    rows = session.scalars(stmt.limit(page_size).offset(offset)).all()
    return list(rows), total


def paged(pagination_parameters: Any, fetch: Callable[[int, int], tuple[list, int]]) -> list:
    """Run ``fetch(page, page_size)`` for a paginated endpoint and report its total.

    flask-smorest turns ``item_count`` into the ``X-Pagination`` header.
    """
    items, total = fetch(pagination_parameters.page, pagination_parameters.page_size)
    pagination_parameters.item_count = total
    return items
