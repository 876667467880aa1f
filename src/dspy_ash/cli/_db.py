"""Database commands: `dspy-ash migrate` and `dspy-ash db-status`."""

from __future__ import annotations

import asyncio
from typing import Annotated

import typer
from rich.console import Console

DatabaseUrl = Annotated[
    str | None,
    typer.Option(
        "--database-url", help="SQLAlchemy URL; default: $DSPY_ASH_DATABASE_URL, else SQLite in the data dir."
    ),
]

console = Console()


def migrate(
    database_url: DatabaseUrl = None,
    revision: Annotated[str, typer.Option(help="Target revision (default: the newest).")] = "head",
    down: Annotated[
        bool, typer.Option("--down", help="Downgrade to --revision instead (e.g. base).")
    ] = False,
) -> None:
    """Bring the database schema up to date (or down to a revision)."""
    from dspy_ash.store import _migrate as store_migrate
    from dspy_ash.store._db import resolve_url

    url = resolve_url(database_url)
    step = store_migrate.downgrade if down else store_migrate.upgrade
    at = asyncio.run(step(url, revision))
    console.print(f"database {masked(url)} is at revision [bold]{at or 'base'}[/bold]")


def db_status(database_url: DatabaseUrl = None) -> None:
    """Say whether the database schema is current; exit 1 when it is not."""
    from dspy_ash.store import SchemaOutOfDateError, connect

    async def check() -> None:
        db = await connect(database_url)
        await db.dispose()

    try:
        asyncio.run(check())
    except SchemaOutOfDateError as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(1) from None
    console.print("schema is current")


def masked(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


def register(app: typer.Typer) -> None:
    app.command("migrate")(migrate)
    app.command("db-status")(db_status)
