"""`Tool` (a function the model may call) and `ToolCalls` (the calls a model asked for), as DSPy 3.x.

A tool's arguments are described to the model as JSON schemas built by pydantic from the function's
type hints, and the model's arguments are validated and coerced by pydantic before the function runs,
so a bad call fails with a message naming the argument instead of deep inside the tool.
"""

from __future__ import annotations

import asyncio
import functools
import inspect
from collections.abc import Callable
from decimal import Decimal
from typing import Any, ClassVar, get_origin, get_type_hints

import json_repair
import pydantic
import pydantic_core
from pydantic import BaseModel, TypeAdapter

from dspy_ash._sync import call_sync, run_sync
from dspy_ash.adapters.types._base_type import Type
from dspy_ash.primitives._observed import aobserved, observed
from dspy_ash.settings import settings

# JSON-schema "type" -> the Python type a value of it must have (for tools given explicit `args`).
_JSON_TYPES: dict[str, tuple[type, ...]] = {
    "string": (str,),
    "integer": (int,),
    "number": (int, float),
    "boolean": (bool,),
    "array": (list, tuple),
    "object": (dict,),
    "null": (type(None),),
}


@functools.lru_cache(maxsize=1024)
def _adapter(tp: Any) -> TypeAdapter[Any]:
    return TypeAdapter(tp)


class Tool(Type):
    """`Tool(func, name=None, desc=None, args=None, arg_types=None, arg_desc=None)`.

    What is not given is inferred from `func`: its name, docstring and the JSON schema of each
    parameter (defaults as `"default"`, `arg_desc` entries as `"description"`).
    """

    model_config = pydantic.ConfigDict(arbitrary_types_allowed=True)

    func: Callable[..., Any]
    name: str | None = None
    desc: str | None = None
    args: dict[str, Any] | None = None
    arg_types: dict[str, Any] | None = None
    arg_desc: dict[str, str] | None = None
    has_kwargs: bool = False

    def __init__(
        self,
        func: Callable[..., Any],
        name: str | None = None,
        desc: str | None = None,
        args: dict[str, Any] | None = None,
        arg_types: dict[str, Any] | None = None,
        arg_desc: dict[str, str] | None = None,
    ) -> None:
        fields = {
            "func": func,
            "name": name,
            "desc": desc,
            "args": args,
            "arg_types": arg_types,
            "arg_desc": arg_desc,
        }
        super().__init__(**fields)
        self._infer(func, arg_desc)

    def _infer(self, func: Callable[..., Any], arg_desc: dict[str, str] | None) -> None:
        target = func if inspect.isfunction(func) or inspect.ismethod(func) else func.__call__  # type: ignore[operator]
        sig = inspect.signature(target)
        try:
            hints = get_type_hints(target)
        except Exception:  # unresolvable forward references: describe those args as Any
            hints = {}
        args: dict[str, Any] = {}
        arg_types: dict[str, Any] = {}
        for pname, param in sig.parameters.items():
            if param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
                continue
            tp = hints.get(pname, Any)
            arg_types[pname] = tp
            args[pname] = _schema_of(tp)
            if param.default is not inspect.Parameter.empty:
                args[pname]["default"] = _json_default(param.default)
            if arg_desc and pname in arg_desc:
                args[pname]["description"] = arg_desc[pname]
        self.name = self.name or str(getattr(func, "__name__", type(func).__name__))
        self.desc = self.desc or getattr(func, "__doc__", None) or getattr(target, "__doc__", "")
        self.args = self.args if self.args is not None else args
        self.arg_types = self.arg_types if self.arg_types is not None else arg_types
        self.has_kwargs = any(p.kind == p.VAR_KEYWORD for p in sig.parameters.values())

    # -- validation ------------------------------------------------------------------------------
    def _validate_and_parse_args(self, **kwargs: Any) -> dict[str, Any]:
        args = self.args or {}
        types = self.arg_types or {}
        parsed: dict[str, Any] = {}
        for key, value in kwargs.items():
            if key not in args and not self.has_kwargs:
                raise ValueError(f"Arg {key} is not in the tool's args.")
            tp = types.get(key, Any)
            if tp is Any:
                _check_json_type(key, value, args.get(key, {}))
                parsed[key] = value
                continue
            try:
                plain = value.model_dump() if isinstance(value, BaseModel) else value
                parsed[key] = _adapter(tp).validate_python(plain)
            except pydantic.ValidationError as exc:
                first = exc.errors()[0]
                where = ".".join(str(p) for p in first.get("loc", ()))
                raise ValueError(
                    f"Arg {key} is invalid: {first.get('msg')}" + (f" (at {where})" if where else "")
                ) from None
        missing = [
            k for k, schema in args.items() if k not in kwargs and "default" not in schema and k in types
        ]
        if missing:
            raise ValueError(f"Missing required arg(s) {', '.join(missing)} for tool {self.name}.")
        return parsed

    # -- calling ---------------------------------------------------------------------------------
    def __call__(self, **kwargs: Any) -> Any:
        return observed("tool", self.name or "tool", self, kwargs, lambda: self._invoke(kwargs))

    async def acall(self, **kwargs: Any) -> Any:
        return await aobserved("tool", self.name or "tool", self, kwargs, lambda: self._ainvoke(kwargs))

    def _invoke(self, kwargs: dict[str, Any]) -> Any:
        parsed = self._validate_and_parse_args(**kwargs)
        result = self.func(**parsed)
        if asyncio.iscoroutine(result):
            if not settings.allow_tool_async_sync_conversion:
                result.close()
                raise ValueError(
                    "You are calling `__call__` on an async tool, please use `acall` instead or enable "
                    "async-to-sync conversion with `dspy.configure(allow_tool_async_sync_conversion=True)` "
                    "or `with dspy.context(allow_tool_async_sync_conversion=True):`."
                )
            # Unlike DSPy's asyncio.run, the bridge also works inside a running event loop.
            result = run_sync(result)
        return result

    async def _ainvoke(self, kwargs: dict[str, Any]) -> Any:
        parsed = self._validate_and_parse_args(**kwargs)
        func = self.func
        if inspect.iscoroutinefunction(func) or inspect.iscoroutinefunction(type(func).__call__):
            result = await func(**parsed)
        else:  # user sync code (a search API, a database client): on a worker thread, never on the loop
            result = await call_sync(func, **parsed)
            if inspect.isawaitable(result):
                result = await result
        return result

    # -- rendering -------------------------------------------------------------------------------
    def format(self) -> str:
        return str(self)

    @pydantic.model_serializer()
    def serialize_model(self) -> str:
        # A tool given as an input value is shown to the model as its description line, as in DSPy.
        return self.format()

    def format_as_litellm_function_call(self) -> dict[str, Any]:
        args = self.args or {}
        return {
            "type": "function",
            "function": {
                "name": self.name,
                "description": self.desc,
                "parameters": {
                    "type": "object",
                    "properties": args,
                    "required": [k for k in args if "default" not in args[k]],
                },
            },
        }

    def __repr__(self) -> str:
        return f"Tool(name={self.name}, desc={self.desc}, args={self.args})"

    def __str__(self) -> str:
        desc = f", whose description is <desc>{self.desc}</desc>.".replace("\n", "  ") if self.desc else "."
        return f"{self.name}{desc} It takes arguments {self.args}."


