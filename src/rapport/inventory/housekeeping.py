"""Stock housekeeping on a clock: lapsed holds go back on the shelf, uncollected pickups back to stock.

Run every ``every`` seconds by a thread in each app process (when it does background work) or in
``rapport worker``. Both steps are conditional updates on ``status = 'active'``/``'ready'``, so
several processes sweeping at once release each hold once. Between sweeps nothing is oversold:
a reservation that finds a row short lapses that row's overdue holds first
(:func:`rapport.inventory.stock.reserve`).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass

from rapport.db import Database

log = logging.getLogger(__name__)

#: Seconds between sweeps.
EVERY = 60.0


@dataclass(frozen=True)
class Swept:
    holds_lapsed: int
    pickups_returned: int


def sweep(db: Database) -> Swept:
    """One pass: lapse overdue holds (in batches) and return pickups not collected in time."""
    from rapport.inventory import fulfilment, holds

    lapsed = 0
    while True:
        with db.write() as session:
            n = holds.expire_lapsed(session)
        lapsed += n
        if n < 500:
            break
    returned = 0
    while True:
        with db.write() as session:
            n = fulfilment.release_uncollected(session)
        returned += n
        if n < 500:
            break
    return Swept(lapsed, returned)


class Housekeeper:
    """A daemon thread calling :func:`sweep` every ``every`` seconds until stopped."""

    def __init__(self, db_provider: Callable[[], Database], every: float = EVERY) -> None:
        self._db = db_provider
        self._every = every
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if self._thread is None:
            self._stop.clear()
            self._thread = threading.Thread(target=self._run, name="stock-housekeeping", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
            self._thread = None

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                done = sweep(self._db())
                if done.holds_lapsed or done.pickups_returned:
                    log.info(
                        "stock housekeeping: %d hold(s) lapsed, %d pickup(s) back to stock", *done.__dict__.values()
                    )
            except Exception:  # a failed pass must not stop the next one
                log.exception("stock housekeeping failed")
            self._stop.wait(self._every)
