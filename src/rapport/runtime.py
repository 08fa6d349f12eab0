"""Process-level tuning for Rapport's long-running work: the API server and bulk imports.

CPython's cyclic garbage collector runs a young-generation pass every 700 net allocations and
a full pass every hundred of those. Ingestion allocates millions of short-lived objects (parsed
records, rows, outcomes) next to a large, long-lived heap (SQLAlchemy's metadata and statement
caches, the normalisation caches), and on a 2-core machine those passes were a third of a bulk
import's CPU time. Freezing what exists after start-up takes it out of every future pass, and
larger generations make passes rarer; reference counting still frees almost everything at once.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager

#: Young-generation allocations between passes, then how many passes before an older one runs.
THRESHOLDS = (50_000, 20, 20)


def tune_gc() -> None:
    """For a server process, once start-up is done: freeze the heap built so far, collect less often."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(*THRESHOLDS)


@contextmanager
def gc_tuned() -> Iterator[None]:
    """The same for one long piece of work in a process that may do other things (a bulk import)."""
    before = gc.get_threshold()
    gc.freeze()
    gc.set_threshold(*THRESHOLDS)
    try:
        yield
    finally:
        gc.set_threshold(*before)
        gc.unfreeze()
