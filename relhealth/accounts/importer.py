"""CSV import of accounts, people and relationships (``relhealth import ...`` and the API).

Every line is checked before anything is written: a file with any bad line writes nothing, and
every bad line is reported by its number in the file (the header is line 1) and the reason.
A good file is upserted in bulk: a record is matched by ``crm_id``, else by its name (accounts)
or e-mail (people), and a relationship by (source, target, kind); only records that differ are
updated, so importing the same file again changes nothing. The functions write through bulk
statements (flushed, never committed): the command or request commits. Columns, CRM aliases and
the rules are documented in the README, "CSV import".
"""

import csv
import dataclasses
import datetime as dt
import io
import re
from collections import defaultdict, namedtuple
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import IO, Any

from marshmallow import ValidationError, validate
from sqlalchemy import String, delete, func, insert, literal, or_, select, update
from sqlalchemy.orm import Session

from relhealth.accounts.models import (
    Account,
    AccountKind,
    AccountTeamMember,
    Person,
    PersonRole,
    Relationship,
    RelationshipKind,
    RelationshipType,
    Side,
    StakeholderRole,
    Tier,
)
from relhealth.accounts.rules import End, relationship_violation
from relhealth.accounts.seniority import infer_seniority, ladder
from relhealth.auth.models import User
from relhealth.core import memory
from relhealth.core.errors import InvalidInput
from relhealth.core.time import today_utc
from relhealth.db import utcnow

KINDS = ("accounts", "people", "relationships")
PROGRESS_EVERY = 1000  # lines between two progress reports
WRITE_CHUNK = 5000  # rows per bulk statement

Progress = Callable[[str, int, int], None]
"""Told ``(stage, done, total)``: stage ``checking`` counts lines, ``writing`` rows written."""

ImportSource = bytes | str | IO[bytes] | IO[str] | Iterable[str]


class ImportRejected(InvalidInput):
    """The file cannot be imported and nothing was written; ``problems`` says why, line by line.

    Shaped like every other 422 of the API: ``{"errors": {"files": {"file": [...]}}}``.
    """

    def __init__(self, problems: Sequence[str]):
        self.problems = list(problems)
        count = len(self.problems)
        message = f"Nothing was imported: the file has {count} problem{'s' * (count != 1)}."
        super().__init__(message, {"file": self.problems}, location="files")


@dataclass(frozen=True)
class Change:
    """One record an import creates or updates (listed by dry runs)."""

    line: int
    action: str  # "create" or "update"
    record: str  # the record as the file names it
    fields: tuple[str, ...] = ()  # for an update: the fields that change

    def __str__(self) -> str:
        text = f"Line {self.line}: {self.action} {self.record}"
        return f"{text} ({', '.join(self.fields)})" if self.fields else text


@dataclass
class ImportResult:
    """What an import did (or, on a dry run, would do)."""

    kind: str
    dry_run: bool
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    warnings: list[str] = field(default_factory=list)
    changes: list[Change] = field(default_factory=list)  # filled on dry runs only


# Reading cells ----------------------------------------------------------------------------------


_EMAIL = validate.Email()


def _email(raw: str) -> str:
    """An e-mail address as the API accepts it, lower-cased."""
    value = raw.lower()
    try:
        _EMAIL(value)
    except ValidationError:
        value = ""
    if not value or len(value) > 254:
        raise ValueError(f"{raw!r} is not an e-mail address.")
    return value


_SEPARATORS = re.compile(r"[\s-]+")


def _choice(enum_class) -> Callable[[str], str]:
    """An enum value, forgiving case, spaces and hyphens ("Decision Maker" -> decision_maker)."""
    values = [member.value for member in enum_class]

    def parse(raw: str) -> str:
        value = _SEPARATORS.sub("_", raw.lower())
        if value not in values:
            raise ValueError(f"{raw!r} is not one of: {', '.join(values)}.")
        return value

    return parse


def _account_kind(raw: str) -> str:
    """customer or partner; also CRM types like "Customer - Direct" or "Channel Partner"."""
    value = raw.lower()
    if "partner" in value or "reseller" in value:
        return AccountKind.PARTNER.value
    if value.startswith("customer"):
        return AccountKind.CUSTOMER.value
    raise ValueError(f"{raw!r} is not one of: customer, partner.")


_role = _choice(StakeholderRole)


def _roles(raw: str) -> tuple[str, ...]:
    return tuple(sorted({_role(part.strip()) for part in raw.split(";") if part.strip()}))


def _seniority(levels: Sequence[str]) -> Callable[[str], str]:
    by_name = {level.lower(): level for level in levels}

    def parse(raw: str) -> str:
        try:
            return by_name[raw.lower()]
        except KeyError:
            raise ValueError(f"{raw!r} is not one of: {', '.join(levels)}.") from None

    return parse


CENT = Decimal("0.01")
MAX_MONEY = Decimal("999999999999.99")  # Numeric(14, 2)


