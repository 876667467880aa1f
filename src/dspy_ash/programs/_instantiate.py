"""A stored program made into a fresh engine module, optionally loaded with a version's saved state."""

from __future__ import annotations

import importlib
from typing import Any

from dspy_ash.programs._build import build_program
from dspy_ash.store._errors import InvalidSpecError
from dspy_ash.store.models import Program


def instantiate(program: Program, *, state: dict[str, Any] | None = None) -> Any:
    """Code programs import their class (deployed code, never a stored string); declarative programs
    are built from their spec."""
    if program.kind == "declarative":
        if program.spec is None:
            raise InvalidSpecError("a declarative program has no spec", location=program.name)
        module = build_program(program.spec)
    else:
        if program.source is None:
            raise InvalidSpecError("a code program has no source (module:Class)", location=program.name)
        module_name, _, qualname = program.source.partition(":")
        target: Any = importlib.import_module(module_name)
        for part in qualname.split("."):
            target = getattr(target, part)
        module = target()
    if state is not None:
        module.load_state(state)
    return module
