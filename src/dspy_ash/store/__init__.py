"""dspy_ash.store: every program, version, dataset, trace, run and LM call as rows in SQL.

SQLite by default (a file under the data directory), PostgreSQL by URL. Alembic owns the schema
(`dspy-ash migrate`, or `await migrate.upgrade(url)`); `Database.check_schema()` refuses to run
against a database that is behind.

    db = await connect()                              # explicit URL, else DSPY_ASH_DATABASE_URL, else SQLite
    async with db.transaction() as s:
        tenant = await repos.tenants.create_tenant(s, name="acme", actor="cli")
        program = await repos.programs.create_program(s, tenant_id=tenant.id, actor="cli",
                                                      name="qa", source="myapp.qa:QA")

The engine never imports this package; it meets it through `TraceRecorder` (an event subscriber),
`SqlCacheBackend` (the LM cache's persistent backend) and `RunCheckpointStore` (the optimizers'
checkpoint protocol). Stored programs become engine modules one layer up, in `dspy_ash.programs`.
"""

from dspy_ash.store import _migrate as migrate
from dspy_ash.store import repos
from dspy_ash.store._cache import SqlCacheBackend
from dspy_ash.store._checkpoints import RunCheckpointStore
from dspy_ash.store._db import Database, connect, resolve_url
from dspy_ash.store._errors import (
    ConflictError,
    EnvNotAllowedError,
    IllegalTransitionError,
    InvalidCursorError,
    InvalidSpecError,
    InvalidValueError,
    NotFoundError,
    SchemaOutOfDateError,
    SecretKeyMissingError,
    StoreError,
    WrongParentError,
)
from dspy_ash.store._recorder import Retention, TraceRecorder, trace_context

__all__ = [
    "ConflictError",
    "Database",
    "EnvNotAllowedError",
    "IllegalTransitionError",
    "InvalidCursorError",
    "InvalidSpecError",
    "InvalidValueError",
    "NotFoundError",
    "Retention",
    "RunCheckpointStore",
    "SchemaOutOfDateError",
    "SecretKeyMissingError",
    "SqlCacheBackend",
    "StoreError",
    "TraceRecorder",
    "WrongParentError",
    "connect",
    "migrate",
    "repos",
    "resolve_url",
    "trace_context",
]
