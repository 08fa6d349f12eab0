"""Unified inventory and fulfilment: stock everywhere, holds for clients, pickups, ship from store, no overselling."""

from rapport.identity import merge as _merge
from rapport.inventory import models as _models  # noqa: F401  (tables mapped before merges move their rows)

# A merged client's holds and fulfilments follow the survivor (and come back on unmerge).
_merge.register_child_table("stock_reservation")
_merge.register_child_table("fulfilment")
