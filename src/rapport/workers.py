"""The job runner with every capability's handlers: what the app's background thread and
``rapport worker`` run. (Capabilities own their handlers; this module only gathers them, like app.py.)"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from rapport.db import Database
from rapport.jobs.worker import JobRunner


def job_runner(db_provider: Callable[[], Database], **options: Any) -> JobRunner:
    from rapport.appointments import notices
    from rapport.outreach import dispatch

    handlers: dict[str, Any] = {}
    dispatch.register(handlers)
    notices.register(handlers)
    options.setdefault("concurrency", dispatch.SEND_CONCURRENCY)
    return JobRunner(db_provider, handlers, **options)
