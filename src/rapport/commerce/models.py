"""Orders from every channel and returns linked to the line they give back."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Boolean, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from rapport.db import Base, BigId, UTCDateTime

CHANNELS = ("online", "store", "phone", "app", "social")
ORDER_STATUSES = ("placed", "cancelled")


class Order(Base):
    __tablename__ = "sales_order"
    __table_args__ = (
        UniqueConstraint("source", "external_id"),
        Index("ix_sales_order_customer_placed", "customer_id", "placed_at"),
        Index("ix_sales_order_placed_at", "placed_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    source: Mapped[str] = mapped_column(String(64))
    external_id: Mapped[str] = mapped_column(String(100))
    order_number: Mapped[str | None] = mapped_column(String(100), index=True)
    #: Null for a guest order nobody could be identified for.
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("customer.id"))
    channel: Mapped[str] = mapped_column(String(16))
    location_id: Mapped[int | None] = mapped_column(ForeignKey("location.id"), index=True)
    associate_id: Mapped[int | None] = mapped_column(ForeignKey("associate.id"), index=True)
    currency: Mapped[str] = mapped_column(String(3))
    subtotal_minor: Mapped[int] = mapped_column(BigInteger)
    discount_minor: Mapped[int] = mapped_column(BigInteger, default=0)
    tax_minor: Mapped[int] = mapped_column(BigInteger, default=0)
    shipping_minor: Mapped[int] = mapped_column(BigInteger, default=0)
    total_minor: Mapped[int] = mapped_column(BigInteger)
    status: Mapped[str] = mapped_column(String(16), default="placed")
    placed_at: Mapped[datetime] = mapped_column(UTCDateTime)
    #: The source's own last-modified time: an older version delivered late is ignored.
    source_updated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class OrderLine(Base):
    __tablename__ = "order_line"
    __table_args__ = (UniqueConstraint("order_id", "line_ref"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("sales_order.id"))
    line_ref: Mapped[str] = mapped_column(String(100))
    product_id: Mapped[int] = mapped_column(ForeignKey("product.id"), index=True)
    quantity: Mapped[int] = mapped_column(Integer)
    unit_price_minor: Mapped[int] = mapped_column(BigInteger)
    discount_minor: Mapped[int] = mapped_column(BigInteger, default=0)
    total_minor: Mapped[int] = mapped_column(BigInteger)


class Return(Base):
    """Goods given back. ``unlinked`` marks a return whose original order Rapport never saw."""

    __tablename__ = "sales_return"
    __table_args__ = (
        UniqueConstraint("source", "external_id"),
        Index("ix_sales_return_customer_returned", "customer_id", "returned_at"),
        Index("ix_sales_return_waiting", "original_order_source", "original_order_ref"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    source: Mapped[str] = mapped_column(String(64))
    external_id: Mapped[str] = mapped_column(String(100))
    order_id: Mapped[int | None] = mapped_column(ForeignKey("sales_order.id"), index=True)
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("customer.id"))
    channel: Mapped[str] = mapped_column(String(16))
    location_id: Mapped[int | None] = mapped_column(ForeignKey("location.id"))
    currency: Mapped[str] = mapped_column(String(3))
    refund_minor: Mapped[int] = mapped_column(BigInteger)
    reason: Mapped[str | None] = mapped_column(String(500))
    unlinked: Mapped[bool] = mapped_column(Boolean, default=False)
    #: The original order as the source referred to it, kept so a late order can still be linked.
    original_order_source: Mapped[str | None] = mapped_column(String(64))
    original_order_ref: Mapped[str | None] = mapped_column(String(100))
    returned_at: Mapped[datetime] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class ReturnLine(Base):
    __tablename__ = "return_line"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    return_id: Mapped[int] = mapped_column(ForeignKey("sales_return.id"), index=True)
    order_line_id: Mapped[int | None] = mapped_column(ForeignKey("order_line.id"), index=True)
    product_id: Mapped[int | None] = mapped_column(ForeignKey("product.id"))
    quantity: Mapped[int] = mapped_column(Integer)
    refund_minor: Mapped[int] = mapped_column(BigInteger)
