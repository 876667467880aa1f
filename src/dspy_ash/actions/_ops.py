"""What operations ask of the process, outside any tenant: is the database there and current, and how
many runs wait or run (for /metrics)."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field

from sqlalchemy import func, select, text

from dspy_ash.actions._context import Services
from dspy_ash.store import SchemaOutOfDateError
from dspy_ash.store.models import RUN_STATUSES, EvaluationRun, OptimizerRun

RUN_KINDS = {"optimization": OptimizerRun, "evaluation": EvaluationRun}
_CACHE_KEY = "ops.run_counts"


async def readiness(services: Services) -> tuple[bool, str]:
    """(ready, why): the database answers and its schema is at this code's migration head."""
    try:
        async with services.db.engine.connect() as conn:
            await conn.execute(text("SELECT 1"))
        await services.db.check_schema()
    except SchemaOutOfDateError as exc:
        return False, str(exc)
    except Exception as exc:  # any failure to reach the database means not ready
        return False, f"database unreachable: {type(exc).__name__}"
    return True, "ok"


@dataclass(frozen=True, slots=True)
class RunCounts:
    """Runs of every tenant by (kind, status), every pair present (0 when none), and when counted."""

    by_state: dict[tuple[str, str], int]
    counted_at: float

    @property
    def queued(self) -> int:
        """The queue's depth: runs persisted and not yet claimed by a worker."""
        return sum(n for (_, status), n in self.by_state.items() if status == "queued")


@dataclass(eq=False, slots=True)
class _Cached:
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    value: RunCounts | None = None


async def run_counts(services: Services, *, max_age: float = 5.0) -> RunCounts:
    """Runs by kind and state, read at most once per `max_age` seconds however often it is asked (every
    Prometheus scrape asks), and by one caller at a time, so scraping cannot load the database."""
    cached: _Cached = services.extras.setdefault(_CACHE_KEY, _Cached())
    async with cached.lock:
        value = cached.value
        if value is None or time.monotonic() - value.counted_at >= max_age:
            value = cached.value = await _count_runs(services)
        return value


async def _count_runs(services: Services) -> RunCounts:
    counts = {(kind, status): 0 for kind in RUN_KINDS for status in RUN_STATUSES}
    # across tenants: an operator's view of the whole service (the statement is an index scan per table)
    async with services.db.transaction() as session:
        for kind, model in RUN_KINDS.items():
            rows = await session.execute(select(model.status, func.count()).group_by(model.status))
            for status, n in rows.tuples():
                counts[(kind, status)] = n
    return RunCounts(by_state=counts, counted_at=time.monotonic())
