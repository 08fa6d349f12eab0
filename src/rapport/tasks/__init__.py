"""Guided next actions: explainable tasks from events, schedules and head-office campaigns."""

from typing import Any

from sqlalchemy.orm import Session

from rapport.identity import merge as _merge
from rapport.tasks import models as _models  # noqa: F401  (the "task" table must exist before merges move it)


def _after_merges(session: Session, merged: list[Any]) -> None:
    from rapport.tasks.service import after_merges

    after_merges(session, merged)


# A merged client's tasks move to the survivor; one task per occasion (the survivor's wins).
_merge.register_child_table("task", unique_with=("dedupe_key",))
_merge.on_merges(_after_merges)
