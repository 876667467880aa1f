"""`Refine`: BestOfN that, after a low-reward attempt, asks the model for advice per predictor and
feeds it to the next attempt as an extra `hint_` input (DSPy's OfferFeedback loop)."""

from __future__ import annotations

import inspect
import json
import textwrap
from typing import Any

from dspy_ash.adapters._chat import ChatAdapter
from dspy_ash.adapters._formatting import field_descriptions
from dspy_ash.modules._predict import Predict
from dspy_ash.modules._rollouts import Attempt, FailureBudget, RewardFn, Rollouts, keep_best_trace
from dspy_ash.primitives._module import Module
from dspy_ash.settings import settings
from dspy_ash.signatures._field import InputField, OutputField
from dspy_ash.signatures._signature import Signature


class OfferFeedback(Signature):
    """
    In the discussion, assign blame to each module that contributed to the final reward being below the threshold, if
    any. Then, prescribe concrete advice of how the module should act on its future input when we retry the process, if
    it were to receive the same or similar inputs. If a module is not to blame, the advice should be N/A.
    The module will not see its own history, so it needs to rely on entirely concrete and actionable advice from you
    to avoid the same mistake on the same or similar inputs.
    """

    program_code: str = InputField(desc="The code of the program that we are analyzing")
    modules_defn: str = InputField(desc="The definition of each module in the program, including its I/O")
    program_inputs: str = InputField(desc="The inputs to the program that we are analyzing")
    program_trajectory: str = InputField(
        desc="The trajectory of the program's execution, showing each module's I/O"
    )
    program_outputs: str = InputField(desc="The outputs of the program that we are analyzing")
    reward_code: str = InputField(desc="The code of the reward function that we are analyzing")
    target_threshold: float = InputField(desc="The target threshold for the reward function")
    reward_value: float = InputField(desc="The reward value assigned to the program's outputs")
    module_names: list[str] = InputField(
        desc="The names of the modules in the program, for which we seek advice"
    )
    discussion: str = OutputField(desc="Discussing blame of where each module went wrong, if it did")
    advice: dict[str, str] = OutputField(
        desc="For each module, describe very concretely, in this order: the specific scenarios in which it has made "
        "mistakes in the past and what each mistake was, followed by what it should do differently in that kind of"
        "scenario in the future. If the module is not to blame, write N/A."
    )


class Refine(Rollouts):
    """Like `BestOfN`, but after each attempt below `threshold` the LM writes advice from the attempt and
    its reward, which the next attempt receives as a hint. Arguments as for `BestOfN`."""

    def __init__(
        self, module: Module, N: int, reward_fn: RewardFn, threshold: float, fail_count: int | None = None
    ) -> None:
        super().__init__(module, N, reward_fn, threshold, fail_count)
        self.module_code = _source(module.__class__)
        self.reward_fn_code = _source(reward_fn)

    async def aforward(self, **kwargs: Any) -> Any:
        budget = FailureBudget(self.fail_count, "Refine")
        adapter = settings.adapter or ChatAdapter()
        best: Attempt | None = None
        advice: dict[str, str] | None = None
        for idx, rid, mod in self.attempts():
            named = mod.named_predictors()
            predictor_names = {id(p): n for n, p in named}
            try:
                with settings.context(trace=[]):
                    if advice:
                        with settings.context(adapter=_hinting_adapter(adapter, advice, named)):
                            outputs = await mod.acall(**kwargs)
                    else:
                        outputs = await mod.acall(**kwargs)
                    trace = list(settings.trace or [])
                    reward = self.reward_fn(kwargs, outputs)
                if best is None or reward > best.reward:
                    best = Attempt(outputs, trace, reward)
                # As DSPy: `threshold=None` runs all N attempts.
                if self.threshold is not None and reward >= self.threshold:  # pyright: ignore[reportUnnecessaryComparison]
                    break
                if idx == self.N - 1:
                    break
                advice = await self._advise(
                    mod, kwargs, outputs, trace, reward, predictor_names, [n for n, _ in named]
                )
            except Exception as exc:
                budget.spend(idx, rid, exc)
        keep_best_trace(best)
        return best.pred if best is not None else None

    async def _advise(
        self,
        mod: Module,
        kwargs: dict[str, Any],
        outputs: Any,
        trace: list[Any],
        reward: float,
        predictor_names: dict[int, str],
        module_names: list[str],
    ) -> dict[str, str]:
        trajectory = [
            {"module_name": predictor_names.get(id(p), "?"), "inputs": i, "outputs": dict(o)}
            for p, i, o in trace
        ]
        raw: dict[str, Any] = {
            "program_code": self.module_code,
            "modules_defn": inspect_modules(mod),
            "program_inputs": kwargs,
            "program_trajectory": trajectory,
            "program_outputs": dict(outputs),
            "reward_code": self.reward_fn_code,
            "target_threshold": self.threshold,
            "reward_value": reward,
            "module_names": module_names,
        }
        # Everything but strings is shown to the model as indented JSON, as DSPy does.
        inputs = {
            k: v if isinstance(v, str) else json.dumps(_mask(v), indent=2, ensure_ascii=False)
            for k, v in raw.items()
        }
        pred = await Predict(OfferFeedback).acall(**inputs)
        return dict(pred.advice or {})


