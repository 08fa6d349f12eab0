"""Where stock lives and clients are served: stores and warehouses, stock per SKU per location,
the reservations that promise it (holds for clients, allocations for orders), the ledger of
what moved it, and the fulfilments that carry orders out of a location.

Available to promise (ATP) = on hand - reserved - safety stock. ``reserved`` is the sum of the
row's active reservations, kept in the same transaction as they change, so one conditional
UPDATE decides a reservation under any concurrency (see :mod:`rapport.inventory.stock`).
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    String,
    UniqueConstraint,
    false,
    true,
)
from sqlalchemy.orm import Mapped, mapped_column

from rapport.db import Base, BigId, UTCDateTime

LOCATION_KINDS = ("store", "warehouse")


class Location(Base):
    __tablename__ = "location"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(16), default="store")
    timezone: Mapped[str] = mapped_column(String(64), default="UTC")
    currency: Mapped[str] = mapped_column(String(3), default="USD")
    address_line1: Mapped[str | None] = mapped_column(String(200))
    city: Mapped[str | None] = mapped_column(String(100))
    region: Mapped[str | None] = mapped_column(String(100))
    postal_code: Mapped[str | None] = mapped_column(String(20))
    country: Mapped[str] = mapped_column(String(2))
    latitude: Mapped[Decimal | None] = mapped_column(Numeric(9, 6))
    longitude: Mapped[Decimal | None] = mapped_column(Numeric(9, 6))
    #: Ships online orders (warehouses; stores that ship from store): counts towards "online" stock.
    fulfils_online: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    #: Takes click-and-collect orders (stores).
    accepts_pickup: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    #: The store's business lines for client messages (E.164) and its reply address.
    sms_number: Mapped[str | None] = mapped_column(String(32))
    whatsapp_number: Mapped[str | None] = mapped_column(String(32))
    email_address: Mapped[str | None] = mapped_column(String(254))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class StockLevel(Base):
    """Units of one SKU at one location: on hand (as last counted or adjusted), and promised.

    ``reserved`` is the sum of the row's active reservations; ``safety_stock`` what is never
    promised (a display piece, a count that is often wrong).
    """

    __tablename__ = "stock_level"
    __table_args__ = (
        UniqueConstraint("product_id", "location_id"),
        CheckConstraint("reserved >= 0", name="reserved_not_negative"),
        CheckConstraint("safety_stock >= 0", name="safety_stock_not_negative"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    product_id: Mapped[int] = mapped_column(ForeignKey("product.id"))
    location_id: Mapped[int] = mapped_column(ForeignKey("location.id"), index=True)
    on_hand: Mapped[int] = mapped_column(Integer, default=0)
    reserved: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    safety_stock: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class StockSignal(Base):
    """A SKU that became available again at a location: what it could promise went from none to some.

    Written in the same transaction as the count, so next actions (wishlist back in stock) can
    rely on it even if the process stops right after; read by time, never updated.
    """

    __tablename__ = "stock_signal"
    __table_args__ = (Index("ix_stock_signal_at", "at"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    product_id: Mapped[int] = mapped_column(ForeignKey("product.id"), index=True)
    location_id: Mapped[int] = mapped_column(ForeignKey("location.id"))
    kind: Mapped[str] = mapped_column(String(16), default="back_in_stock")
    on_hand: Mapped[int] = mapped_column(Integer)
    at: Mapped[datetime] = mapped_column(UTCDateTime)


RESERVATION_KINDS = ("hold", "allocation")
#: active: counts in ``reserved``; released/expired: given back; converted: a hold the client bought;
#: fulfilled: an allocation that left the location (collected, shipped, transferred).
RESERVATION_STATUSES = ("active", "released", "expired", "converted", "fulfilled")


class Reservation(Base):
    """Units of one SKU at one location promised to someone: a hold for a client, or an order's allocation.

    While ``active`` its quantity is counted in the stock row's ``reserved``; every change of
    status gives it back (or consumes it) in the same transaction.
    """

    __tablename__ = "stock_reservation"
    __table_args__ = (
        CheckConstraint("quantity > 0", name="quantity_positive"),
        Index("ix_stock_reservation_stock", "product_id", "location_id", "status"),
        Index("ix_stock_reservation_customer", "customer_id", "status"),
        Index("ix_stock_reservation_location", "location_id", "status", "expires_at"),
        Index("ix_stock_reservation_expiry", "status", "expires_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16), default="active")
    product_id: Mapped[int] = mapped_column(ForeignKey("product.id"))
    location_id: Mapped[int] = mapped_column(ForeignKey("location.id"))
    quantity: Mapped[int] = mapped_column(Integer)
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("customer.id"))
    #: Who put it aside (holds) or who acted last.
    associate_id: Mapped[int | None] = mapped_column(ForeignKey("associate.id"))
    #: The order line it serves (allocations) or that bought it (a converted hold).
    order_line_id: Mapped[int | None] = mapped_column(ForeignKey("order_line.id"), index=True)
    fulfilment_id: Mapped[int | None] = mapped_column(ForeignKey("fulfilment.id"), index=True)
    note: Mapped[str | None] = mapped_column(String(500))
    #: A hold lapses at this instant; allocations do not expire.
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    #: The caller's key for a retried request (a double tap places one hold).
    idempotency_key: Mapped[str | None] = mapped_column(String(100), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


MOVEMENT_REASONS = (
    "adjustment", "sale", "return", "restock", "collected", "shipped", "transfer_out", "transfer_in", "damaged",
)  # fmt: skip


class StockMovement(Base):
    """One change of units on hand that was not a count: a ledger, never updated.

    ``(source, external_id)`` makes a delivered delta idempotent: the same adjustment sent twice
    moves stock once.
    """

    __tablename__ = "stock_movement"
    __table_args__ = (
        UniqueConstraint("source", "external_id"),
        Index("ix_stock_movement_stock", "product_id", "location_id", "at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    product_id: Mapped[int] = mapped_column(ForeignKey("product.id"))
    location_id: Mapped[int] = mapped_column(ForeignKey("location.id"))
    delta: Mapped[int] = mapped_column(Integer)
    on_hand_after: Mapped[int] = mapped_column(Integer)
    reason: Mapped[str] = mapped_column(String(16))
    source: Mapped[str] = mapped_column(String(64))
    external_id: Mapped[str] = mapped_column(String(100))
    note: Mapped[str | None] = mapped_column(String(500))
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


FULFILMENT_KINDS = ("pickup", "ship_to_client", "transfer")
#: pickup: allocated -> picked -> ready -> collected | not_collected; (awaiting_transfer first when
#: the store must receive the goods). ship_to_client: allocated -> picked -> shipped. transfer:
#: allocated -> picked -> shipped -> received. Any open one can be cancelled.
FULFILMENT_STATUSES = (
    "awaiting_transfer", "allocated", "picked", "ready", "collected", "not_collected", "shipped", "received",
    "cancelled", "unfulfillable",
)  # fmt: skip


class Fulfilment(Base):
    """Part of an order carried out of one location: picked there, then collected, shipped or transferred."""

    __tablename__ = "fulfilment"
    __table_args__ = (
        Index("ix_fulfilment_from", "from_location_id", "status"),
        Index("ix_fulfilment_to", "to_location_id", "status"),
        Index("ix_fulfilment_collect_by", "status", "collect_by"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("sales_order.id"), index=True)
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("customer.id"), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(20))
    #: Where the goods are picked (null while nobody has them: unfulfillable).
    from_location_id: Mapped[int | None] = mapped_column(ForeignKey("location.id"))
    #: The store that hands them over (pickup) or receives them (transfer); null when shipped to the client.
    to_location_id: Mapped[int | None] = mapped_column(ForeignKey("location.id"))
    #: A pickup waiting for this transfer (the transfer's own row points at the pickup it feeds).
    feeds_id: Mapped[int | None] = mapped_column(ForeignKey("fulfilment.id"))
    associate_id: Mapped[int | None] = mapped_column(ForeignKey("associate.id"))
    tracking: Mapped[str | None] = mapped_column(String(100))
    note: Mapped[str | None] = mapped_column(String(500))
    picked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    ready_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    #: A pickup not collected by then goes back to stock.
    collect_by: Mapped[datetime | None] = mapped_column(UTCDateTime)
    shipped_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class FulfilmentLine(Base):
    __tablename__ = "fulfilment_line"
    __table_args__ = (CheckConstraint("quantity > 0", name="quantity_positive"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    fulfilment_id: Mapped[int] = mapped_column(ForeignKey("fulfilment.id"), index=True)
    order_line_id: Mapped[int] = mapped_column(ForeignKey("order_line.id"), index=True)
    product_id: Mapped[int] = mapped_column(ForeignKey("product.id"))
    quantity: Mapped[int] = mapped_column(Integer)