def _money(raw: str) -> Decimal:
    try:
        value = Decimal(raw)
    except InvalidOperation:
        value = None
    if value is None or not value.is_finite():
        raise ValueError(f"{raw!r} is not an amount (write it like 125000.00).")
    if value < 0:
        raise ValueError(f"{raw!r} is negative.")
    if value > MAX_MONEY:
        raise ValueError(f"{raw!r} is too large (at most {MAX_MONEY}).")
    if value != value.quantize(CENT):
        raise ValueError(f"{raw!r} has more than two decimals.")
    return value.quantize(CENT)


def _date(raw: str) -> dt.date:
    try:
        return dt.date.fromisoformat(raw)
    except ValueError:
        raise ValueError(f"{raw!r} is not a date (write it like 2026-03-31).") from None


def _strength(raw: str) -> int:
    if raw.isdigit() and 1 <= int(raw) <= 5:
        return int(raw)
    raise ValueError(f"{raw!r} is not a whole number from 1 to 5.")


# Formats ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Column:
    """A column of an import format: the field it fills, how a cell is read, its CRM names.

    A text column has no ``parse``: its cells are kept as they are, up to ``max_length``.
    """

    field: str
    parse: Callable[[str], Any] | None
    aliases: tuple[str, ...] = ()
    required: bool = False  # the column must be there and every cell filled
    max_length: int = 0


def _text(field: str, max_length: int, aliases: tuple[str, ...] = (), required=False) -> Column:
    return Column(field, None, aliases, required, max_length)


ACCOUNT_COLUMNS = (
    _text("crm_id", 100, ("account id", "record id", "id")),
    _text("name", 200, ("account name", "account", "company", "company name"), True),
    Column("kind", _account_kind, ("type", "account type"), True),
    Column("relationship_type", _choice(RelationshipType)),
    Column("tier", _choice(Tier)),
    Column("annual_value", _money, ("annual revenue",)),
    Column("lifetime_value", _money),
    Column("renewal_date", _date),
    Column("started_on", _date, ("customer since",)),
    Column("owner_email", _email, ("account owner email", "owner email")),
)
PERSON_COLUMNS = (
    _text("crm_id", 100, ("contact id", "record id", "id")),
    _text("account_crm_id", 100, ("account id", "accountid", "company id")),
    _text("account", 200, ("account name", "company", "company name")),
    Column("side", _choice(Side)),
    _text("first_name", 100, ("first name", "firstname"), True),
    _text("last_name", 100, ("last name", "lastname"), True),
    Column("email", _email, ("email address", "e-mail", "e-mail address")),
    _text("title", 200, ("job title",)),
    _text("department", 100),
    Column("seniority", str),  # read against the configured ladder, see import_people
    Column("roles", _roles),
    Column("active_from", _date),
    Column("left_on", _date),
)
RELATIONSHIP_COLUMNS = (
    _text("source", 254, ("from",), True),
    _text("target", 254, ("to",), True),
    Column("kind", _choice(RelationshipKind), ("type",), True),
    Column("strength", _strength),
    Column("last_contact_on", _date, ("last contact",)),
)
FORMATS = {
    "accounts": ACCOUNT_COLUMNS,
    "people": PERSON_COLUMNS,
    "relationships": RELATIONSHIP_COLUMNS,
}


def header_key(name: str) -> str:
    """Headers match whatever their case, spacing or underscores: "First_Name" = "first name"."""
    return " ".join(name.replace("_", " ").lower().split())


# Reading files ----------------------------------------------------------------------------------


def read_text(source: ImportSource) -> str:
    """The whole file as text: bytes are UTF-8 (a BOM is dropped); an empty file is refused."""
    if isinstance(source, str):
        text = source
    elif isinstance(source, bytes | bytearray | memoryview):
        text = _decode(bytes(source))
    elif hasattr(source, "read"):
        data = source.read()
        text = data if isinstance(data, str) else _decode(data)
    else:
        text = "".join(line if line.endswith(("\n", "\r")) else line + "\n" for line in source)
    text = text.removeprefix("\ufeff")
    if not text.strip():
        raise ImportRejected(["The file is empty: its first line should name the columns."])
    return text


def _decode(data: bytes) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = data.count(b"\n", 0, error.start) + 1
        raise ImportRejected(
            [
                f"Line {line}: the file is not UTF-8 text (byte 0x{data[error.start]:02x} cannot"
                ' be read). Save it as UTF-8 ("CSV UTF-8" in Excel) and import it again.'
            ]
        ) from None


