"""`Predict`: one LM call for one signature, with demos, config and saved state."""

from __future__ import annotations

import logging
import random
import types
from dataclasses import dataclass
from typing import Any, Literal, Self, Union, get_args, get_origin

from pydantic import BaseModel
from pydantic_core import PydanticUndefined

from dspy_ash.adapters._chat import ChatAdapter
from dspy_ash.errors import ConfigurationError, NoLMConfiguredError, SignatureError
from dspy_ash.lm._base import BaseLM
from dspy_ash.primitives._example import Example
from dspy_ash.primitives._module import Module, Predictor
from dspy_ash.primitives._prediction import Prediction
from dspy_ash.settings import read, settings
from dspy_ash.signatures._field import IS_TYPE_UNDEFINED, extra_of
from dspy_ash.signatures._signature import ensure_signature
from dspy_ash.signatures._types import allows_none

logger = logging.getLogger("dspy_ash.predict")

_DEFAULT_ADAPTER = ChatAdapter()
_UNSAFE_LM_KEYS = ("api_base", "base_url", "model_list")


class Predict(Module, Predictor):
    """`Predict("question -> answer", temperature=0.7)(question=...)`; keyword arguments only."""

    def __init__(self, signature: Any, callbacks: list[Any] | None = None, **config: Any) -> None:
        super().__init__(callbacks=callbacks)
        self.stage = random.randbytes(8).hex()
        self.signature = ensure_signature(signature)
        self.fields: dict[str, Any] = {}
        self.config = config
        self.reset()

    def reset(self) -> None:
        self.lm: Any = None
        self.traces: list[Any] = []
        self.train: list[Any] = []
        self.demos: list[Any] = []

    # -- calling ---------------------------------------------------------------------------------------
    def _positional_error(self) -> ValueError:
        names = list(self.signature.input_fields)
        return ValueError(
            "Positional arguments are not allowed when calling `dspy.Predict`, must use keyword arguments that "
            f"match your signature input fields: '{', '.join(names)}'. For example: "
            f"`predict({names[0] if names else 'input'}=input_value, ...)`."
        )

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if args:
            raise self._positional_error()
        return super().__call__(**kwargs)

    async def acall(self, *args: Any, **kwargs: Any) -> Any:
        if args:
            raise self._positional_error()
        return await super().acall(**kwargs)

    async def aforward(self, **kwargs: Any) -> Prediction:
        lm, config, signature, demos, inputs = self._prepare(kwargs)
        adapter = read("adapter") or _DEFAULT_ADAPTER
        if read("send_stream") is None:
            completions = await adapter.acall(lm, config, signature, demos, inputs)
        else:
            with settings.context(**self._stream_scope()):
                completions = await adapter.acall(lm, config, signature, demos, inputs)
        pred = Prediction.from_completions(completions, signature=signature)
        trace = read("trace")
        if trace is not None and (limit := read("max_trace_size")) > 0:
            if len(trace) >= limit:
                trace.pop(0)
            trace.append((self, dict(inputs), pred))
        return pred

    def _stream_scope(self) -> dict[str, Any]:
        """Under `streamify`: this predictor's LM calls stream (tagged with it) when a listener targets it
        or when there are no listeners; otherwise they run unstreamed, as in DSPy."""
        listeners = read("stream_listeners") or []
        if listeners and not any(listener.predict is self for listener in listeners):
            return {"send_stream": None}
        return {"caller_predict": self}

    def _prepare(self, kwargs: dict[str, Any]) -> tuple[Any, dict[str, Any], Any, list[Any], dict[str, Any]]:
        """Split the call's keywords into (lm, config, signature, demos, inputs), as DSPy's `_forward_preprocess`."""
        if "new_signature" in kwargs:
            raise ConfigurationError("new_signature is no longer a valid keyword argument.")
        signature = ensure_signature(kwargs.pop("signature", self.signature))
        demos = kwargs.pop("demos", self.demos)
        config = {**self.config, **kwargs.pop("config", {})}
        lm = kwargs.pop("lm", self.lm) or read("lm")
        if not isinstance(lm, BaseLM):
            raise _not_an_lm(lm)
        _sample_when_many(lm, config)
        prediction = kwargs.get("prediction")
        if isinstance(prediction, dict) and prediction.get("type") == "content" and "content" in prediction:
            config["prediction"] = kwargs.pop("prediction")
        _check_inputs(signature, kwargs)
        return lm, config, signature, demos, kwargs

    # -- config and state -------------------------------------------------------------------------------
    def update_config(self, **kwargs: Any) -> None:
        self.config = {**self.config, **kwargs}

    def get_config(self) -> dict[str, Any]:
        return self.config

    def dump_state(self, json_mode: bool = True) -> dict[str, Any]:
        state: dict[str, Any] = {"traces": self.traces, "train": self.train, "demos": []}
        for demo in self.demos:
            plain = {k: serialize_object(v) for k, v in demo.items()}
            if not isinstance(demo, dict) and not json_mode:
                state["demos"].append(type(demo)(**plain))
            else:
                state["demos"].append(plain)
        state["signature"] = self.signature.dump_state()
        if self.fields:
            state["fields"] = dict(self.fields)
        state["lm"] = self.lm.dump_state() if self.lm else None
        return state

    def load_state(self, state: dict[str, Any], *, allow_unsafe_lm_state: bool = False) -> Self:
        if "extended_signature" in state:
            raise NotImplementedError("Loading extended_signature is no longer supported in DSPy 2.6+")
        signature = self.signature.load_state(state["signature"])
        lm_state = state.get("lm")
        lm = None
        if lm_state:
            lm_state = dict(lm_state)
            if not allow_unsafe_lm_state:
                unsafe = [k for k in _UNSAFE_LM_KEYS if k in lm_state]
                if unsafe:
                    logger.warning(
                        "Ignoring unsafe LM config key(s) during state load: %s. Pass "
                        "allow_unsafe_lm_state=True to preserve these keys for trusted files.",
                        unsafe,
                    )
                    for key in unsafe:
                        del lm_state[key]
            lm = BaseLM.load_state(lm_state, allow_custom_lm_class=allow_unsafe_lm_state)
        for name, value in state.items():
            if name not in ("signature", "extended_signature", "lm", "fields"):
                setattr(self, name, value)
        self.signature = signature
        self.fields = dict(state.get("fields", {}))
        self.lm = lm
        return self

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.signature})"


