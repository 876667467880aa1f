"""Service commands: `dspy-ash init` (schema, first tenant, admin key) and `dspy-ash serve`."""

from __future__ import annotations

import asyncio
import inspect
import os
import re
from enum import StrEnum
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.panel import Panel

from dspy_ash.cli._db import DatabaseUrl, masked

console = Console()
errors = Console(stderr=True)


class LogLevel(StrEnum):
    debug = "debug"
    info = "info"
    warning = "warning"
    error = "error"


def init(
    database_url: DatabaseUrl = None,
    tenant: Annotated[
        str | None,
        typer.Option(
            help="Name of the first tenant (default: 'default'). On a later run: the tenant for --new-key."
        ),
    ] = None,
    new_key: Annotated[
        bool, typer.Option("--new-key", help="Already initialised: make another admin API key and print it.")
    ] = False,
    admin_email: Annotated[
        str | None,
        typer.Option(help="Also create an admin user for the dashboard; the password is asked for (hidden)."),
    ] = None,
    admin_password_env: Annotated[
        str | None,
        typer.Option(help="Read the admin user's password from this environment variable instead of asking."),
    ] = None,
) -> None:
    """Set up a new service: schema, first tenant, admin API key (printed once).

    Brings the database schema up to date, creates the first tenant and an admin API key, and prints
    the key this once (only its hash is stored). Safe to run again: it then changes nothing and prints
    no key, unless --new-key.
    """
    from dspy_ash.actions import AlreadyInitialisedError, initialise
    from dspy_ash.store import InvalidValueError, resolve_url

    url = resolve_url(database_url)
    password = _admin_password(admin_email, admin_password_env)
    try:
        done = asyncio.run(
            initialise(
                url, tenant_name=tenant, new_key=new_key, admin_email=admin_email, admin_password=password
            )
        )
    except (AlreadyInitialisedError, InvalidValueError) as exc:
        errors.print(f"[red]{escape(str(exc))}[/red]")
        raise typer.Exit(1) from None
    name = escape(done.tenant_name)  # a name given on the command line is text, not markup
    console.print(f"database {masked(url)} is at revision [bold]{done.revision or 'base'}[/bold]")
    if done.created:
        console.print(f"created tenant [bold]{name}[/bold] ({done.tenant_id})")
    else:
        console.print(f"already initialised: tenant [bold]{name}[/bold] ({done.tenant_id})")
    if done.key is None:
        console.print("no new key made (pass --new-key to make another admin key)")
        return
    console.print(
        Panel(
            "This is the only time the key is shown: only its hash is stored. Keep it somewhere safe; "
            "anyone holding it administers the tenant. Send it as `Authorization: Bearer <key>`.",
            title=f"[bold]admin API key for tenant {name}[/bold]",
            border_style="yellow",
        )
    )
    # alone on its line, unstyled and unwrapped, so it can be copied or read by a script
    console.print(done.key, markup=False, highlight=False, soft_wrap=True)