# One call the model asked for: the tool's name and its arguments (and the provider's call id).
# (Comments, not docstrings, on these two models: a docstring would enter the JSON schema the
# model is shown, which must stay DSPy's.)
class ToolCall(BaseModel):
    id: str | None = None
    name: str
    args: dict[str, Any] = pydantic.Field(
        default_factory=dict, json_schema_extra={"additionalProperties": True}
    )

    @classmethod
    def __get_pydantic_json_schema__(cls, core_schema: Any, handler: Any) -> dict[str, Any]:
        # The provider's call id is ours to keep, not for the model to write; `args` is always expected.
        schema: dict[str, Any] = handler.resolve_ref_schema(handler(core_schema))
        schema.get("properties", {}).pop("id", None)
        schema.get("properties", {}).get("args", {}).pop("default", None)
        schema["required"] = ["name", "args"]
        return schema

    def format(self) -> dict[str, Any]:
        return {"name": self.name, "args": self.args}

    def _require(self, functions: dict[str, Any] | list[Tool]) -> Any:
        func = self._find(functions)
        if func is None:
            raise ValueError(
                f"Tool function '{self.name}' not found. Please pass the tool functions to the "
                "`execute` method."
            )
        return func

    def _find(self, functions: dict[str, Any] | list[Tool] | None) -> Any:
        if isinstance(functions, dict):
            return functions.get(self.name)
        for tool in functions or []:
            if tool.name == self.name:
                return tool
        return None

    def execute(self, functions: dict[str, Any] | list[Tool] | None = None) -> Any:
        """Run this call with the matching function or Tool (looked up by name)."""
        if functions is None:
            frame = inspect.currentframe()
            caller = frame.f_back if frame is not None else None
            functions = {**caller.f_globals, **caller.f_locals} if caller is not None else {}
        func = self._require(functions)
        try:
            result = func(**self.args)
            return run_sync(result) if asyncio.iscoroutine(result) else result
        except Exception as exc:
            raise RuntimeError(f"Error executing tool '{self.name}': {exc}") from exc

    async def aexecute(self, functions: dict[str, Any] | list[Tool]) -> Any:
        func = self._require(functions)
        try:
            if isinstance(func, Tool):
                return await func.acall(**self.args)
            result = func(**self.args)
            return await result if inspect.isawaitable(result) else result
        except Exception as exc:
            raise RuntimeError(f"Error executing tool '{self.name}': {exc}") from exc


