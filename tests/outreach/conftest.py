"""Outreach fixtures: the shop (Alicia in Ana's book at Paris)."""

from __future__ import annotations

from typing import Any

import pytest

from rapport.db import Database
from tests.outreach.shop import open_shop


@pytest.fixture
def shop(db: Database) -> dict[str, Any]:
    return open_shop(db)