class _Table:
    """A CSV file being read: its header mapped onto a format's fields, then its rows."""

    def __init__(self, source: ImportSource, kind: str, columns: Sequence[Column]):
        text = read_text(source)
        self.total = text.count("\n") + (not text.endswith("\n"))
        self.problems: list[str] = []
        self.warnings: list[str] = []
        first_line = text.lstrip("\r\n").split("\n", 1)[0]
        # Excel writes ';' or tabs where the decimal mark is a comma; use what the header uses.
        delimiter = max(",;\t", key=first_line.count)
        self._reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
        header = self._next_row()
        while header is not None and not any(cell.strip() for cell in header):
            header = self._next_row()
        if header is None:
            raise ImportRejected(self.problems or ["The file has no header line."])
        self.header_line = self._reader.line_num
        self.width = len(header)
        self.labels: dict[str, str] = {}  # field -> the header the file gives it
        self._present: list[tuple[Column, int]] = []
        self._map_header(kind, columns, header)

    def _next_row(self) -> list[str] | None:
        line = self._reader.line_num + 1
        try:
            return next(self._reader)
        except StopIteration:
            return None
        except csv.Error as error:
            self.problems.append(f"Line {line}: the CSV cannot be read from here on: {error}.")
            return None

    def _map_header(self, kind: str, columns: Sequence[Column], header: list[str]) -> None:
        lookup = {
            header_key(name): column
            for column in columns
            for name in (column.field, *column.aliases)
        }
        problems, unknown = [], []
        for index, name in enumerate(header):
            column = lookup.get(header_key(name))
            if column is None:
                if name.strip():
                    unknown.append(name.strip())
            elif column.field in self.labels:
                problems.append(
                    f"the columns {self.labels[column.field]!r} and {name.strip()!r} both give"
                    f" {column.field}; keep one."
                )
            else:
                self.labels[column.field] = name.strip()
                self._present.append((column, index))
        for column in columns:
            if column.required and column.field not in self.labels:
                names = ", ".join(repr(alias) for alias in column.aliases)
                also = f" (or {names})" if names else ""
                problems.append(f"the required column {column.field!r}{also} is missing.")
        if problems:
            raise ImportRejected([f"Line {self.header_line}: {problem}" for problem in problems])
        if unknown:
            self.warnings.append(
                f"Ignored columns the {kind} import does not use: {', '.join(unknown)}."
            )

    def has(self, name: str) -> bool:
        return name in self.labels

    def label(self, name: str) -> str:
        return self.labels.get(name, name)

    def rows(self, progress: Progress | None) -> Iterator[tuple[int, dict[str, Any], list[str]]]:
        """(line, values, problems) for each non-blank line.

        ``values`` has None for an empty cell and leaves out a cell that could not be read
        (its problem is in ``problems``).
        """
        present = [
            (
                column.field,
                index,
                column.parse,
                column.max_length,
                column.required,
                self.labels[column.field],
            )
            for column, index in self._present
        ]
        width, reported = self.width, 0
        while True:
            line = self._reader.line_num + 1
            cells = self._next_row()
            if cells is None:
                break
            if progress is not None and line >= reported + PROGRESS_EVERY:
                progress("checking", line, self.total)
                reported = line
            joined = "".join(cells)
            if not joined.strip():
                continue
            values: dict[str, Any] = {}
            problems: list[str] = []
            if "\x00" in joined:  # PostgreSQL text cannot hold it
                problems.append("contains a NUL character.")
            if len(cells) < width:  # a short line: its missing cells are empty
                cells += [""] * (width - len(cells))
            elif len(cells) > width and "".join(cells[width:]).strip():
                problems.append(f"{len(cells)} values, but the header names {width} columns.")
            for name, index, parse, max_length, required, label in present:
                raw = cells[index].strip()
                if not raw:
                    values[name] = None
                    if required:
                        problems.append(f"{label}: a value is required.")
                elif parse is None:
                    if len(raw) > max_length:
                        problems.append(f"{label}: is longer than {max_length} characters.")
                    else:
                        values[name] = raw
                else:
                    try:
                        values[name] = parse(raw)
                    except ValueError as error:
                        problems.append(f"{label}: {error}")
            yield line, values, problems
        if progress is not None and reported != self.total:
            progress("checking", self.total, self.total)

    def unreadable(self, values: dict[str, Any], name: str) -> bool:
        """The column is there but this line's cell could not be read."""
        return name in self.labels and name not in values


# Planning and writing --------------------------------------------------------------------------


class _Plan:
    """What an import will do: the problems, the rows to create and update, the counts."""

    def __init__(self, table: _Table, kind: str, dry_run: bool):
        self.result = ImportResult(kind, dry_run, warnings=table.warnings)
        self.listing = dry_run  # dry runs list each change; callers name records only then
        self.problems = table.problems
        self.creates: list[dict[str, Any]] = []
        self.updates: list[dict[str, Any]] = []

    def reject(self, line: int, problems: list[str]) -> None:
        self.problems.append(f"Line {line}: {' '.join(problems)}")

    def create(self, line: int, record: str, row: dict[str, Any]) -> None:
        self.creates.append(row)
        self.result.created += 1
        if self.listing:
            self.result.changes.append(Change(line, "create", record))

    def update(self, line: int, record: str, row: dict[str, Any], changed: list[str]) -> None:
        self.updates.append(row)
        self.result.updated += 1
        if self.listing:
            self.result.changes.append(Change(line, "update", record, tuple(changed)))

    def keep(self) -> None:
        self.result.unchanged += 1

    def check(self) -> None:
        """Refuse the whole file if any line is bad."""
        if self.problems:
            raise ImportRejected(self.problems)

    def writes(self) -> bool:
        return not self.result.dry_run and bool(self.creates or self.updates)


