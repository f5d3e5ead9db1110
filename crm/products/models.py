"""Products (schema `tenant`): the catalogue order lines pick from."""
from datetime import datetime
from decimal import Decimal

from sqlalchemy import Numeric, String
from sqlalchemy.orm import Mapped, mapped_column

from crm.extensions import db, tenant_pk, utcnow


class Product(db.Model):
    """Something the tenant sells. Never deleted (order lines point at it); retired by deactivating."""

    __tablename__ = "products"
    __table_args__ = {"schema": "tenant"}

    id: Mapped[int] = tenant_pk()
    name: Mapped[str] = mapped_column(String(120))
    sku: Mapped[str | None] = mapped_column(String(60), unique=True)  # optional; unique within the tenant
    unit: Mapped[str | None] = mapped_column(String(20))  # pcs, kg, box ...
    price: Mapped[Decimal] = mapped_column(Numeric(14, 2))  # in the tenant's currency
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
