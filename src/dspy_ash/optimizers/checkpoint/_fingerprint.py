"""What a checkpoint must match: a stable hash of an optimizer's configuration, data, program and metric.

A value counts by what it does, not by its name: a function (a lambda included) by its code, its
constants, its defaults, its closure values and the functions and plain data it names as globals; a
callable object by its class, its `__call__` and its attributes; a program by its saved state and its
predictors' signatures (field names and types too); an example by its values and its input keys.
The hash is the same in every process (sets are sorted, no `hash()` is used). A value with no
faithful text form (its repr names a memory address) cannot be matched across processes: it is
reported in `unstable`, and a checkpoint is then never resumed (see `CheckpointSession.open`).
"""

from __future__ import annotations

import functools
import hashlib
import json
import types
from dataclasses import dataclass, field
from typing import Any

from dspy_ash.settings import settings

_SCALARS = (str, int, float, bool, type(None))


@dataclass(frozen=True)
class Fingerprint:
    digest: str
    unstable: list[str] = field(default_factory=list[str])  # what could not be fingerprinted


def fingerprint(*parts: Any) -> Fingerprint:
    """The fingerprint of `parts` and of the configured model.

    The model is identified by its name only: a run resumed with a fresh client for the same model
    (new connection pool, new key) continues the same checkpoint."""
    walker = _Walker()
    try:
        text = json.dumps(
            [*parts, getattr(settings.lm, "model", None)],
            sort_keys=True,
            default=walker.plain,
            ensure_ascii=False,
        )
    except (ValueError, RecursionError):  # a value that contains itself
        return Fingerprint(hashlib.sha256(b"circular").hexdigest(), ["a value that contains itself"])
    return Fingerprint(hashlib.sha256(text.encode()).hexdigest(), walker.unstable)


def program_fingerprint(program: Any) -> list[Any]:
    """A program's saved state plus each predictor's full signature (types are not in the state)."""
    return [program.dump_state(), [[name, repr(p.signature)] for name, p in program.named_predictors()]]


class _Walker:
    """`json.dumps`'s `default`: turns each non-JSON value into plain data that stands for its behaviour."""

    def __init__(self) -> None:
        self.unstable: list[str] = []
        self._seen: set[int] = set()  # functions already on the path (recursion)

    def plain(self, value: Any) -> Any:
        if hasattr(value, "toDict") and hasattr(value, "inputs"):  # an Example: values and input keys
            return {"example": value.toDict(), "inputs": sorted(getattr(value, "_input_keys", None) or [])}
        if hasattr(value, "toDict"):
            return value.toDict()
        if hasattr(value, "model_dump"):
            return value.model_dump(mode="json")
        if isinstance(value, set | frozenset):
            items: list[Any] = [json.dumps(v, sort_keys=True, default=self.plain) for v in value]  # pyright: ignore[reportUnknownVariableType]
            return {"set": sorted(items)}
        if isinstance(value, bytes):
            return {"bytes": value.hex()}
        if isinstance(value, types.FunctionType):
            return self._function(value)
        if isinstance(value, types.MethodType):
            return {"method": value.__func__, "self": value.__self__}
        if isinstance(value, functools.partial):
            return {"partial": value.func, "args": value.args, "keywords": value.keywords}  # pyright: ignore[reportUnknownMemberType]
        if isinstance(value, types.CodeType):
            return self._code(value)
        if isinstance(value, type | types.ModuleType | types.BuiltinFunctionType):
            return {
                "name": f"{getattr(value, '__module__', '')}.{getattr(value, '__qualname__', value.__name__)}"
            }
        if hasattr(value, "dump_state"):  # modules and LMs: their saved state
            return {"class": _qualname(type(value)), "state": value.dump_state()}
        if hasattr(
            value, "__dict__"
        ):  # an object (a callable one, a bound method's self): class, code, state
            call = type(value).__call__ if callable(value) else None  # pyright: ignore[reportUnknownMemberType]
            return {"class": _qualname(type(value)), "call": call, "state": vars(value)}
        text = repr(value)
        if " at 0x" in text:
            self.unstable.append(f"a value of type {_qualname(type(value))}")
            return {"unstable": _qualname(type(value))}
        return {"repr": text}

    def _function(self, fn: types.FunctionType) -> Any:
        name = f"{fn.__module__}.{fn.__qualname__}"
        if id(fn) in self._seen:
            return {"recursive": name}
        self._seen.add(id(fn))
        try:
            body = {
                "code": fn.__code__,
                "defaults": fn.__defaults__,
                "kwdefaults": fn.__kwdefaults__,
                "closure": [_cell(cell) for cell in fn.__closure__ or ()],
                "globals": self._globals(fn),
            }
            # Encoded here, while the function is on the path, so a function that reaches itself (a
            # recursive helper) meets the marker above instead of json's circular-reference error.
            return {"function": name, "body": json.dumps(body, sort_keys=True, default=self.plain)}
        finally:
            self._seen.discard(id(fn))

    def _code(self, code: types.CodeType) -> Any:
        return {
            "bytecode": code.co_code.hex(),
            "consts": list(code.co_consts),  # nested functions' code objects come back here
            "names": list(code.co_names),
            "args": code.co_argcount + code.co_kwonlyargcount,
        }

    def _globals(self, fn: types.FunctionType) -> dict[str, Any]:
        """The functions and plain data the function names as globals (a helper it calls, a threshold).
        Other objects it reaches that way (clients, modules, classes) are services, not configuration:
        they count by name only."""
        found: dict[str, Any] = {}
        for name in sorted(_names(fn.__code__)):
            if name not in fn.__globals__:
                continue
            value = fn.__globals__[name]
            if (
                isinstance(value, types.FunctionType | functools.partial)
                or _is_data(value)
                or hasattr(value, "dump_state")
            ):
                found[name] = value
        return found


def _cell(cell: Any) -> Any:
    try:
        return cell.cell_contents
    except ValueError:  # not yet assigned (a name bound after the function was made)
        return {"empty cell": True}


def _names(code: types.CodeType) -> set[str]:
    names = set(code.co_names)
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            names |= _names(const)
    return names


def _is_data(value: Any) -> bool:
    if isinstance(value, _SCALARS):
        return True
    if isinstance(value, list | tuple | set | frozenset):
        return all(_is_data(v) for v in value)  # pyright: ignore[reportUnknownVariableType]
    if isinstance(value, dict):
        return all(isinstance(k, str) and _is_data(v) for k, v in value.items())  # pyright: ignore[reportUnknownVariableType]
    return False


def _qualname(cls: type) -> str:
    return f"{cls.__module__}.{cls.__qualname__}"
