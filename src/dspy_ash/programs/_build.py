"""Building a validated declarative spec into an engine Module, without running any user code."""

from __future__ import annotations

from typing import Any

from dspy_ash.errors import InvalidInputError
from dspy_ash.modules._chain_of_thought import ChainOfThought
from dspy_ash.modules._predict import Predict
from dspy_ash.modules._retrieve import Retrieve
from dspy_ash.primitives._module import Module
from dspy_ash.primitives._prediction import Prediction
from dspy_ash.programs._declarative import (
    ChainOfThoughtStep,
    LoopStep,
    PredictStep,
    ProgramSpec,
    RetrieveStep,
    signature_fields,
    step_outputs,
    validate_spec,
)
from dspy_ash.signatures import ensure_signature


def build_program(spec: ProgramSpec | dict[str, Any]) -> Any:
    """A `dspy_ash.Module` whose predictors are attributes named by step id (so its saved state has
    DSPy's shape: `"answer.predict"`, `"draft"`, ...), running the steps as the spec wires them."""
    checked = spec if isinstance(spec, ProgramSpec) else validate_spec(spec)
    return DeclarativeProgram(checked)


class DeclarativeProgram(Module):
    def __init__(self, spec: ProgramSpec) -> None:
        super().__init__()
        self.spec = spec
        for step in _leaf_steps(spec.steps):
            setattr(self, step.id, _build_step(step))

    async def aforward(self, **inputs: Any) -> Any:
        missing = [name for name in self.spec.inputs if name not in inputs]
        if missing:
            raise InvalidInputError(f"missing inputs: {missing}")
        env: dict[str, Any] = {name: inputs[name] for name in self.spec.inputs}
        await self._run(self.spec.steps, env)
        return Prediction(**{name: env[ref] for name, ref in self.spec.outputs.items()})

    async def _run(self, steps: list[Any], env: dict[str, Any]) -> None:
        for step in steps:
            if isinstance(step, LoopStep):
                for var in step.accumulate:
                    env[var] = list(env.get(var, []))
                for _ in range(step.max_iterations):
                    await self._run(step.steps, env)
                    for var, ref in step.accumulate.items():
                        value = env[ref]
                        env[var] = [*env[var], *(value if isinstance(value, list) else [value])]
                continue
            module = getattr(self, step.id)
            if isinstance(step, RetrieveStep):
                result = await module.acall(query=env[step.query], k=step.k)
            else:
                kwargs = {f: env[step.inputs.get(f, f)] for f in _input_names(step)}
                result = await module.acall(**kwargs)
            for field in step_outputs(step):
                value = result[field]
                env[f"{step.id}.{field}"] = list(value) if field == "passages" else value


def _leaf_steps(steps: list[Any]) -> list[PredictStep | ChainOfThoughtStep | RetrieveStep]:
    out: list[PredictStep | ChainOfThoughtStep | RetrieveStep] = []
    for step in steps:
        out.extend(_leaf_steps(step.steps) if isinstance(step, LoopStep) else [step])
    return out


def _input_names(step: PredictStep | ChainOfThoughtStep) -> list[str]:
    return signature_fields(step.signature)[0]


def _build_step(step: PredictStep | ChainOfThoughtStep | RetrieveStep) -> Any:
    if isinstance(step, RetrieveStep):
        return Retrieve(k=step.k)
    signature = ensure_signature(step.signature, step.instructions)
    if isinstance(step, ChainOfThoughtStep):
        return ChainOfThought(signature, **step.config)
    return Predict(signature, **step.config)