def _hinting_adapter(adapter: Any, advice: dict[str, str], named: list[tuple[str, Any]]) -> Any:
    """The current adapter, with each predictor's advice added as the `hint_` input field."""
    names_by_signature = {id(p.signature): n for n, p in named}

    def add_hint(signature: Any, inputs: dict[str, Any]) -> Any:
        inputs["hint_"] = advice.get(names_by_signature.get(id(signature), ""), "N/A")
        return signature.append("hint_", InputField(desc="A hint to the module from an earlier run"))

    class HintingAdapter(type(adapter)):  # type: ignore[misc]
        def __call__(
            self, lm: Any, lm_kwargs: dict[str, Any], signature: Any, demos: list[Any], inputs: dict[str, Any]
        ) -> Any:
            return adapter(lm, lm_kwargs, add_hint(signature, inputs), demos, inputs)

        async def acall(
            self, lm: Any, lm_kwargs: dict[str, Any], signature: Any, demos: list[Any], inputs: dict[str, Any]
        ) -> Any:
            return await adapter.acall(lm, lm_kwargs, add_hint(signature, inputs), demos, inputs)

    wrapper = HintingAdapter.__new__(HintingAdapter)
    wrapper.__dict__.update(adapter.__dict__)
    return wrapper


def inspect_modules(program: Module) -> str:
    separator = "-" * 80
    output = [separator]
    for name, predictor in program.named_predictors():
        signature = predictor.signature
        instructions = ("\n" + "\t" * 2).join(["", *textwrap.dedent(signature.instructions).splitlines()])
        output.append(f"Module {name}")
        output.append("\n\tInput Fields:")
        output.append(("\n" + "\t" * 2).join(["", *field_descriptions(signature.input_fields).splitlines()]))
        output.append("\tOutput Fields:")
        output.append(("\n" + "\t" * 2).join(["", *field_descriptions(signature.output_fields).splitlines()]))
        output.append(f"\tOriginal Instructions: {instructions}")
        output.append(separator)
    return "\n".join(o.strip("\n") for o in output)


def _mask(o: Any) -> Any:
    """Replace what JSON cannot hold with a placeholder naming its type."""
    try:
        json.dumps(o)
        return o
    except (TypeError, ValueError):
        pass
    if isinstance(o, dict):
        return {k: _mask(v) for k, v in o.items()}
    if isinstance(o, list | tuple):
        return [_mask(v) for v in o]
    return f"<non-serializable: {type(o).__name__}>"


def _source(obj: Any) -> str:
    try:
        return inspect.getsource(obj)
    except (TypeError, OSError):
        try:
            return inspect.getsource(obj.__class__)
        except (TypeError, OSError):
            return repr(obj)
