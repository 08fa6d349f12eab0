"""A client book as a CSV file, and every exported client written to the audit log.

Issue 3: any associate may find any client, but nobody takes a list of clients away unseen. An
export reads the filtered book through the same keyset pages as the screen
(:func:`rapport.clientbook.book.client_book`, all of them, not just the first), adds each page's
email and phone in one query, then writes one ``client.exported`` audit row per client — in one
statement, in one write transaction — before the first byte of the file is sent.

**The file.** UTF-8 with a byte order mark (so Excel reads accents right), comma-separated,
CRLF line ends, one header row, then one row per client in the book's sort order. Spend is a
plain decimal in the book's currency (next column), never converted (see ``book.py``).

**Formulas.** A spreadsheet runs a cell that starts with ``=``, ``+``, ``-`` or ``@`` (and, in
some, a tab or carriage return) as a formula: a client named ``=HYPERLINK(...)`` would become a
link in the manager's spreadsheet. Such cells get a leading single quote, so they read as text.
A cell that is only a number (``-80.00``, an E.164 phone like ``+33612345678``) cannot be a
formula and is left as it is, so spend still adds up.

**Size.** At most :data:`MAX_ROWS` clients per export; a larger selection is refused up front
(422, naming the count) rather than cut short, so a file never silently misses clients.
"""

from __future__ import annotations

import csv
import io
import json
import re
import unicodedata
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import BigInteger, String, bindparam, func, insert, select
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Session

from rapport import clock
from rapport.associates import audit
from rapport.associates.audit import AuditActor
from rapport.associates.models import Associate
from rapport.clientbook.book import BookFilters, BookRow, client_book
from rapport.db import Database, UTCDateTime, table_of
from rapport.errors import InvalidRecord, NotFound
from rapport.identity.models import Identifier
from rapport.money import from_minor

IDENTIFIER = table_of(Identifier)
ASSOCIATE = table_of(Associate)

#: The most clients one export holds.
MAX_ROWS = 10_000
#: Rows read per keyset page (the book's own maximum).
PAGE_SIZE = 2_500  # pages of the book read per query (each aggregates the book afresh)
COLUMNS = (
    "id", "name", "email", "phone", "city", "country", "tier",
    "last_purchase_date", "net_spend", "currency", "tags", "next_milestone",
)  # fmt: skip
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
_NUMBER = re.compile(r"[+-]?[0-9]+(?:\.[0-9]+)?")
_ROWS_PER_CHUNK = 500


@dataclass(frozen=True)
class ExportRow:
    id: int
    name: str
    email: str | None
    phone: str | None
    city: str | None
    country: str | None
    tier: str | None
    last_purchase_date: date | None
    net_spend: Decimal
    currency: str
    tags: tuple[str, ...]
    next_milestone: str | None

    def cells(self) -> list[str]:
        values = [
            str(self.id),
            self.name,
            self.email or "",
            self.phone or "",
            self.city or "",
            self.country or "",
            self.tier or "",
            self.last_purchase_date.isoformat() if self.last_purchase_date else "",
            f"{self.net_spend:f}",
            self.currency,
            ", ".join(self.tags),
            self.next_milestone or "",
        ]
        return [neutralise(v) for v in values]


@dataclass
class BookExport:
    """What one export holds: whose book, how it was filtered and sorted, and the rows in order."""

    associate_id: int
    associate_name: str
    currency: str
    sort: str
    order: str
    filters: BookFilters
    exported_at: datetime
    rows: list[ExportRow] = field(default_factory=list)

    @property
    def customer_ids(self) -> list[int]:
        return [r.id for r in self.rows]

    @property
    def filename(self) -> str:
        """``client-book-ana-duval-2026-11-23.csv``: ASCII only, safe in a Content-Disposition header."""
        slug = _slug(self.associate_name) or str(self.associate_id)
        return f"client-book-{slug}-{self.exported_at.date().isoformat()}.csv"


def neutralise(value: str) -> str:
    """A cell a spreadsheet would run as a formula, made text with a leading ``'``; numbers stay numbers."""
    if value.startswith(FORMULA_STARTS) and not _NUMBER.fullmatch(value):
        return "'" + value
    return value


