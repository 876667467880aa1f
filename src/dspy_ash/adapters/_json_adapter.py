"""`JSONAdapter`: outputs as one JSON object, with JSON mode or structured outputs where the LM supports them."""

from __future__ import annotations

import json
import logging
from typing import Any, get_origin

import json_repair
import pydantic

from dspy_ash.adapters._chat import ChatAdapter, _type_info
from dspy_ash.adapters._formatting import format_field_value, serialize_for_json, translate_field_type
from dspy_ash.adapters._parsing import apply_output_defaults, parse_value
from dspy_ash.adapters.types._tool import ToolCalls
from dspy_ash.errors import AdapterParseError, SignatureError

logger = logging.getLogger("dspy_ash.adapters")


class JSONAdapter(ChatAdapter):
    """Asks for the outputs as one JSON object (structured outputs with a JSON schema where the provider
    supports them, `json_object` mode otherwise) and parses the reply as JSON."""

    fallback_class = None  # JSON is the last resort: a reply it cannot parse is an error

    def __init__(
        self,
        callbacks: list[Any] | None = None,
        use_native_function_calling: bool = True,
        parallel_tool_calls: bool | None = None,
    ) -> None:
        super().__init__(
            callbacks=callbacks,
            use_native_function_calling=use_native_function_calling,
            parallel_tool_calls=parallel_tool_calls,
        )

    async def acall(
        self, lm: Any, lm_kwargs: dict[str, Any], signature: Any, demos: list[Any], inputs: dict[str, Any]
    ) -> list[dict[str, Any]]:
        lm_kwargs = dict(lm_kwargs)
        self._prepare_response_format(lm, lm_kwargs, signature)
        return await super().acall(lm, lm_kwargs, signature, demos, inputs)

    def _prepare_response_format(self, lm: Any, lm_kwargs: dict[str, Any], signature: Any) -> None:
        supported = getattr(lm, "supported_params", ())
        if "response_format" not in supported or "response_format" in lm_kwargs:
            return
        has_tool_calls = any(f.annotation is ToolCalls for f in signature.output_fields.values())
        open_mapping = any(get_origin(f.annotation) is dict for f in signature.output_fields.values())
        if (
            open_mapping
            or (not self.use_native_function_calling and has_tool_calls)
            or not getattr(lm, "supports_response_schema", False)
        ):
            lm_kwargs["response_format"] = {"type": "json_object"}
            return
        try:
            lm_kwargs["response_format"] = structured_output_format(
                signature, self.use_native_function_calling
            )
        except (ValueError, pydantic.PydanticInvalidForJsonSchema, pydantic.PydanticSchemaGenerationError):
            logger.warning("Failed to build a structured output schema; using JSON mode.")
            lm_kwargs["response_format"] = {"type": "json_object"}

    def format_field_structure(self, signature: Any) -> str:
        parts = [
            "All interactions will be structured in the following way, with the appropriate values filled in.",
            "Inputs will have the following structure:",
            "\n\n".join(
                f"[[ ## {name} ## ]]\n{translate_field_type(name, f)}"
                for name, f in signature.input_fields.items()
            ).strip(),
            "Outputs will be a JSON object with the following fields.",
            json.dumps(
                {name: translate_field_type(name, f) for name, f in signature.output_fields.items()},
                indent=2,
                ensure_ascii=False,
            ),
        ]
        return "\n\n".join(parts).strip()

    def user_message_output_requirements(self, signature: Any) -> str:
        return (
            "Respond with a JSON object in the following order of fields: "
            + ", then ".join(f"`{name}`{_type_info(f)}" for name, f in signature.output_fields.items())
            + "."
        )

    def format_assistant_message_content(
        self, signature: Any, outputs: dict[str, Any], missing_field_message: str | None = None
    ) -> str:
        values = {name: outputs.get(name, missing_field_message) for name in signature.output_fields}
        return json.dumps(serialize_for_json(values), indent=2, ensure_ascii=False)

    def parse(self, signature: Any, completion: str) -> dict[str, Any]:
        fields: Any = json_repair.loads(completion)
        if not isinstance(fields, dict):
            candidate = _first_json_object(completion)
            if candidate is not None:
                completion = candidate
                fields = json_repair.loads(candidate)
        if not isinstance(fields, dict):
            raise AdapterParseError(
                "JSONAdapter",
                signature,
                completion,
                message="LM response cannot be serialized to a JSON object.",
            )
        outputs = signature.output_fields
        parsed = {k: v for k, v in fields.items() if k in outputs}
        for name, value in parsed.items():
            try:
                parsed[name] = parse_value(value, outputs[name].annotation)
            except ValueError as exc:
                raise AdapterParseError(
                    type(self).__name__,
                    signature,
                    completion,
                    message=f"Failed to parse field {name}: {exc}",
                    parsed_result=parsed,
                ) from exc
        parsed = apply_output_defaults(outputs, parsed)
        if parsed.keys() != outputs.keys():
            raise AdapterParseError("JSONAdapter", signature, completion, parsed_result=parsed)
        return parsed


def _first_json_object(text: str) -> str | None:
    """The first balanced `{...}` in text (braces inside JSON strings respected)."""
    start = text.find("{")
    while start != -1:
        depth, in_string, escaped = 0, False, False
        for i in range(start, len(text)):
            ch = text[i]
            if in_string:
                if escaped:
                    escaped = False
                elif ch == "\\":
                    escaped = True
                elif ch == '"':
                    in_string = False
            elif ch == '"':
                in_string = True
            elif ch == "{":
                depth += 1
            elif ch == "}":
                depth -= 1
                if depth == 0:
                    return text[start : i + 1]
        start = text.find("{", start + 1)
    return None


def structured_output_format(
    signature: Any, use_native_function_calling: bool = True
) -> type[pydantic.BaseModel]:
    """A pydantic model of the outputs whose JSON schema satisfies OpenAI structured outputs."""
    fields: dict[str, Any] = {}
    for name, field in signature.output_fields.items():
        if get_origin(field.annotation) is dict:
            raise SignatureError(
                f"Field '{name}' has an open-ended mapping type which is not supported by Structured Outputs."
            )
        if use_native_function_calling and field.annotation is ToolCalls:
            continue
        fields[name] = (field.annotation, ... if field.is_required() else field.default)
    model = pydantic.create_model(
        "DSPyProgramOutputs", __config__=pydantic.ConfigDict(extra="forbid"), **fields
    )
    schema = model.model_json_schema()

    def enforce(part: dict[str, Any]) -> None:
        if part.get("type") == "object":
            props = part.get("properties")
            if props is None:
                part["properties"], part["required"] = {}, []
            else:
                part["required"] = list(props)
                for sub in props.values():
                    if isinstance(sub, dict):
                        enforce(sub)
            part["additionalProperties"] = False
        if part.get("type") == "array" and isinstance(part.get("items"), dict):
            enforce(part["items"])
        for key in ("$defs", "definitions"):
            for sub in part.get(key, {}).values():
                enforce(sub)

    enforce(schema)
    model.model_json_schema = lambda *a, **k: schema  # type: ignore[method-assign]
    return model


ChatAdapter.fallback_class = JSONAdapter

__all__ = ["JSONAdapter", "format_field_value", "structured_output_format"]
