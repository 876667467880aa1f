"""The optimizers' checkpoint protocol, backed by the run's row: `checkpoint` holds `{key: state}`.

`save` replaces one key in one transaction (the row is locked on PostgreSQL), so a crash during a
save leaves the previous checkpoint in place.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

from dspy_ash.optimizers.checkpoint import CheckpointStore
from dspy_ash.store._jsonable import to_jsonable
from dspy_ash.store._loop_local import LoopLocalDatabase
from dspy_ash.store._types import utcnow
from dspy_ash.store.repos._base import get_owned
from dspy_ash.store.repos.runs import RUN_MODELS, RunKind


class RunCheckpointStore(CheckpointStore):
    def __init__(
        self,
        database_url: str | None = None,
        *,
        tenant_id: uuid.UUID,
        run_id: uuid.UUID,
        kind: RunKind = "optimizer",
    ) -> None:
        self.tenant_id = tenant_id
        self.run_id = run_id
        self.model = RUN_MODELS[kind]
        self._dbs = LoopLocalDatabase(database_url)

    async def load(self, key: str) -> dict[str, Any] | None:
        async with self._dbs.get().transaction() as session:
            run = await get_owned(session, self.model, tenant_id=self.tenant_id, id=self.run_id)
            return run.checkpoint.get(key)

    async def save(self, key: str, state: dict[str, Any]) -> None:
        value = to_jsonable(state)
        # Strict JSON on every database (SQLite would take NaN, PostgreSQL refuses it): fail before writing.
        json.dumps(value, allow_nan=False)
        await self._replace(key, value)

    async def delete(self, key: str) -> None:
        await self._replace(key, None)

    async def _replace(self, key: str, state: dict[str, Any] | None) -> None:
        async with self._dbs.get().transaction() as session:
            run = await get_owned(
                session, self.model, tenant_id=self.tenant_id, id=self.run_id, for_update=True
            )
            checkpoint = {k: v for k, v in run.checkpoint.items() if k != key}
            if state is not None:
                checkpoint[key] = state
            run.checkpoint = checkpoint  # reassigned: JSON columns track assignment, not mutation
            run.updated_at = utcnow()

    async def close(self) -> None:
        await self._dbs.dispose()
