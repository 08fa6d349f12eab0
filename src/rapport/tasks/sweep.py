"""The daily sweep: housekeeping, then every enabled rule over every active client, raised in chunks.

Idempotent (each occasion has its key), so it can run as often as wanted; a second run the
same day creates nothing. It is also the safety net for the event path (:mod:`rapport.tasks.triggers`):
whatever a trigger missed — the process stopped between a commit and its trigger — the next
sweep raises. Each chunk of candidates is its own transaction, so a sweep over a million clients
never holds one giant transaction and a failure loses one chunk's work, not the run's.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from itertools import islice

from rapport import clock
from rapport.db import Database
from rapport.errors import InvalidRecord
from rapport.tasks import config
from rapport.tasks.rules import RULES, evaluate
from rapport.tasks.service import Candidate, housekeeping, raise_tasks

#: Candidates raised per transaction.
CHUNK = 5000


@dataclass
class TypeReport:
    """One rule's share of a run."""

    type: str
    enabled: bool = True
    candidates: int = 0
    created: int = 0
    #: why candidates were not raised ("duplicate", "no consent", "contact cap", ...) -> how many
    skipped: Counter[str] = field(default_factory=Counter)
    seconds: float = 0.0


@dataclass
class SweepReport:
    types: dict[str, TypeReport] = field(default_factory=dict)
    #: snoozed tasks woken and live tasks expired before the rules ran
    housekeeping: dict[str, int] = field(default_factory=dict)
    #: associate id (None: a store's team queue) -> tasks raised for them
    per_associate: Counter[int | None] = field(default_factory=Counter)
    seconds: float = 0.0

    @property
    def created(self) -> int:
        return sum(t.created for t in self.types.values())

    @property
    def candidates(self) -> int:
        return sum(t.candidates for t in self.types.values())

    def created_by_type(self) -> dict[str, int]:
        return {name: t.created for name, t in self.types.items()}


#: Called as each rule starts (name, index, count) and ends; for progress bars.
Progress = Callable[[str, int, int], None]


def check_types(types: Iterable[str] | None) -> list[str]:
    """The rules to run, in sweep order; unknown names refused with the list of known ones."""
    if types is None:
        return list(RULES)
    wanted = list(dict.fromkeys(types))
    unknown = [t for t in wanted if t not in RULES]
    if unknown:
        raise InvalidRecord.one("type", f"unknown task type {', '.join(unknown)}; known: {', '.join(RULES)}")
    return [name for name in RULES if name in wanted]


def generate(
    db: Database,
    *,
    customer_ids: Sequence[int] | None = None,
    types: Iterable[str] | None = None,
    housekeep: bool = True,
    chunk: int = CHUNK,
    on_rule: Progress | None = None,
) -> SweepReport:
    """Run the rules (all, or ``types``) for every active client (or ``customer_ids``) and raise tasks.

    ``housekeep`` first wakes snoozed tasks and expires old ones. Reports per type how many
    candidates each rule proposed, how many became tasks and why the others did not.
    """
    names = check_types(types)
    started = time.perf_counter()
    report = SweepReport()
    if housekeep:
        with db.write() as session:
            report.housekeeping = housekeeping(session)
    with db.read() as session:
        effective = config.settings(session)
    ids = None if customer_ids is None else sorted(set(customer_ids))
    for index, name in enumerate(names):
        if on_rule:
            on_rule(name, index, len(names))
        line = report.types[name] = TypeReport(name, enabled=effective[name].enabled)
        t0 = time.perf_counter()
        if line.enabled:
            now = clock.now()
            with db.read() as session:  # the rule's queries run here; candidates are built as raised
                found = evaluate(session, name, effective[name], now=now, customer_ids=ids)
            for batch in _chunks(found, chunk):
                with db.write() as session:
                    outcome = raise_tasks(session, batch)
                line.candidates += len(batch)
                line.created += len(outcome.created)
                line.skipped.update(outcome.skipped)
                report.per_associate.update(outcome.per_associate)
        line.seconds = time.perf_counter() - t0
    if on_rule:
        on_rule("", len(names), len(names))
    report.seconds = time.perf_counter() - started
    return report


def _chunks(candidates: Iterable[Candidate], size: int) -> Iterator[list[Candidate]]:
    it = iter(candidates)
    while batch := list(islice(it, size)):
        yield batch


__all__ = ["CHUNK", "SweepReport", "TypeReport", "check_types", "generate"]