class _Writer:
    """Bulk statements in chunks, reporting progress; every row gets the same timestamp."""

    def __init__(self, session: Session, plan: _Plan, progress: Progress | None):
        self.session, self.progress = session, progress
        self.total = len(plan.creates) + len(plan.updates)
        self.done = 0
        self.now = utcnow()

    def _tick(self, count: int) -> None:
        self.done += count
        if self.progress is not None:
            self.progress("writing", self.done, self.total)

    def insert(self, model, rows: list[dict[str, Any]], returning: Sequence = ()) -> list:
        """Insert ``rows``; with ``returning`` columns, the new rows' values (in no set order).

        The new rows are read back in one query rather than through RETURNING, which costs
        more on both databases (on SQLite, in parameter order, one statement per row). Ids only
        grow, so ours are above the largest id before; callers match rows by a unique column.
        """
        before = (self.session.scalar(select(func.max(model.id))) or 0) if returning else 0
        stamps = {"created_at": self.now, "updated_at": self.now}
        for start in range(0, len(rows), WRITE_CHUNK):
            chunk = rows[start : start + WRITE_CHUNK]
            _insert_rows(self.session, model.__table__, chunk, stamps)
            self._tick(len(chunk))
        if not returning:
            return []
        return self.session.execute(select(*returning).where(model.id > before)).all()

    def update(self, model, rows: list[dict[str, Any]]) -> None:
        for start in range(0, len(rows), WRITE_CHUNK):
            chunk = rows[start : start + WRITE_CHUNK]
            for row in chunk:
                row["updated_at"] = self.now
            self.session.execute(update(model), chunk)
            self._tick(len(chunk))


def _copies(session: Session) -> bool:
    return session.connection().dialect.name == "postgresql"


def _insert_rows(
    session: Session, table, rows: list[dict[str, Any]], shared: dict[str, Any] | None = None
) -> None:
    """Insert checked rows (dicts with the same keys) and ``shared`` values common to all.

    PostgreSQL gets a COPY, several times faster than a multi-row INSERT, whose long statement
    psycopg parses anew for every batch. COPY skips SQLAlchemy's type processing, so values
    must be plain: strings (not enum members), numbers, dates, aware datetimes, None.
    Elsewhere one executemany, with the shared values converted for the database once rather
    than once per row.
    """
    if not rows:
        return
    shared = shared or {}
    if _copies(session):
        names, constants = [*rows[0], *shared], list(shared.values())
        sql = f"COPY {table.name} ({', '.join(names)}) FROM STDIN"
        cursor = session.connection().connection.cursor()
        try:
            with cursor.copy(sql) as copy:
                for row in rows:
                    copy.write_row([*row.values(), *constants])
        finally:
            cursor.close()
        return
    dialect = session.connection().dialect
    converted = {}
    for name, value in shared.items():
        convert = table.c[name].type.dialect_impl(dialect).bind_processor(dialect)
        stored = convert(value) if convert else value
        # SQLite stores times as text: bind that text as it is, the conversion done.
        converted[name] = literal(stored, String()) if isinstance(stored, str) else value
    session.execute(insert(table).values(converted), rows)


def _load(session: Session, model, fields: Sequence[str]) -> dict[int, tuple]:
    """Every record of ``model`` by id, as named tuples of ``fields``, in one query.

    Named tuples, not result Rows: reading a Row's attribute costs ten times more, and an
    import reads a dozen per line.
    """
    record = namedtuple(f"Stored{model.__name__}", ("id", *fields))
    table = model.__table__
    rows = session.execute(select(table.c.id, *(table.c[name] for name in fields)))
    return {row[0]: record._make(row) for row in rows}


def _repeated(seen: dict, key: Any, line: int) -> int | None:
    """Note ``key`` as given on ``line``; if an earlier line gave it, that line's number."""
    if key is None:
        return None
    first = seen.setdefault(key, line)
    return first if first != line else None


def _match(
    crm_id: str | None,
    by_crm: dict[str, int],
    natural: str | None,
    by_natural: dict[str, int],
    crm_of: Callable[[int], str | None],
    label: str,
    noun: str,
) -> tuple[int | None, str | None]:
    """The existing record a line is about, by crm_id, else by its name or e-mail.

    Returns (id or None, problem or None). A name or e-mail another record holds is a clash,
    except that a record without a crm_id is adopted by the line that gives it one.
    """
    target = by_crm.get(crm_id) if crm_id is not None else None
    holder = by_natural.get(natural) if natural is not None else None
    if holder is None or holder == target:
        return target, None
    if target is None and (crm_id is None or crm_of(holder) is None):
        return holder, None
    other = crm_of(holder)
    whose = f"crm_id {other!r}" if other is not None else f"id {holder}"
    return target, f"{label}: {natural!r} already belongs to another {noun} ({whose})."