# The output type of native function calling: `{"tool_calls": [{"name": ..., "args": {...}}]}`;
# `tool_call_results` can carry what running them returned.
class ToolCalls(Type):
    ToolCall: ClassVar[type[ToolCall]] = ToolCall

    tool_calls: list[ToolCall]
    tool_call_results: Any | None = None

    @classmethod
    def __get_pydantic_json_schema__(cls, core_schema: Any, handler: Any) -> dict[str, Any]:
        schema: dict[str, Any] = handler.resolve_ref_schema(handler(core_schema))
        schema.get("properties", {}).pop("tool_call_results", None)
        return schema

    @classmethod
    def from_dict_list(cls, tool_calls_dicts: list[dict[str, Any]]) -> ToolCalls:
        return cls(tool_calls=[ToolCall(**_normalize_call(d)) for d in tool_calls_dicts])

    @classmethod
    def description(cls) -> str:
        return (
            "Tool calls must be a JSON object with `tool_calls`, a list of calls. "
            "Each call must include `name` and `args`. "
            'Example: {"tool_calls": [{"name": "search", "args": {"query": "cats"}}]}'
        )

    def format(self) -> dict[str, Any]:  # pyright: ignore[reportIncompatibleMethodOverride]
        return {"tool_calls": [c.format() for c in self.tool_calls]}

    @pydantic.model_serializer()
    def serialize_model(self) -> dict[str, Any]:
        data = self.format()
        if self.tool_call_results is not None:
            data["tool_call_results"] = pydantic_core.to_jsonable_python(self.tool_call_results, fallback=str)
        return data

    @pydantic.model_validator(mode="before")
    @classmethod
    def _accept_shapes(cls, data: Any) -> Any:
        if isinstance(data, cls):
            return data
        if isinstance(data, list):
            return {"tool_calls": [_normalize_call(d) for d in data]}
        if isinstance(data, dict):
            if isinstance(data.get("tool_calls"), list):
                out: dict[str, Any] = {
                    "tool_calls": [
                        _normalize_call(d) if isinstance(d, dict) else d for d in data["tool_calls"]
                    ]
                }
                if "tool_call_results" in data:
                    out["tool_call_results"] = data["tool_call_results"]
                return out
            if "name" in data or "function" in data:
                return {"tool_calls": [_normalize_call(data)]}
        raise ValueError(f"Received invalid value for `dspy.ToolCalls`: {data}")

    def execute(self, functions: dict[str, Any] | list[Tool] | None = None) -> list[Any]:
        """Run every call in order (sync)."""
        return [call.execute(functions) for call in self.tool_calls]

    async def aexecute(
        self, functions: dict[str, Any] | list[Tool], return_exceptions: bool = False
    ) -> list[Any]:
        """Run every call concurrently; results in call order.

        The model asked for these calls together, so none depends on another's result: running them
        with `asyncio.gather` costs the slowest call instead of the sum.
        """
        return await asyncio.gather(
            *(c.aexecute(functions) for c in self.tool_calls), return_exceptions=return_exceptions
        )