# -- the service -------------------------------------------------------------------------------


def export_client_book(
    db: Database,
    associate_id: int,
    *,
    actor: AuditActor,
    filters: BookFilters | None = None,
    sort: str = "last_purchase",
    order: str | None = None,
    max_rows: int | None = None,
) -> BookExport:
    """Read the filtered book (every page), then audit one ``client.exported`` per client.

    The reading is a read transaction; the audit rows are one write transaction, committed before
    this returns — so a file that leaves is always on the log. The caller authorises first.
    """
    with db.read() as session:
        export = read_book(session, associate_id, filters=filters, sort=sort, order=order, max_rows=max_rows)
    with db.write() as session:
        record_exported(session, actor, export)
    return export


def read_book(
    session: Session,
    associate_id: int,
    *,
    filters: BookFilters | None = None,
    sort: str = "last_purchase",
    order: str | None = None,
    max_rows: int | None = None,
) -> BookExport:
    """Every client of the filtered book, in its order, with email and phone; InvalidRecord above
    ``max_rows`` (default :data:`MAX_ROWS`).

    Keyset pages of :data:`PAGE_SIZE`: four statements each for the book, one for the contacts.
    """
    f = filters or BookFilters()
    max_rows = MAX_ROWS if max_rows is None else max_rows
    name = session.scalar(select(ASSOCIATE.c.display_name).where(ASSOCIATE.c.id == associate_id))
    if name is None:
        raise NotFound(f"associate {associate_id} not found")
    page = client_book(session, associate_id, filters=f, sort=sort, order=order, limit=PAGE_SIZE, max_limit=PAGE_SIZE)
    if page.total > max_rows:
        raise _too_many(page.total, max_rows)
    export = BookExport(associate_id, name, page.currency, page.sort, page.order, f, clock.now())
    seen: set[int] = set()
    while True:
        fresh = [r for r in page.rows if r.id not in seen]  # a client re-sorted mid-export is listed once
        seen.update(r.id for r in fresh)
        contacts = _contacts(session, [r.id for r in fresh])
        export.rows.extend(_row(r, page.currency, contacts.get(r.id, (None, None))) for r in fresh)
        if page.next_cursor is None:
            break
        if len(export.rows) >= max_rows:  # clients joined the book while it was read: refuse, never cut short
            raise _too_many(len(export.rows) + 1, max_rows)
        page = client_book(
            session,
            associate_id,
            filters=f,
            sort=sort,
            order=order,
            limit=PAGE_SIZE,
            max_limit=PAGE_SIZE,
            cursor=page.next_cursor,
        )
    if len(export.rows) > max_rows:
        raise _too_many(len(export.rows), max_rows)
    return export


def _too_many(count: int, max_rows: int) -> InvalidRecord:
    return InvalidRecord.one(
        "filters", f"{count:,} clients match; an export holds at most {max_rows:,}: narrow the filters"
    )


def record_exported(session: Session, actor: AuditActor, export: BookExport) -> int:
    """One ``client.exported`` audit row per exported client, written as one ``INSERT ... SELECT``.

    What :func:`rapport.associates.audit.record_by` writes for one client (same truncation, same
    actor fields), for every client at once: the ids travel as one array parameter, so ten
    thousand clients cost one statement, not ten thousand.
    """
    detail = {
        "format": "csv",
        "book_of": export.associate_id,
        "rows": len(export.rows),
        "sort": f"{export.sort} {export.order}",
        "filters": _filters_detail(export.filters),
    }
    return record_many_by(session, actor, audit.EXPORTED, export.customer_ids, detail=detail)