def serve(
    database_url: DatabaseUrl = None,
    host: Annotated[
        str, typer.Option(help="Interface to listen on (0.0.0.0: every interface).")
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port to listen on.", min=0, max=65535)] = 8000,
    workers: Annotated[
        int,
        typer.Option(
            help="Server processes, each with its own event loop and its own /metrics counts.", min=1
        ),
    ] = 1,
    migrate: Annotated[
        bool, typer.Option("--migrate", help="Bring the database schema up to date first, if it is behind.")
    ] = False,
    log_level: Annotated[LogLevel, typer.Option(help="Least severe records logged.")] = LogLevel.info,
    json_logs: Annotated[
        bool, typer.Option("--json-logs/--text-logs", help="Log JSON lines (default) or plain text.")
    ] = True,
) -> None:
    """Run the service with uvicorn: REST under /api/v1, /healthz, /readyz, /metrics.

    The database is --database-url, else $DSPY_ASH_DATABASE_URL, else SQLite in the data directory
    (DSPY_ASH_HOME). A database whose schema is behind is refused unless --migrate. Logs go to stderr,
    one JSON object per line, secrets redacted. Other settings come from DSPY_ASH_* variables
    (DSPY_ASH_METRICS_TOKEN, DSPY_ASH_OTEL_EXPORT, ...).
    """
    import uvicorn

    from dspy_ash.api._logging import logging_config
    from dspy_ash.store import resolve_url

    url = resolve_url(database_url)
    _check_schema(url, migrate)
    # the app is built in each worker process from the environment (ServiceSettings reads it)
    os.environ["DSPY_ASH_DATABASE_URL"] = url
    console.print(
        f"serving on http://{host}:{port} with database {masked(url)}", highlight=False, soft_wrap=True
    )
    uvicorn.run(
        "dspy_ash.api:create_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_config=logging_config(log_level.value, json_lines=json_logs),
        access_log=False,  # the service writes its own access line, with the route and the caller
        proxy_headers=False,
    )


def worker(
    database_url: DatabaseUrl = None,
    slots: Annotated[int, typer.Option(help="Runs worked on at once.", min=1)] = 2,
    lease_seconds: Annotated[
        float,
        typer.Option(
            help="How long a claim on a run holds unless renewed (a dead worker's runs "
            "are taken up again after it).",
            min=3.0,
        ),
    ] = 30.0,
    log_level: Annotated[LogLevel, typer.Option(help="Least severe records logged.")] = LogLevel.info,
) -> None:
    """Work on queued optimizer and evaluation runs until stopped (Ctrl-C or SIGTERM).

    Any number of workers, on any machine that reaches the database, share the runs: each claims runs
    with a lease it renews, and a worker that dies leaves its runs to the others once the lease runs out;
    they resume from their checkpoints. A stopped worker queues its runs again at once.
    """
    import logging
    import signal

    from dspy_ash.actions import Services, ServiceSettings, stop_serving
    from dspy_ash.jobs import RunWorker
    from dspy_ash.store import connect, resolve_url

    logging.basicConfig(
        level=log_level.value.upper(), format="%(asctime)s %(levelname)s %(name)s %(message)s"
    )
    url = resolve_url(database_url)
    _check_schema(url, migrate=False)

    async def work() -> None:
        db = await connect(url)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        runner = RunWorker(Services(db=db, settings=ServiceSettings(database_url=url)), slots=slots,
                           lease_seconds=lease_seconds)  # fmt: skip
        await runner.start()
        console.print(f"worker {runner.owner} on {masked(url)}", highlight=False, soft_wrap=True)
        try:
            await stop.wait()
        finally:
            await runner.stop()
            await stop_serving(runner.services)  # the runs' traces still queued are written
            await db.dispose()

    asyncio.run(work())


def _check_schema(url: str, migrate: bool) -> None:
    from dspy_ash.store import SchemaOutOfDateError, connect
    from dspy_ash.store import migrate as store_migrate

    async def check() -> None:
        db = await connect(url)
        await db.dispose()

    try:
        asyncio.run(check())
    except SchemaOutOfDateError as exc:
        if not migrate:
            errors.print(
                f"[red]{escape(str(exc))}[/red]\nOr let the server do it first: `dspy-ash serve --migrate` "
                "(a new database: `dspy-ash init`)."
            )
            raise typer.Exit(1) from None
        at = asyncio.run(store_migrate.upgrade(url))
        console.print(f"migrated database {masked(url)} to revision [bold]{at}[/bold]")


def _help(fn: object) -> str:
    """A docstring as --help shows it: each paragraph on one line, for the terminal to wrap."""
    text = inspect.getdoc(fn) or ""
    return "\n\n".join(re.sub(r"\s*\n\s*", " ", part) for part in text.split("\n\n"))


def register(app: typer.Typer) -> None:
    app.command("init", help=_help(init))(init)
    app.command("serve", help=_help(serve))(serve)
    app.command("worker", help=_help(worker))(worker)


def _admin_password(email: str | None, env_name: str | None) -> str | None:
    """The admin user's password: from the named environment variable, else asked for twice, hidden."""
    if email is None:
        return None
    if env_name is not None:
        value = os.environ.get(env_name)
        if not value:
            errors.print(f"the environment variable {env_name} is not set")
            raise typer.Exit(1)
        return value
    return typer.prompt("admin password (12 characters or more)", hide_input=True, confirmation_prompt=True)
