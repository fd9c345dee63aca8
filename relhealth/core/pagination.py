"""Paging and sorting of list queries, shared by every list endpoint."""

from collections.abc import Mapping, Sequence

from sqlalchemy import ColumnElement, Select, func, select
from sqlalchemy.orm import Session

from relhealth.core.errors import InvalidInput

DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 500


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