# The results of running a model's tool calls, each tied to its call's id, for replaying a conversation's
# tool turns (`tool_call_results` of a ToolCalls in a History message). A model, not a dspy.Type, as DSPy.
class ToolCallResults(BaseModel):
    class ToolCallResult(BaseModel):
        call_id: str | None = None
        name: str
        value: Any
        is_error: bool = False

    tool_call_results: list[ToolCallResult]

    @classmethod
    def from_tool_calls_and_values(
        cls,
        tool_calls: list[ToolCall] | ToolCalls,
        values: list[Any],
        is_errors: list[bool] | None = None,
    ) -> ToolCallResults:
        """One result per call, in order: `values[i]` (an error when `is_errors[i]`) answers `tool_calls[i]`."""
        calls = tool_calls.tool_calls if isinstance(tool_calls, ToolCalls) else tool_calls
        if len(calls) != len(values):
            raise ValueError("`tool_calls` and `values` must have the same length.")
        if is_errors is None:
            is_errors = [False] * len(calls)
        elif len(is_errors) != len(calls):
            raise ValueError("`is_errors` must have the same length as `tool_calls` when provided.")
        return cls(
            tool_call_results=[
                cls.ToolCallResult(call_id=call.id, name=call.name, value=value, is_error=is_error)
                for call, value, is_error in zip(calls, values, is_errors, strict=True)
            ]
        )

    @pydantic.model_validator(mode="before")
    @classmethod
    def _accept_shapes(cls, data: Any) -> Any:
        if isinstance(data, cls):
            return data
        if isinstance(data, list):
            return {"tool_call_results": data}
        if isinstance(data, dict):
            if "tool_call_results" in data:
                return data  # pyright: ignore[reportUnknownVariableType]
            if {"name", "value"}.issubset(data):  # pyright: ignore[reportUnknownArgumentType]
                return {"tool_call_results": [data]}
        raise ValueError(f"Received invalid value for `dspy.ToolCallResults`: {data}")


def _normalize_call(data: dict[str, Any]) -> dict[str, Any]:
    """DSPy's `{"name", "args"}` or a provider's `{"id", "function": {"name", "arguments": "<json>"}}`."""
    # A model's reply, whatever its annotation says: the check stays.
    if not isinstance(data, dict):  # pyright: ignore[reportUnnecessaryIsInstance]
        raise ValueError(f"Received invalid tool call value for `dspy.ToolCalls`: {data}")
    function = data.get("function")
    if isinstance(function, dict):
        arguments: Any = function.get("arguments", {})
        name = function.get("name") or data.get("name")
    else:
        arguments = data.get("args", data.get("arguments", {}))
        name = data.get("name")
    if isinstance(arguments, str):
        arguments = json_repair.loads(arguments)
    return {
        "id": data.get("id") or data.get("call_id"),
        "name": name,
        "args": arguments if isinstance(arguments, dict) else {},
    }


def _schema_of(tp: Any) -> dict[str, Any]:
    origin = get_origin(tp) or tp
    if isinstance(origin, type) and issubclass(origin, BaseModel):
        return _inline_refs(tp.model_json_schema())
    return _inline_refs(_adapter(tp).json_schema())


def _inline_refs(schema: dict[str, Any]) -> dict[str, Any]:
    """Replace `$ref`s with the definitions they point to: models read a flat schema more reliably."""
    defs = schema.get("$defs") or schema.get("definitions")
    if not defs:
        return schema

    def resolve(obj: Any) -> Any:
        if isinstance(obj, dict):
            if "$ref" in obj:
                return resolve(defs[str(obj["$ref"]).rsplit("/", 1)[-1]])
            return {k: resolve(v) for k, v in obj.items()}
        if isinstance(obj, list):
            return [resolve(v) for v in obj]
        return obj

    resolved: dict[str, Any] = resolve(schema)
    resolved.pop("$defs", None)
    resolved.pop("definitions", None)
    return resolved


def _json_default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return float(value)  # a JSON number fits a Decimal argument; pydantic would give a string
    try:
        return pydantic_core.to_jsonable_python(value)
    except Exception:
        return value


def _check_json_type(key: str, value: Any, schema: dict[str, Any]) -> None:
    """For args declared only by a JSON schema: check the top-level `type` (bool is not a number)."""
    kind = schema.get("type")
    expected = _JSON_TYPES.get(kind) if isinstance(kind, str) else None
    if expected is None:
        return
    if isinstance(value, bool) and bool not in expected:
        raise ValueError(f"Arg {key} is invalid: {value!r} is not of type '{kind}'")
    if not isinstance(value, expected):
        raise ValueError(f"Arg {key} is invalid: {value!r} is not of type '{kind}'")
