"""The Alembic migrations build exactly the schema the models describe, and can be rolled back."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect

from rapport import migrate
from rapport.models import Base


def test_migrated_schema_matches_the_models(db):
    with db.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), Base.metadata)
    assert diff == []


def test_downgrade_to_base_and_back(db):
    migrate.downgrade(db.engine, "base")
    assert "customer" not in inspect(db.engine).get_table_names()
    migrate.upgrade(db.engine)
    head = ScriptDirectory.from_config(migrate.alembic_config()).get_current_head()
    assert migrate.current(db.engine) == head
    assert "customer" in inspect(db.engine).get_table_names()
