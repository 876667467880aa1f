"""What operations ask of the process, outside any tenant: is the database there and current."""

from __future__ import annotations

from sqlalchemy import text

from dspy_ash.actions._context import Services
from dspy_ash.store import SchemaOutOfDateError


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