def _compare(
    old: Any, values: dict[str, Any], fields: Iterable[str], keep_when_empty: frozenset[str]
) -> tuple[dict[str, Any], list[str]]:
    """The full row to write for an existing record, and the fields whose value changes.

    An empty cell clears a field, except for fields in ``keep_when_empty`` (keys and fields
    with a default), which an empty cell leaves as they are.
    """
    row = {"id": old.id}
    changed = []
    for name in fields:
        current = getattr(old, name)
        value = values.get(name)
        if value is None and name in keep_when_empty:
            value = current
        elif value != current:
            changed.append(name)
        row[name] = value
    return row, changed


# Accounts ---------------------------------------------------------------------------------------

ACCOUNT_FIELDS = (
    "crm_id",
    "name",
    "kind",
    "relationship_type",
    "tier",
    "annual_value",
    "lifetime_value",
    "renewal_date",
    "started_on",
    "owner_id",
)
ACCOUNT_DEFAULTS = {
    "relationship_type": RelationshipType.REGULAR.value,
    "tier": Tier.STANDARD.value,
    "annual_value": Decimal("0.00"),
}
_ACCOUNT_KEEP = frozenset({"crm_id", "name", "kind", *ACCOUNT_DEFAULTS})


@memory.paused_gc()
def import_accounts(
    session: Session,
    source: ImportSource,
    *,
    dry_run: bool = False,
    progress: Progress | None = None,
) -> ImportResult:
    """Create or update accounts from CSV, all or nothing (see the module docstring)."""
    table = _Table(source, "accounts", ACCOUNT_COLUMNS)
    session.flush()
    existing = _load(session, Account, ACCOUNT_FIELDS)
    by_crm = {row.crm_id: row.id for row in existing.values() if row.crm_id is not None}
    by_name = {row.name: row.id for row in existing.values()}
    users = dict(session.execute(select(func.lower(User.email), User.id)).all())
    fields = [
        name for name in ACCOUNT_FIELDS if table.has("owner_email" if name == "owner_id" else name)
    ]
    plan = _Plan(table, "accounts", dry_run)
    seen_crm: dict[str, int] = {}
    seen_name: dict[str, int] = {}

    def crm_of(account_id: int) -> str | None:
        return existing[account_id].crm_id

    for line, values, problems in table.rows(progress):
        crm_id, account_name = values.get("crm_id"), values.get("name")
        for name, value, seen in (("crm_id", crm_id, seen_crm), ("name", account_name, seen_name)):
            if first := _repeated(seen, value, line):
                problems.append(f"{table.label(name)} {value!r} is already on line {first}.")
        owner_email = values.get("owner_email")
        values["owner_id"] = users.get(owner_email) if owner_email else None
        if owner_email and values["owner_id"] is None:
            problems.append(
                f"{table.label('owner_email')}: no user has the e-mail {owner_email!r}."
            )
        account_id, clash = _match(
            crm_id, by_crm, account_name, by_name, crm_of, table.label("name"), "account"
        )
        if clash:
            problems.append(clash)
        if problems:
            plan.reject(line, problems)
            continue
        record = f"account {crm_id or account_name!r}" if plan.listing else ""
        if account_id is None:
            row = {name: values.get(name) for name in ACCOUNT_FIELDS}
            for name, default in ACCOUNT_DEFAULTS.items():
                if row[name] is None:
                    row[name] = default
            plan.create(line, record, row)
            continue
        row, changed = _compare(existing[account_id], values, fields, _ACCOUNT_KEEP)
        if changed:
            plan.update(line, record, row, changed)
        else:
            plan.keep()
    plan.check()
    if plan.writes():
        writer = _Writer(session, plan, progress)
        writer.insert(Account, plan.creates)
        writer.update(Account, plan.updates)
        session.expire_all()
    return plan.result


# People -----------------------------------------------------------------------------------------

PERSON_FIELDS = (
    "crm_id",
    "account_id",
    "side",
    "first_name",
    "last_name",
    "email",
    "title",
    "department",
    "seniority",
    "active_from",
    "left_on",
)
_PERSON_KEEP = frozenset({"crm_id", "first_name", "last_name", "seniority"})
_NO_ROLES: frozenset[str] = frozenset()


class _PeopleContext:
    """What checking a people file needs from the database, loaded with one query per table."""

    def __init__(self, session: Session):
        self.existing = _load(session, Person, PERSON_FIELDS)
        self.by_crm = {r.crm_id: r.id for r in self.existing.values() if r.crm_id is not None}
        self.by_email = {
            r.email.lower(): r.id for r in self.existing.values() if r.email is not None
        }
        self.roles: defaultdict[int, set[str]] = defaultdict(set)
        for person_id, role in session.execute(select(PersonRole.person_id, PersonRole.role)):
            self.roles[person_id].add(str(role))
        accounts = session.execute(select(Account.id, Account.crm_id, Account.name)).all()
        self.account_by_crm = {crm_id: id_ for id_, crm_id, _name in accounts if crm_id}
        self.account_by_name = {name: id_ for id_, _crm_id, name in accounts}

    def crm_of(self, person_id: int) -> str | None:
        return self.existing[person_id].crm_id


