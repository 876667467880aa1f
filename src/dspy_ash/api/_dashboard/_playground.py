"""The playground on a program's page: run it once with inputs typed in a form, through `programs.execute`
as the signed-in person (editors and admins hold `programs:execute`), and see the outputs, latency,
tokens, cost and a link to the trace.

A declarative program gets one field per input of its spec; a code program one JSON object. What goes
wrong while running (the LM failed, the time ran out, too many executions) is shown in the playground
with the problem's status, title and detail; what refuses the caller (no permission, not found, CSRF) is
an error page as anywhere else. htmx swaps the result into the page; without it the form posts and the
program's page comes back with the result.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from typing import Any

from fastapi import Request
from starlette.datastructures import FormData

from dspy_ash import errors
from dspy_ash.api._dashboard._errors import problem_of
from dspy_ash.api._dashboard._web import Viewer, call

FIELD_PREFIX = "input."
JSON_FIELD = "inputs_json"
MAX_FIELD = 100_000  # characters in one input
REFUSED = frozenset({401, 403, 404})  # the caller's problems: error pages, as anywhere else


@dataclass
class Attempt:
    """What the playground shows: what was typed, and the execution's result or its problem."""

    values: dict[str, str] = field(default_factory=dict[str, str])
    raw_json: str = ""
    version: str = ""
    result: Any = None
    problem: tuple[int, str, str] | None = None  # status, title, detail

    @property
    def status(self) -> int:
        return self.problem[0] if self.problem else 200


def input_names(program: Any) -> list[str] | None:
    """A declarative program's input fields; None for a code program (its inputs are one JSON object)."""
    if program.kind != "declarative":
        return None
    return [str(name) for name in (program.spec or {}).get("inputs", [])]


class _BadInputs(Exception):
    pass


def _inputs(form: FormData, names: list[str] | None, attempt: Attempt) -> dict[str, Any]:
    if names is not None:
        for name in names:
            value = form.get(FIELD_PREFIX + name)
            attempt.values[name] = value if isinstance(value, str) else ""
        if any(len(v) > MAX_FIELD for v in attempt.values.values()):
            raise _BadInputs(f"an input holds at most {MAX_FIELD} characters")
        return dict(attempt.values)
    raw = form.get(JSON_FIELD)
    attempt.raw_json = raw if isinstance(raw, str) else ""
    try:
        parsed = json.loads(attempt.raw_json or "{}")
    except json.JSONDecodeError as exc:
        raise _BadInputs(
            f"the inputs are not JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})"
        ) from None
    if not isinstance(parsed, dict):
        raise _BadInputs('the inputs are one JSON object of named values, as {"question": "..."}')
    return parsed  # pyright: ignore[reportUnknownVariableType]  (json's dict)


async def run(request: Request, viewer: Viewer, program: Any) -> Attempt:
    """Execute the program with the posted form's inputs and version."""
    form = await request.form()
    attempt = Attempt()
    version = form.get("version")
    attempt.version = version if isinstance(version, str) else ""
    try:
        inputs = _inputs(form, input_names(program), attempt)
        version_id = uuid.UUID(attempt.version) if attempt.version else None
    except (_BadInputs, ValueError) as exc:
        attempt.problem = (
            422,
            "Invalid inputs",
            str(exc) if isinstance(exc, _BadInputs) else "not a version",
        )
        return attempt
    payload = {"program_id": program.id, "version": version_id, "inputs": inputs}
    try:
        attempt.result = await call(request, viewer, "programs.execute", payload)
    except errors.DspyAshError as exc:
        status, title = problem_of(exc) or (500, "Internal error")
        if status in REFUSED:
            raise
        attempt.problem = (status, title, str(exc))
    return attempt
