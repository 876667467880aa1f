"""Declarative programs: a JSON spec of steps, validated here and built into engine modules.

A spec is data, never code: steps are `predict`, `chain_of_thought`, `retrieve` and bounded `loop`s
(multi-hop), wired by naming variables. A variable is a program input (`"question"`), a step's
output (`"answer.answer"`, `"search.passages"`) or a list a loop accumulates (`"context"`).

    {"inputs": ["question"],
     "steps": [
       {"type": "loop", "id": "hops", "max_iterations": 2, "accumulate": {"context": "search.passages"},
        "steps": [
          {"type": "chain_of_thought", "id": "query", "signature": "context, question -> query"},
          {"type": "retrieve", "id": "search", "query": "query.query", "k": 3}]},
       {"type": "chain_of_thought", "id": "answer", "signature": "context, question -> answer"}],
     "outputs": {"answer": "answer.answer"}}

An input field a step does not wire explicitly reads the variable of the same name.
"""

from __future__ import annotations

from functools import cache
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from dspy_ash.errors import SignatureError
from dspy_ash.primitives._module import Module
from dspy_ash.signatures._parser import parse_signature_string
from dspy_ash.store._errors import InvalidSpecError

MAX_LOOP_ITERATIONS = 10
MAX_STEPS = 50
_IDENT = r"^[A-Za-z_][A-Za-z0-9_]*$"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class PredictStep(_Strict):
    type: Literal["predict"]
    id: str = Field(pattern=_IDENT)
    signature: str
    instructions: str | None = None
    inputs: dict[str, str] = Field(default_factory=dict)  # signature input field -> variable
    config: dict[str, Any] = Field(default_factory=dict)  # Predict config (temperature, n, ...)


class ChainOfThoughtStep(_Strict):
    type: Literal["chain_of_thought"]
    id: str = Field(pattern=_IDENT)
    signature: str
    instructions: str | None = None
    inputs: dict[str, str] = Field(default_factory=dict)
    config: dict[str, Any] = Field(default_factory=dict)


class RetrieveStep(_Strict):
    type: Literal["retrieve"]
    id: str = Field(pattern=_IDENT)
    query: str  # variable holding the query text
    k: int = Field(default=3, ge=1, le=100)


class LoopStep(_Strict):
    type: Literal["loop"]
    id: str = Field(pattern=_IDENT)
    max_iterations: int = Field(ge=1, le=MAX_LOOP_ITERATIONS)
    steps: list[Step] = Field(min_length=1)
    accumulate: dict[str, str] = Field(default_factory=dict)  # list variable -> variable appended each pass


Step = Annotated[PredictStep | ChainOfThoughtStep | RetrieveStep | LoopStep, Field(discriminator="type")]
LoopStep.model_rebuild()


class ProgramSpec(_Strict):
    inputs: list[str] = Field(min_length=1)
    steps: list[Step] = Field(min_length=1)
    outputs: dict[str, str] = Field(min_length=1)  # prediction field -> variable


@cache
def signature_fields(signature: str) -> tuple[list[str], list[str]]:
    """Input and output names of a signature string, parsed with `ast` only (nothing is evaluated)."""
    inputs, outputs = parse_signature_string(signature)
    return [name for name, _, _ in inputs], [name for name, _, _ in outputs]


@cache
def _reserved_names() -> frozenset[str]:
    """Attribute names of the built program (steps become attributes: `forward` must stay a method)."""
    return frozenset(dir(Module)) | {"spec", "callbacks", "history"}


def step_outputs(step: PredictStep | ChainOfThoughtStep | RetrieveStep) -> list[str]:
    if isinstance(step, RetrieveStep):
        return ["passages"]
    outputs = signature_fields(step.signature)[1]
    return ["reasoning", *outputs] if isinstance(step, ChainOfThoughtStep) else outputs


def validate_spec(data: Any) -> ProgramSpec:
    """A checked spec, or InvalidSpecError naming where it is wrong."""
    try:
        spec = ProgramSpec.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        raise InvalidSpecError(
            first["msg"], location=".".join(str(p) for p in first["loc"]) or None
        ) from None
    _Checker().check(spec)
    return spec


class _Checker:
    """Walks the steps in order with the set of variables defined so far."""

    def __init__(self) -> None:
        self.ids: set[str] = set()
        self.count = 0

    def check(self, spec: ProgramSpec) -> None:
        defined = set(spec.inputs)
        self._steps(spec.steps, defined, "steps")
        for name, ref in spec.outputs.items():
            self._ref(ref, defined, f"outputs.{name}")

    def _steps(self, steps: list[Any], defined: set[str], where: str) -> None:
        for index, step in enumerate(steps):
            loc = f"{where}.{index}"
            self.count += 1
            if self.count > MAX_STEPS:
                raise InvalidSpecError(f"at most {MAX_STEPS} steps", location=loc)
            if step.id in self.ids:
                raise InvalidSpecError(f"duplicate step id {step.id!r}", location=loc)
            if step.id.startswith("_") or step.id in _reserved_names():
                raise InvalidSpecError(f"step id {step.id!r} is taken by the program itself", location=loc)
            self.ids.add(step.id)
            if isinstance(step, LoopStep):
                for var in step.accumulate:
                    defined.add(var)  # empty list before the first pass
                self._steps(step.steps, defined, f"{loc}.steps")
                for var, ref in step.accumulate.items():
                    self._ref(ref, defined, f"{loc}.accumulate.{var}")
            elif isinstance(step, RetrieveStep):
                self._ref(step.query, defined, f"{loc}.query")
                defined.add(f"{step.id}.passages")
            else:
                try:
                    inputs, _ = signature_fields(step.signature)
                    outputs = step_outputs(step)
                except SignatureError as exc:
                    raise InvalidSpecError(str(exc), location=f"{loc}.signature") from None
                unknown = sorted(set(step.inputs) - set(inputs))
                if unknown:
                    raise InvalidSpecError(f"wires {unknown} which the signature does not take", location=loc)
                for field in inputs:
                    self._ref(step.inputs.get(field, field), defined, f"{loc}.inputs.{field}")
                defined.update(f"{step.id}.{field}" for field in outputs)

    @staticmethod
    def _ref(ref: str, defined: set[str], loc: str) -> None:
        if ref not in defined:
            raise InvalidSpecError(f"{ref!r} is not defined before this point", location=loc)
