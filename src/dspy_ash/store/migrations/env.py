"""Alembic environment: always run from code (dspy_ash.store._migrate) with a connection handed in."""

from __future__ import annotations

from alembic import context

from dspy_ash.store.models import Base

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run migrations through `dspy-ash migrate` or dspy_ash.store._migrate.upgrade()")

context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    render_as_batch=connection.dialect.name == "sqlite",  # SQLite alters tables by copying them
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