def _organisation(
    table: _Table, values: dict[str, Any], ctx: _PeopleContext, problems: list[str]
) -> tuple[str, int | None]:
    """(side, account id) a line gives; external people need an account, ours have none."""
    found = {}
    for name, lookup, what in (
        ("account_crm_id", ctx.account_by_crm, "crm_id"),
        ("account", ctx.account_by_name, "name"),
    ):
        ref = values.get(name)
        if ref is not None:
            found[name] = lookup.get(ref)
            if found[name] is None:
                problems.append(f"{table.label(name)}: no account has the {what} {ref!r}.")
    referenced = (
        bool(found)
        or table.unreadable(values, "account_crm_id")
        or table.unreadable(values, "account")
    )
    ids = {id_ for id_ in found.values() if id_ is not None}
    if len(ids) > 1:
        problems.append(
            f"{table.label('account_crm_id')} and {table.label('account')} name two different"
            " accounts."
        )
    account_id = next(iter(ids), None)
    side = values.get("side") or (Side.EXTERNAL.value if referenced else Side.INTERNAL.value)
    if side == Side.INTERNAL and referenced:
        problems.append(
            f"{table.label('side')}: our own (internal) people belong to no account; leave the"
            " account empty or make them external."
        )
    elif side == Side.EXTERNAL and not referenced:
        problems.append(
            f"{table.label('side')}: external people belong to an account; give account_crm_id"
            " or account."
        )
    return side, account_id


@memory.paused_gc()
def import_people(
    session: Session,
    source: ImportSource,
    *,
    dry_run: bool = False,
    progress: Progress | None = None,
) -> ImportResult:
    """Create or update people (theirs and ours) from CSV, all or nothing.

    Without a seniority (no column, or an empty cell) the level is inferred from the job title
    (``relhealth.accounts.seniority``); an existing person keeps theirs unless the title changes.
    Setting ``left_on`` on someone who had not left ends their relationships and team places
    that day, as ``service.end_person`` does.
    """
    levels = ladder()
    columns = [
        dataclasses.replace(column, parse=_seniority(levels))
        if column.field == "seniority"
        else column
        for column in PERSON_COLUMNS
    ]
    table = _Table(source, "people", columns)
    if not (table.has("crm_id") or table.has("email")):
        raise ImportRejected(
            [f"Line {table.header_line}: give a 'crm_id' or an 'email' column to identify people."]
        )
    session.flush()
    ctx = _PeopleContext(session)
    states_org = table.has("side") or table.has("account_crm_id") or table.has("account")
    fields = [
        name
        for name in PERSON_FIELDS
        if table.has(name) or (name in ("side", "account_id") and states_org)
    ]
    fields = [name for name in fields if name != "seniority"] + ["seniority"]
    plan = _Plan(table, "people", dry_run)
    create_roles: list[tuple[str, ...]] = []
    role_updates: dict[int, tuple[str, ...]] = {}
    leavers: list[tuple[int, dt.date]] = []
    seen_crm: dict[str, int] = {}
    seen_email: dict[str, int] = {}
    if not table.has("seniority"):
        plan.result.warnings.append(
            "No seniority column: levels are inferred from job titles"
            " (see the README, Seniority ladder)."
        )
    has_title, has_roles = table.has("title"), table.has("roles")
    has_joined, has_left = table.has("active_from"), table.has("left_on")
    crm_label, email_label = table.label("crm_id"), table.label("email")
    for line, values, problems in table.rows(progress):
        crm_id, email = values.get("crm_id"), values.get("email")
        if crm_id is None and email is None and not problems:
            problems.append(f"give a {crm_label} or an {email_label} to identify the person.")
        if first := _repeated(seen_crm, crm_id, line):
            problems.append(f"{crm_label} {crm_id!r} is already on line {first}.")
        if first := _repeated(seen_email, email, line):
            problems.append(f"{email_label} {email!r} is already on line {first}.")
        if states_org:
            values["side"], values["account_id"] = _organisation(table, values, ctx, problems)
        person_id, clash = _match(
            crm_id, ctx.by_crm, email, ctx.by_email, ctx.crm_of, email_label, "person"
        )
        if clash:
            problems.append(clash)
        old = ctx.existing.get(person_id)
        org = (values["side"], values["account_id"]) if states_org else None
        if old is not None and org is not None and org != (old.side, old.account_id):
            problems.append(
                "someone cannot move to another organisation by import: give them a left_on"
                " date, and import them anew with a new crm_id and e-mail."
            )
        if values.get("seniority") is None and not table.unreadable(values, "seniority"):
            title = values.get("title")
            if old is None or (has_title and title != old.title):
                inferred = infer_seniority(title)
                if inferred in levels:
                    values["seniority"] = inferred
                else:
                    problems.append(
                        f"{table.label('seniority')}: the title {title!r} fits no level of the"
                        f" ladder ({', '.join(levels)}); give a seniority."
                    )
        joined, left = values.get("active_from"), values.get("left_on")
        if old is not None:
            joined = joined if has_joined else old.active_from
            left = left if has_left else old.left_on
        if joined is not None and left is not None and left < joined:
            problems.append(f"{table.label('left_on')}: a person cannot leave before they joined.")
        if problems:
            plan.reject(line, problems)
            continue
        record = f"person {crm_id or email!r}" if plan.listing else ""
        roles = values.get("roles") or ()
        if old is None:
            row = {name: values.get(name) for name in PERSON_FIELDS}
            row["side"] = row["side"] or Side.INTERNAL.value
            row["opted_out"] = False
            plan.create(line, record, row)
            create_roles.append(roles)
            continue
        row, changed = _compare(old, values, fields, _PERSON_KEEP)
        if has_roles and set(roles) != ctx.roles.get(old.id, _NO_ROLES):
            changed.append("roles")
            role_updates[old.id] = roles
        if old.left_on is None and row.get("left_on") is not None:
            leavers.append((old.id, row["left_on"]))
        if changed:
            plan.update(line, record, row, changed)
        else:
            plan.keep()
    plan.check()
    if plan.writes():
        writer = _Writer(session, plan, progress)
        new = writer.insert(Person, plan.creates, (Person.id, Person.crm_id, Person.email))
        writer.update(Person, plan.updates)
        id_of = {crm_id or email: id_ for id_, crm_id, email in new}
        created = (
            (id_of[row["crm_id"] or row["email"]], roles)
            for row, roles in zip(plan.creates, create_roles, strict=True)
            if roles
        )
        _write_roles(session, created, role_updates)
        ended = _end_leavers(session, leavers)
        if ended:
            plan.result.warnings.append(ended)
        session.expire_all()
    return plan.result


