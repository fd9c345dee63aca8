"""Paging of the HTML lists: the page asked for and the pager the list templates show."""

from collections.abc import Mapping
from math import ceil
from typing import Any

from flask import request, url_for


def page_number() -> int:
    """The ``?page=`` asked for; 1 for anything that is not a sensible page number."""
    value = request.args.get("page", "1")
    return max(1, int(value)) if value.isdigit() and len(value) < 7 else 1


def pager(
    page: int, total: int, page_size: int, args: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """The pager of ``macros/lists.html``: links to the previous and next page of this
    endpoint with ``args`` (default: the request's own query, less ``page``)."""
    pages = max(1, ceil(total / page_size))
    if args is None:
        args = {k: v for k, v in request.args.items() if k != "page"}
    return {
        "page": page,
        "pages": pages,
        "total": total,
        "prev": url_for(request.endpoint, page=page - 1, **args) if page > 1 else None,
        "next": url_for(request.endpoint, page=page + 1, **args) if page < pages else None,
    }
