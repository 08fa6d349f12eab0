"""The few storage helpers that bypass SQLAlchemy's own conversions must store exactly what it would."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy.dialects import sqlite

from rapport.db import UTCDateTime, _sqlite_utc

_SQLALCHEMY = UTCDateTime()._cached_bind_processor(sqlite.dialect())
_OFFSETS = st.integers(min_value=-14 * 60, max_value=14 * 60).map(lambda m: timezone(timedelta(minutes=m)))


@given(st.datetimes(min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30), timezones=_OFFSETS))
def test_the_fast_sqlite_datetime_text_is_what_sqlalchemy_stores(moment: datetime) -> None:
    assert _SQLALCHEMY is not None
    assert _sqlite_utc(moment) == _SQLALCHEMY(moment)


def test_naive_datetimes_are_refused_as_sqlalchemy_refuses_them() -> None:
    with pytest.raises(ValueError, match="naive datetime"):
        _sqlite_utc(datetime(2026, 11, 23, 15, 0))
    assert _sqlite_utc(None) is None
    assert _sqlite_utc(datetime(2026, 11, 23, 15, 0, tzinfo=UTC)) == "2026-11-23 15:00:00.000000"
