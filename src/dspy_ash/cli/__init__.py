"""The `dspy-ash` command. Thin: each command parses its input, calls the store or an action, renders output.

Commands live in modules by topic (`cli/_db.py`: migrate, schema status; `cli/_service.py`: init, serve, worker; `cli/_demo.py`: demo)
and register themselves on `app`.
"""

from __future__ import annotations

import typer

app = typer.Typer(
    name="dspy-ash",
    help="dspy-ash: DSPy programs as durable resources.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_show_locals=False,
)


def _register() -> None:
    from dspy_ash.cli import _db as db
    from dspy_ash.cli import _demo as demo
    from dspy_ash.cli import _resources as resources
    from dspy_ash.cli import _service as service

    db.register(app)
    service.register(app)
    demo.register(app)
    resources.register(app)


_register()


def main() -> None:
    app()