def _not_an_lm(lm: Any) -> ConfigurationError:
    if lm is None:
        return NoLMConfiguredError(
            "No LM is loaded. Please configure the LM using `dspy.configure(lm=dspy.LM(...))`. e.g, "
            "`dspy.configure(lm=dspy.LM('openai/gpt-4o-mini'))`"
        )
    if isinstance(lm, str):
        return ConfigurationError(
            "LM must be an instance of `dspy.BaseLM`, not a string. Instead of using a string like "
            f"'dspy.configure(lm=\"{lm}\")', please configure the LM like 'dspy.configure(lm=dspy.LM(\"{lm}\"))'"
        )
    return ConfigurationError(f"LM must be an instance of `dspy.BaseLM`, not {type(lm)}.")


def _sample_when_many(lm: BaseLM, config: dict[str, Any]) -> None:
    """Several completions at (near) zero temperature would be copies of one another: DSPy raises it to 0.7."""
    defaults = lm.kwargs
    temperature = config.get("temperature") or defaults.get("temperature")
    n = config.get("n") or defaults.get("n") or defaults.get("num_generations") or 1
    if (temperature is None or temperature <= 0.15) and n > 1:
        config["temperature"] = 0.7


def _check_inputs(signature: Any, kwargs: dict[str, Any]) -> None:
    """Fill input defaults into `kwargs`, then warn (or, with `strict_inputs`, raise) as DSPy does."""
    plan = _input_plan(signature)
    for name, default in plan.defaults:
        if name not in kwargs:
            kwargs[name] = default
    if not kwargs.keys() <= plan.names:
        logger.warning(
            "Input contains fields not in signature. These fields will be ignored: %s. Expected fields: %s.",
            [k for k in kwargs if k not in plan.names],
            list(signature.input_fields),
        )
    if read("warn_on_type_mismatch"):
        _warn_type_mismatches(plan.checked, kwargs)
    if not plan.required <= kwargs.keys():
        missing = [name for name in plan.required_in_order if name not in kwargs]
        if read("strict_inputs"):
            raise SignatureError(
                f"Missing input fields {missing} for {signature.signature!r}.", field=missing[0]
            )
        logger.warning(
            "Not all input fields were provided to module. Present: %s. Missing: %s.",
            [k for k in signature.input_fields if k in kwargs],
            missing,
        )


