"""`SandboxSerializable`: values that know how to enter `RLM`'s REPL (DSPy's `dspy.primitives.sandbox_serializable`).

A subclass says how its value crosses into the sandbox and how the model should see it:

- `sandbox_setup()`: statements (usually imports) run once in the sandbox before the value is rebuilt;
  the text is also shown to the model, so it knows which names are bound;
- `to_sandbox()`: the value as bytes (UTF-8 text crosses as text, other bytes as base64);
- `sandbox_assignment(var_name, data_expr)`: code that rebuilds the value from the payload variable;
- `rlm_preview(max_chars)`: a short description for the prompt.

The class works as a signature field annotation: its pydantic schema passes values through unchanged
and serializes them with `str()`; `RLM` does the real transport.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import TYPE_CHECKING, Any

from pydantic import GetCoreSchemaHandler
from pydantic_core import core_schema

if TYPE_CHECKING:
    from pydantic.fields import FieldInfo

    from dspy_ash.modules._repl_types import REPLVariable

__all__ = ["SandboxSerializable", "build_repl_variable"]


class SandboxSerializable(ABC):
    """Base for values `RLM` injects into its sandbox (nominal: duck-typed classes do not count)."""

    @abstractmethod
    def sandbox_setup(self) -> str: ...

    @abstractmethod
    def to_sandbox(self) -> bytes: ...

    @abstractmethod
    def sandbox_assignment(self, var_name: str, data_expr: str) -> str: ...

    @abstractmethod
    def rlm_preview(self, max_chars: int = 500) -> str: ...

    @classmethod
    def __get_pydantic_core_schema__(
        cls, source_type: Any, handler: GetCoreSchemaHandler
    ) -> core_schema.CoreSchema:
        return core_schema.no_info_plain_validator_function(
            lambda value: value,
            serialization=core_schema.plain_serializer_function_ser_schema(str),
        )

    def to_repl_variable(self, name: str, field_info: FieldInfo | None = None) -> REPLVariable:
        return build_repl_variable(self, name, field_info=field_info)


def build_repl_variable(
    obj: SandboxSerializable, name: str, field_info: FieldInfo | None = None
) -> REPLVariable:
    """The prompt's description of `obj`: its `rlm_preview()` as the preview (and length), and its
    `sandbox_setup()` lines added to the field's description as the imports available."""
    from dspy_ash.modules._repl_types import REPLVariable  # the types module imports adapters; only when used

    preview = obj.rlm_preview()
    variable = REPLVariable.from_value(name, obj, field_info=field_info)
    desc = variable.desc
    setup = obj.sandbox_setup().strip()
    if setup:
        note = f"Sandbox imports available:\n{setup}"
        desc = f"{desc}\n{note}" if desc else note
    return variable.model_copy(update={"preview": preview, "total_length": len(preview), "desc": desc})