def _write_roles(
    session: Session,
    created: Iterable[tuple[int, tuple[str, ...]]],
    updated: dict[int, tuple[str, ...]],
) -> None:
    changed_ids = list(updated)
    for start in range(0, len(changed_ids), WRITE_CHUNK):
        chunk = changed_ids[start : start + WRITE_CHUNK]
        session.execute(delete(PersonRole).where(PersonRole.person_id.in_(chunk)))
    rows = [
        {"person_id": person_id, "role": role}
        for person_id, roles in (*created, *updated.items())
        for role in roles
    ]
    for start in range(0, len(rows), WRITE_CHUNK):
        _insert_rows(session, PersonRole.__table__, rows[start : start + WRITE_CHUNK])


def _end_leavers(session: Session, leavers: list[tuple[int, dt.date]]) -> str | None:
    """End the open relationships and team places of people who left, on the day they left."""
    if not leavers:
        return None
    by_day: dict[dt.date, list[int]] = defaultdict(list)
    for person_id, day in leavers:
        by_day[day].append(person_id)
    edges = places = 0
    for day, ids in by_day.items():
        for start in range(0, len(ids), WRITE_CHUNK):
            chunk = ids[start : start + WRITE_CHUNK]
            edges += session.execute(
                update(Relationship)
                .where(
                    Relationship.ended_on.is_(None),
                    or_(Relationship.source_id.in_(chunk), Relationship.target_id.in_(chunk)),
                )
                .values(ended_on=day),
                execution_options={"synchronize_session": False},
            ).rowcount
            places += session.execute(
                update(AccountTeamMember)
                .where(AccountTeamMember.ended_on.is_(None), AccountTeamMember.person_id.in_(chunk))
                .values(ended_on=day),
                execution_options={"synchronize_session": False},
            ).rowcount
    return (
        f"{len(leavers)} people left: {edges} of their relationships and {places} of their"
        " team places were ended on the day they left."
    )


# Relationships ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Stakeholder:
    id: int
    end: End  # what the relationship rules look at
    left_on: dt.date | None
    label: str  # how messages name them: e-mail, else crm_id


def _reporting_chain(bosses: dict[int, set[int]], start: int, goal: int) -> list[int] | None:
    """The ``reports_to`` chain from ``start`` up to ``goal``, if there is one.

    The same rule as ``rules.closes_cycle``, kept incremental: a file's lines are checked one
    by one against a graph that grows, which rebuilding a graph per line cannot do at scale.
    """
    came_from: dict[int, int | None] = {start: None}
    stack = [start]
    while stack:
        person = stack.pop()
        if person == goal:
            chain = []
            step: int | None = person
            while step is not None:
                chain.append(step)
                step = came_from[step]
            return chain[::-1]
        for boss in bosses.get(person, ()):
            if boss not in came_from:
                came_from[boss] = person
                stack.append(boss)
    return None


RELATIONSHIP_FIELDS = ("source_id", "target_id", "kind", "strength", "last_contact_on")
KIND = {kind.value: kind for kind in RelationshipKind}
_RELATIONSHIP_KEEP = frozenset({"strength"})


