"""Imports every capability's tables so metadata (Alembic, tests) sees the whole schema."""

from rapport.appointments import models as appointments
from rapport.associates import models as associates
from rapport.catalog import models as catalog
from rapport.commerce import models as commerce
from rapport.customers import models as customers
from rapport.db import Base
from rapport.identity import models as identity
from rapport.inventory import models as inventory
from rapport.jobs import models as jobs
from rapport.outreach import models as outreach
from rapport.tasks import models as tasks

__all__ = [
    "Base", "appointments", "associates", "catalog", "commerce", "customers", "identity", "inventory", "jobs",
    "outreach", "tasks",
]  # fmt: skip
