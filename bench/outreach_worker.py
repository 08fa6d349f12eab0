"""One outreach worker process for the benchmark: send queued messages until none is left, then exit.

``python -m bench.outreach_worker`` with RAPPORT_DATABASE_URL and the RAPPORT_TWILIO_* settings in
the environment; the same job runner ``rapport worker`` starts, without the other background work.
"""

from __future__ import annotations

import time

from rapport.db import get_database
from rapport.jobs import service as jobs
from rapport.outreach.dispatch import outreach_runner
from rapport.outreach.service import SEND_QUEUE
from rapport.runtime import tune_gc


def main() -> None:
    tune_gc()  # as `rapport worker` does
    db = get_database()
    runner = outreach_runner(get_database, batch=50)  # 4 at once per process (the default)
    idle_since = None
    while True:
        if runner.run_once():
            idle_since = None
            continue
        with db.read() as session:
            counts = jobs.counts(session, SEND_QUEUE)
        if not counts.get("queued") and not counts.get("running"):
            return
        idle_since = idle_since or time.monotonic()
        if time.monotonic() - idle_since > 60:
            raise SystemExit("jobs left that no worker could claim for 60 s")
        time.sleep(0.01)


if __name__ == "__main__":
    main()