def _warn_type_mismatches(checked: tuple[tuple[str, Any], ...], kwargs: dict[str, Any]) -> None:
    for name, annotation in checked:
        value = kwargs.get(name)
        if value is None or (annotation is str and type(value) is str):
            continue
        if not _compatible(value, annotation):
            logger.warning(
                "Type mismatch for field '%s': expected %s based on given Signature, but the "
                "provided value is incompatible: %s.",
                name,
                type_name(annotation),
                value,
            )


def type_name(annotation: Any) -> str:
    """A type as DSPy names it in messages: `int`, `Literal['a', 'b']`, `list[str]`, `Query`."""
    origin, args = get_origin(annotation), get_args(annotation)
    if origin is None:
        return getattr(annotation, "__name__", str(annotation))
    if origin is Literal:
        return f"Literal[{', '.join(repr(arg) for arg in args)}]"
    if args:
        inner = ", ".join("..." if arg is ... else type_name(arg) for arg in args)
        return f"{getattr(origin, '__name__', str(origin))}[{inner}]"
    return getattr(origin, "__name__", str(origin))


@dataclass(frozen=True, slots=True)
class _InputPlan:
    """What `_check_inputs` needs of a signature's inputs, worked out once per signature class."""

    names: frozenset[str]
    defaults: tuple[tuple[str, Any], ...]  # fields with a default, in field order
    checked: tuple[tuple[str, Any], ...]  # (name, annotation) of the fields whose type is checked
    required_in_order: tuple[str, ...]  # fields that may not be left out (their type does not admit None)
    required: frozenset[str]


def _input_plan(signature: Any) -> _InputPlan:
    plan = signature.__dict__.get("_dspy_ash_input_plan")
    if plan is None:
        fields = signature.input_fields
        required = tuple(name for name, field in fields.items() if not allows_none(field.annotation))
        plan = _InputPlan(
            names=frozenset(fields),
            defaults=tuple(
                (name, field.default)
                for name, field in fields.items()
                if field.default is not PydanticUndefined
            ),
            checked=tuple(
                (name, field.annotation)
                for name, field in fields.items()
                if not extra_of(field).get(IS_TYPE_UNDEFINED, False)
            ),
            required_in_order=required,
            required=frozenset(required),
        )
        signature._dspy_ash_input_plan = plan
    return plan


def serialize_object(value: Any) -> Any:
    """Demo values as JSON-compatible data (pydantic models dumped in JSON mode), as DSPy saves them."""
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    if isinstance(value, Example):  # a nested example is saved as its fields, as DSPy saves it
        return serialize_object(value.toDict())
    if isinstance(value, list):
        return [serialize_object(v) for v in value]
    if isinstance(value, tuple):
        return tuple(serialize_object(v) for v in value)
    if isinstance(value, dict):
        return {k: serialize_object(v) for k, v in value.items()}
    return value


def _compatible(value: Any, expected: Any) -> bool:
    """A cheap structural check of an input value against its annotation (for warnings only)."""
    if expected is Any or expected is None:
        return True
    if expected is str and isinstance(value, list):
        return all(isinstance(v, str) for v in value)
    origin, args = get_origin(expected), get_args(expected)
    if origin in (Union, types.UnionType):
        return any(_compatible(value, a) for a in args)
    if origin is Literal:
        return value in args
    if origin in (list, set, frozenset):
        return isinstance(value, origin) and (not args or all(_compatible(v, args[0]) for v in value))
    if origin is dict:
        return isinstance(value, dict) and (
            not args or all(_compatible(k, args[0]) and _compatible(v, args[1]) for k, v in value.items())
        )
    if origin is tuple:
        if not isinstance(value, tuple):
            return False
        if len(args) == 2 and args[1] is Ellipsis:
            return all(_compatible(v, args[0]) for v in value)
        return not args or (
            len(args) == len(value) and all(_compatible(v, a) for v, a in zip(value, args, strict=False))
        )
    if origin is not None:
        return True
    if isinstance(expected, type):
        return isinstance(value, expected)
    return True