def record_many_by(
    session: Session,
    actor: AuditActor,
    action: str,
    customer_ids: Sequence[int],
    *,
    detail: dict[str, Any] | None = None,
) -> int:
    """``audit.record_by`` for many clients in one statement; returns how many rows were written."""
    if actor.kind not in audit.ACTOR_KINDS:
        raise ValueError(f"actor_kind must be one of {audit.ACTOR_KINDS}, not {actor.kind!r}")
    ids = list(dict.fromkeys(int(i) for i in customer_ids))
    if not ids:
        return 0
    a = audit.AUDIT
    if session.get_bind().dialect.name == "postgresql":
        each: Any = func.unnest(bindparam("customer_ids", ids, type_=ARRAY(BigInteger()))).column_valued("cid")
    else:
        each = func.json_each(bindparam("customer_ids", json.dumps(ids), type_=String())).table_valued("value").c.value
    constants = {
        "at": bindparam("at", clock.now(), type_=UTCDateTime()),
        "actor_kind": bindparam("actor_kind", actor.kind, type_=a.c.actor_kind.type),
        "actor_id": bindparam("actor_id", actor.id, type_=a.c.actor_id.type),
        "actor_label": bindparam("actor_label", (actor.label or actor.kind)[:200], type_=a.c.actor_label.type),
        "action": bindparam("action", action[:50], type_=a.c.action.type),
        "ip": bindparam("ip", actor.ip[:64] if actor.ip else None, type_=a.c.ip.type),
        "user_agent": bindparam("user_agent", actor.user_agent[:300] if actor.user_agent else None,
                                type_=a.c.user_agent.type),
        "detail": bindparam("detail", detail or {}, type_=a.c.detail.type),
    }  # fmt: skip
    rows = select(*constants.values(), each)
    session.execute(insert(a).from_select([*constants, "customer_id"], rows))
    return len(ids)


# -- the file ----------------------------------------------------------------------------------


def csv_chunks(export: BookExport) -> Iterator[bytes]:
    """The file, a few hundred rows at a time: BOM and header first."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    buffer.write("\ufeff")
    writer.writerow(COLUMNS)
    for start in range(0, len(export.rows), _ROWS_PER_CHUNK):
        writer.writerows(r.cells() for r in export.rows[start : start + _ROWS_PER_CHUNK])
        yield buffer.getvalue().encode("utf-8")
        buffer.seek(0)
        buffer.truncate()
    if buffer.getvalue():  # an empty book: the header alone
        yield buffer.getvalue().encode("utf-8")


def csv_text(export: BookExport) -> str:
    """The whole file as text (what a test or the CLI reads)."""
    return b"".join(csv_chunks(export)).decode("utf-8")


# -- the pieces --------------------------------------------------------------------------------


def _row(r: BookRow, currency: str, contact: tuple[str | None, str | None]) -> ExportRow:
    milestone = None
    if r.next_milestone is not None:
        m = r.next_milestone
        milestone = f"{m.date.isoformat()} {m.label or m.kind.replace('_', ' ').capitalize()}"
    return ExportRow(
        id=r.id,
        name=r.name,
        email=contact[0],
        phone=contact[1],
        city=r.city,
        country=r.country,
        tier=r.tier,
        last_purchase_date=r.last_purchase_at.date() if r.last_purchase_at else None,
        net_spend=from_minor(r.spend.minor, currency),
        currency=currency,
        tags=tuple(r.tags),
        next_milestone=milestone,
    )


def _contacts(session: Session, ids: list[int]) -> dict[int, tuple[str | None, str | None]]:
    """Each client's first email and phone (verified first, then the oldest): one query per page."""
    if not ids:
        return {}
    i = IDENTIFIER.c
    rows = session.execute(
        select(i.customer_id, i.kind, i.value)
        .where(i.customer_id.in_(ids), i.kind.in_(("email", "phone")))
        .order_by(i.customer_id, i.verified.desc(), i.id)
    )
    email: dict[int, str] = {}
    phone: dict[int, str] = {}
    for customer_id, kind, value in rows:
        (email if kind == "email" else phone).setdefault(customer_id, value)
    return {cid: (email.get(cid), phone.get(cid)) for cid in ids}


def _filters_detail(f: BookFilters) -> dict[str, Any]:
    """The filters that were set, as plain JSON values (what the audit row says was exported)."""
    out: dict[str, Any] = {}
    for name, value in vars(f).items():
        if isinstance(value, datetime):
            out[name] = value.isoformat()
        elif isinstance(value, list | tuple):
            if value:
                out[name] = list(value)
        elif value is not None:
            out[name] = value
    return out


def _slug(name: str) -> str:
    plain = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "-", plain.lower()).strip("-")[:40].strip("-")
