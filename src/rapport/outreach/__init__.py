"""Outreach: personal messages over email, SMS and WhatsApp, one thread per client, looks and tracked links."""

from rapport.identity import merge as _merge
from rapport.outreach import models as _models  # noqa: F401  (tables mapped before merges move their rows)

# A merged client's thread, looks, links and handovers follow the survivor (and come back on unmerge).
for _table in ("message", "look", "short_link", "handover"):
    _merge.register_child_table(_table)