@memory.paused_gc()
def import_relationships(
    session: Session,
    source: ImportSource,
    *,
    dry_run: bool = False,
    progress: Progress | None = None,
    today: dt.date | None = None,
) -> ImportResult:
    """Create or update relationships from CSV, all or nothing.

    Each end is a person's e-mail or crm_id, already in the database. The rules of
    ``relhealth.accounts.rules`` apply to every line, and ``reports_to`` lines may not close a
    cycle with each other or with the reporting lines already stored. Relationships that were
    ended stay ended (the API reopens them).
    """
    today = today or today_utc()
    table = _Table(source, "relationships", RELATIONSHIP_COLUMNS)
    session.flush()
    people: dict[int, _Stakeholder] = {}
    by_email: dict[str, _Stakeholder] = {}
    by_crm: dict[str, _Stakeholder] = {}
    for id_, side, account_id, left_on, email, crm_id in session.execute(
        select(
            Person.id, Person.side, Person.account_id, Person.left_on, Person.email, Person.crm_id
        )
    ):
        label = email or crm_id or f"person {id_}"
        person = _Stakeholder(id_, End(id_, Side(side), account_id), left_on, label)
        people[id_] = person
        if email is not None:
            by_email[email.lower()] = person
        if crm_id is not None:
            by_crm[crm_id] = person
    stored = _load(session, Relationship, (*RELATIONSHIP_FIELDS, "ended_on"))
    edges = {(row.source_id, row.target_id, str(row.kind)): row for row in stored.values()}
    bosses: dict[int, set[int]] = defaultdict(set)
    for row in stored.values():
        if row.kind == RelationshipKind.REPORTS_TO and (
            row.ended_on is None or row.ended_on > today
        ):
            bosses[row.source_id].add(row.target_id)

    def find(ref: str) -> _Stakeholder | None:
        return by_email.get(ref.lower()) or by_crm.get(ref)

    fields = [name for name in ("strength", "last_contact_on") if table.has(name)]
    plan = _Plan(table, "relationships", dry_run)
    seen: dict[tuple[int, int, str], int] = {}
    stayed_ended: list[int] = []
    for line, values, problems in table.rows(progress):
        ends = []
        for name in ("source", "target"):
            ref = values.get(name)
            person = find(ref) if ref is not None else None
            if ref is not None and person is None:
                problems.append(f"{table.label(name)}: no person has the e-mail or crm_id {ref!r}.")
            ends.append(person)
        source_person, target_person = ends
        kind = values.get("kind")
        if source_person is None or target_person is None or kind is None:
            plan.reject(line, problems)
            continue
        key = (source_person.id, target_person.id, kind)
        if first := _repeated(seen, key, line):
            problems.append(f"the same relationship (source, target, kind) is on line {first}.")
        violation = relationship_violation(source_person.end, target_person.end, KIND[kind])
        if violation:
            where, message = violation
            problems.append(
                f"{table.label('target' if where == 'target_id' else 'kind')}: {message}"
            )
        old = edges.get(key)
        if old is None and not violation:
            for name, person in (("source", source_person), ("target", target_person)):
                if person.left_on is not None and person.left_on <= today:
                    problems.append(
                        f"{table.label(name)}: {person.label} left on {person.left_on}; their"
                        " links are history."
                    )
            if kind == RelationshipKind.REPORTS_TO and not problems:
                chain = _reporting_chain(bosses, target_person.id, source_person.id)
                if chain:
                    names = " -> ".join(people[id_].label for id_ in (source_person.id, *chain))
                    problems.append(
                        f"{table.label('target')}: this reporting line would close a cycle:"
                        f" {names}."
                    )
                else:
                    bosses[source_person.id].add(target_person.id)
        if problems:
            plan.reject(line, problems)
            continue
        record = f"{source_person.label} {kind} {target_person.label}" if plan.listing else ""
        if old is None:
            row = {
                "source_id": source_person.id,
                "target_id": target_person.id,
                "kind": kind,
                "strength": values.get("strength") or 3,
                "last_contact_on": values.get("last_contact_on"),
            }
            plan.create(line, record, row)
        elif old.ended_on is not None:
            stayed_ended.append(line)
            plan.keep()
        else:
            row, changed = _compare(old, values, fields, _RELATIONSHIP_KEEP)
            if changed:
                plan.update(line, record, row, changed)
            else:
                plan.keep()
    plan.check()
    if stayed_ended:
        shown = ", ".join(map(str, stayed_ended[:10]))
        more = f" and {len(stayed_ended) - 10} more" if len(stayed_ended) > 10 else ""
        plan.result.warnings.append(
            f"Lines {shown}{more}: these relationships were ended before and stay ended."
        )
    if plan.writes():
        writer = _Writer(session, plan, progress)
        writer.insert(Relationship, plan.creates)
        writer.update(Relationship, plan.updates)
        session.expire_all()
    return plan.result


IMPORTERS = {
    "accounts": import_accounts,
    "people": import_people,
    "relationships": import_relationships,
}


def import_csv(
    session: Session,
    kind: str,
    source: ImportSource,
    *,
    dry_run: bool = False,
    progress: Progress | None = None,
) -> ImportResult:
    """Import one CSV file of ``kind`` (accounts, people or relationships)."""
    return IMPORTERS[kind](session, source, dry_run=dry_run, progress=progress)
