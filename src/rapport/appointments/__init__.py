"""Appointments: availability, booking with intent, reminders, the pre-visit brief, check-in and outcome."""

from rapport.appointments import models as _models  # noqa: F401  (tables mapped before merges move their rows)
from rapport.identity import merge as _merge

# A merged client's appointments follow the survivor (and come back on unmerge).
_merge.register_child_table("appointment")
