"""Writing many rows at once: COPY on PostgreSQL, one executemany elsewhere.

For the scheduler's large writes (a wave of 100,000 invitations and their e-mails), where an
ORM flush per row, or even a multi-row INSERT that psycopg parses anew for every batch, would
take minutes. Rows are dicts of plain Python values keyed by column name; each call writes
rows that all have the same keys. Python-side column defaults are not applied: give every
NOT NULL column.
"""

import enum
import itertools
from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import Table, func, insert, select
from sqlalchemy.dialects import postgresql
from sqlalchemy.orm import Session


def is_postgresql(session: Session) -> bool:
    return session.connection().dialect.name == "postgresql"


def _pg_type(column) -> str:
    """The PostgreSQL type name of a column, as COPY's binary format needs it."""
    name = column.type.compile(dialect=postgresql.dialect()).lower().split("(")[0]
    return _COPY_TYPE_NAMES.get(name, name)


# Type names PostgreSQL accepts in DDL that psycopg's type registry knows by another name.
_COPY_TYPE_NAMES = {"float": "float8"}  # FLOAT without a precision is double precision


def _copy(session: Session, table: Table, rows: Iterable[dict[str, Any]]) -> int:
    """COPY in binary: values go as they are, with no text escaping of long bodies."""
    rows = iter(rows)
    first = next(rows, None)
    if first is None:
        return 0
    names = list(first)
    types = [_pg_type(table.c[name]) for name in names]
    sql = f"COPY {table.name} ({', '.join(names)}) FROM STDIN (FORMAT BINARY)"
    cursor = session.connection().connection.cursor()
    written = 0
    try:
        with cursor.copy(sql) as copy:
            copy.set_types(types)
            # Rows may be made while they are sent: the server stores one batch while Python
            # makes the next.
            for row in itertools.chain((first,), rows):
                copy.write_row([_plain(row[name]) for name in names])
                written += 1
    finally:
        cursor.close()
    return written


def _plain(value: Any) -> Any:
    return value.value if isinstance(value, enum.Enum) else value


def reserve_ids(session: Session, table: Table, count: int) -> list[int]:
    """``count`` fresh ids from the table's sequence (PostgreSQL), in increasing order."""
    sequence = func.pg_get_serial_sequence(table.name, "id")
    return list(
        session.scalars(select(func.nextval(sequence)).select_from(func.generate_series(1, count)))
    )


def insert_rows(session: Session, table: Table, rows: Iterable[dict[str, Any]]) -> int:
    """Insert ``rows`` (any iterable, made as they are sent) in one COPY or one executemany.

    Returns how many rows were written.
    """
    session.flush()  # rows may refer to objects still pending in the session
    if is_postgresql(session):
        return _copy(session, table, rows)
    rows = list(rows)
    if rows:
        session.execute(insert(table), rows)
    return len(rows)


def insert_rows_returning_ids(
    session: Session, table: Table, rows: Sequence[dict[str, Any]]
) -> list[int]:
    """Insert ``rows`` and return their new ids, in the order of ``rows``."""
    if not rows:
        return []
    session.flush()
    if is_postgresql(session):
        ids = reserve_ids(session, table, len(rows))
        _copy(session, table, [{"id": id_, **row} for id_, row in zip(ids, rows, strict=True)])
        return ids
    result = session.scalars(
        insert(table).returning(table.c.id, sort_by_parameter_order=True), list(rows)
    )
    return list(result)
