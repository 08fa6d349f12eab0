"""The clock, injected: services ask ``now()`` and tests fix it with ``use_clock``.

Every datetime Rapport handles is timezone-aware UTC; a naive datetime is a bug.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Protocol


class Clock(Protocol):
    def now(self) -> datetime: ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


class FixedClock:
    """A clock that stands still until told to move — for tests and reproducible demos."""

    def __init__(self, at: datetime) -> None:
        self._at = ensure_aware(at)

    def now(self) -> datetime:
        return self._at

    def advance(self, delta: timedelta) -> None:
        self._at += delta

    def set(self, at: datetime) -> None:
        self._at = ensure_aware(at)


# Process-wide on purpose: request handlers run in other threads than the test that fixed the clock.
_clock: Clock = SystemClock()


def now() -> datetime:
    return _clock.now()


@contextmanager
def use_clock(clock: Clock) -> Iterator[Clock]:
    global _clock
    previous, _clock = _clock, clock
    try:
        yield clock
    finally:
        _clock = previous


def set_clock(clock: Clock) -> None:
    """Replace the clock for the whole process."""
    global _clock
    _clock = clock


def ensure_aware(value: datetime) -> datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError("naive datetime: give a timezone (UTC offset)")
    return value.astimezone(UTC)
