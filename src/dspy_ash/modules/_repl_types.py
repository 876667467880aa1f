"""What `RLM` shows the model about its REPL (DSPy's `dspy.primitives.repl_types`).

- `REPLVariable`: one input variable as the model sees it (name, type, description, length, preview);
- `REPLEntry`: one step (reasoning, code, output);
- `REPLHistory`: the steps so far. Immutable: `append` returns a new history.

The texts are DSPy 3.4.1's, since they reach the prompt: each type serializes to its `format()` text,
which is what the adapter puts in the message for a field of that type.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pydantic
from pydantic.fields import FieldInfo

from dspy_ash.adapters._formatting import serialize_for_json

__all__ = ["REPLEntry", "REPLHistory", "REPLVariable"]


def _head_and_tail(text: str, limit: int) -> tuple[str, str]:
    """The first half and the last half of `limit` characters, as DSPy splits a truncated text (with
    `limit` 0 the "tail" is the whole text, as DSPy's `text[-0:]` is)."""
    head = limit // 2
    tail = limit - head if limit > 0 else head
    return text[:head], text[-tail:]


class REPLVariable(pydantic.BaseModel):
    """A variable of the REPL, described for the prompt."""

    model_config = pydantic.ConfigDict(frozen=True)

    name: str
    type_name: str
    desc: str = ""
    constraints: str = ""
    total_length: int
    preview: str

    @classmethod
    def from_value(
        cls, name: str, value: Any, field_info: FieldInfo | None = None, preview_chars: int = 1000
    ) -> REPLVariable:
        """Describe `value`: its text (JSON, indented, for lists and dicts), cut to `preview_chars` with
        head and tail kept, and the description and constraints of its signature field if given."""
        plain = serialize_for_json(value)
        text = json.dumps(plain, indent=2) if isinstance(plain, dict | list) else str(plain)
        if len(text) > preview_chars:
            head, tail = _head_and_tail(text, preview_chars)
            preview = f"{head}...{tail}"
        else:
            preview = text
        desc = constraints = ""
        extra = field_info.json_schema_extra if field_info is not None else None
        if isinstance(extra, dict):
            raw_desc = str(extra.get("desc", "") or "")
            if raw_desc and not raw_desc.startswith(
                "${"
            ):  # "${name}" is the placeholder of an undescribed field
                desc = raw_desc
            constraints = str(extra.get("constraints", "") or "")
        return cls(
            name=name,
            type_name=type(value).__name__,
            desc=desc,
            constraints=constraints,
            total_length=len(text),
            preview=preview,
        )

    def format(self) -> str:
        lines = [f"Variable: `{self.name}` (access it in your code)", f"Type: {self.type_name}"]
        if self.desc:
            lines.append(f"Description: {self.desc}")
        if self.constraints:
            lines.append(f"Constraints: {self.constraints}")
        lines.append(f"Total length: {self.total_length:,} characters")
        lines.append(f"Preview:\n```\n{self.preview}\n```")
        return "\n".join(lines)

    @pydantic.model_serializer()
    def _as_text(self) -> str:
        return self.format()


class REPLEntry(pydantic.BaseModel):
    """One REPL step: the model's reasoning, the code it ran and what the code printed."""

    model_config = pydantic.ConfigDict(frozen=True)

    reasoning: str = ""
    code: str
    output: str

    @staticmethod
    def format_output(output: str, max_output_chars: int = 10_000) -> str:
        """`Output (N chars):` and the output, its middle cut out past `max_output_chars`."""
        length = len(output)
        if length > max_output_chars:
            head, tail = _head_and_tail(output, max_output_chars)
            omitted = length - max_output_chars
            output = f"{head}\n\n... ({omitted:,} characters omitted) ...\n\n{tail}"
        return f"Output ({length:,} chars):\n{output}"

    def format(self, index: int, max_output_chars: int = 10_000) -> str:
        reasoning = f"Reasoning: {self.reasoning}\n" if self.reasoning else ""
        return (
            f"=== Step {index + 1} ===\n{reasoning}Code:\n```python\n{self.code}\n```\n"
            + self.format_output(self.output, max_output_chars)
        )


class REPLHistory(pydantic.BaseModel):
    """The REPL steps so far, each output cut to `max_output_chars` when formatted."""

    model_config = pydantic.ConfigDict(frozen=True)

    entries: list[REPLEntry] = pydantic.Field(default_factory=lambda: list[REPLEntry]())
    max_output_chars: int = 10_000

    def format(self) -> str:
        if not self.entries:
            return "You have not interacted with the REPL environment yet."
        return "\n".join(
            e.format(index=i, max_output_chars=self.max_output_chars) for i, e in enumerate(self.entries)
        )

    @pydantic.model_serializer()
    def _as_text(self) -> str:
        return self.format()

    def append(self, *, reasoning: str = "", code: str, output: str) -> REPLHistory:
        entry = REPLEntry(reasoning=reasoning, code=code, output=output)
        return REPLHistory(entries=[*self.entries, entry], max_output_chars=self.max_output_chars)

    def __len__(self) -> int:
        return len(self.entries)

    def __iter__(self) -> Iterator[REPLEntry]:  # pyright: ignore[reportIncompatibleMethodOverride]
        return iter(self.entries)

    def __bool__(self) -> bool:
        return bool(self.entries)
