"""`ChatAdapter`: DSPy's `[[ ## field ## ]]` prompt format, byte for byte, with a JSON fallback on bad replies."""

from __future__ import annotations

import re
import textwrap
import weakref
from typing import Any, ClassVar, NamedTuple

from pydantic.fields import FieldInfo

from dspy_ash.adapters._base import Adapter
from dspy_ash.adapters._formatting import field_descriptions, format_field_value, translate_field_type
from dspy_ash.adapters._parsing import apply_output_defaults, parse_value
from dspy_ash.adapters.types._tool import ToolCalls
from dspy_ash.errors import AdapterParseError
from dspy_ash.signatures._types import annotation_name

HEADER = re.compile(r"\[\[ ## (\w+) ## \]\]")


class FieldInfoWithName(NamedTuple):
    """A field with its name: the key type of `format_field_with_value`'s mapping, as DSPy's."""

    name: str
    info: FieldInfo


def _type_info(field: FieldInfo) -> str:
    tp = field.annotation
    if tp is ToolCalls:
        return ' (must be a JSON object like {"tool_calls": [{"name": "...", "args": {...}}]})'
    return f" (must be formatted as a valid Python {annotation_name(tp)})" if tp is not str else ""


class ChatAdapter(Adapter):
    """DSPy's default adapter: a system message describing the fields and `[[ ## field ## ]]` sections
    per input and output; replies are parsed from the same markers. Falls back to `JSONAdapter` when a
    reply cannot be parsed (`use_json_adapter_fallback`); `use_native_function_calling` sends tools
    through the provider's API instead of the prompt."""

    def __init__(
        self,
        callbacks: list[Any] | None = None,
        use_native_function_calling: bool = False,
        native_response_types: list[type] | None = None,
        use_json_adapter_fallback: bool = True,
        parallel_tool_calls: bool | None = None,
    ) -> None:
        super().__init__(callbacks, use_native_function_calling, native_response_types, parallel_tool_calls)
        self.use_json_adapter_fallback = use_json_adapter_fallback
        self._requirements_cache: weakref.WeakKeyDictionary[type, str] = weakref.WeakKeyDictionary()

    # The adapter class a reply this format cannot parse is retried with, built per failure from this
    # adapter's settings. json_adapter.py sets it to JSONAdapter (a subclass of this one, so this module
    # cannot import it); JSONAdapter sets it to None, so it and its subclasses never retry with themselves.
    fallback_class: ClassVar[type[Adapter] | None] = None

    async def acall(
        self, lm: Any, lm_kwargs: dict[str, Any], signature: Any, demos: list[Any], inputs: dict[str, Any]
    ) -> list[dict[str, Any]]:
        try:
            return await super().acall(lm, dict(lm_kwargs), signature, demos, inputs)
        except AdapterParseError:
            fallback = self._fallback_adapter()
            if fallback is None:
                raise
            return await fallback.acall(lm, dict(lm_kwargs), signature, demos, inputs)

    def _fallback_adapter(self) -> Adapter | None:
        """The adapter to retry an unparseable reply with, or None (as DSPy: only parse errors retry)."""
        if self.fallback_class is None or not self.use_json_adapter_fallback:
            return None
        return self.fallback_class(
            callbacks=self.callbacks,
            use_native_function_calling=self.use_native_function_calling,
            parallel_tool_calls=self.parallel_tool_calls,
        )

    def format_field_description(self, signature: Any) -> str:
        return (
            f"Your input fields are:\n{field_descriptions(signature.input_fields)}\n"
            f"Your output fields are:\n{field_descriptions(signature.output_fields)}"
        )

    def format_field_structure(self, signature: Any) -> str:
        parts = [
            "All interactions will be structured in the following way, with the appropriate values filled in."
        ]
        for fields in (signature.input_fields, signature.output_fields):
            parts.append(
                "\n\n".join(
                    f"[[ ## {name} ## ]]\n{translate_field_type(name, f)}" for name, f in fields.items()
                ).strip()
            )
        parts.append("[[ ## completed ## ]]\n")
        return "\n\n".join(parts).strip()

    def format_task_description(self, signature: Any) -> str:
        lines = textwrap.dedent(signature.instructions).splitlines()
        objective = ("\n" + " " * 8).join(["", *lines])
        return f"In adhering to this structure, your objective is: {objective}"

    def format_user_message_content(
        self,
        signature: Any,
        inputs: dict[str, Any],
        prefix: str = "",
        suffix: str = "",
        main_request: bool = False,
    ) -> str:
        return "\n\n".join(self._user_message_parts(signature, inputs, prefix, suffix, main_request)).strip()

    def _user_message_parts(
        self, signature: Any, inputs: dict[str, Any], prefix: str, suffix: str, main_request: bool
    ) -> list[str]:
        """The user message's pieces in order (prefix, one `[[ ## name ## ]]` section per given input, the
        output requirements on the main request, suffix); subclasses join them as their DSPy class does."""
        parts = [prefix]
        for name, field in signature.input_fields.items():
            if name in inputs:
                parts.append(f"[[ ## {name} ## ]]\n{self._format_input_value(field, inputs[name])}")
        if main_request:
            parts.append(self.user_message_output_requirements(signature))
        parts.append(suffix)
        return parts

    def _format_input_value(self, field: FieldInfo, value: Any) -> str:
        return format_field_value(field, value)

    def user_message_output_requirements(self, signature: Any) -> str:
        cached = self._requirements_cache.get(signature)
        if cached is not None:
            return cached
        text = (
            "Respond with the corresponding output fields, starting with the field "
            + ", then ".join(
                f"`[[ ## {name} ## ]]`{_type_info(f)}" for name, f in signature.output_fields.items()
            )
            + ", and then ending with the marker for `[[ ## completed ## ]]`."
        )
        self._requirements_cache[signature] = text
        return text

    def format_field_with_value(self, fields_with_values: dict[FieldInfoWithName, Any]) -> str:
        """Each field's `[[ ## name ## ]]` section with its formatted value (DSPy's public helper)."""
        return "\n\n".join(
            f"[[ ## {field.name} ## ]]\n{format_field_value(field.info, value)}"
            for field, value in fields_with_values.items()
        ).strip()

    def format_assistant_message_content(
        self, signature: Any, outputs: dict[str, Any], missing_field_message: str | None = None
    ) -> str:
        body = "\n\n".join(
            f"[[ ## {name} ## ]]\n{format_field_value(f, outputs.get(name, missing_field_message))}"
            for name, f in signature.output_fields.items()
        ).strip()
        return body + "\n\n[[ ## completed ## ]]\n"

    def parse(self, signature: Any, completion: str) -> dict[str, Any]:
        """Sections start at `[[ ## name ## ]]` lines; the first section of each output field wins."""
        sections: list[tuple[str | None, list[str]]] = [(None, [])]
        for line in completion.splitlines():
            # only a line holding "[[ ## " can be a header: the others skip the strip and the regex
            match = HEADER.match(line.strip()) if "[[ ## " in line else None
            if match:
                rest = match.string[match.end() :].strip()
                sections.append((match.group(1), [rest] if rest else []))
            else:
                sections[-1][1].append(line)
        outputs = signature.output_fields
        fields: dict[str, Any] = {}
        for name, lines in sections:
            if name is None or name in fields or name not in outputs:
                continue
            text = "\n".join(lines).strip()
            try:
                fields[name] = parse_value(text, outputs[name].annotation)
            except ValueError as exc:
                raise AdapterParseError(
                    "ChatAdapter",
                    signature,
                    completion,
                    message=f"Failed to parse field {name} with value {text} from the LM response. Error message: {exc}",
                ) from exc
        fields = apply_output_defaults(outputs, fields)
        if fields.keys() != outputs.keys():
            raise AdapterParseError("ChatAdapter", signature, completion, parsed_result=fields)
        return fields
