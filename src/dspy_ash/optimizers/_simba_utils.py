"""SIMBA's building blocks (DSPy's `dspy.teleprompt.simba_utils`): rollout LMs, scored trajectories,
and the two strategies that turn a bucket of trajectories into a new candidate program.

- `prepare_models_for_resampling`: `n` copies of the program's LM at temperature 1.0 with distinct
  rollout ids (the teacher's LM first when `teacher_settings` names one).
- `run_trajectory` (and DSPy's sync `wrap_program`): one traced run of a program on an example, scored
  by the metric, as the dict DSPy's strategies read (`prediction`, `trace`, `score`, `example`,
  `output_metadata`). Failures of the program or the metric score 0, as in DSPy.
- `append_a_demo`: the best trajectory's steps become demos of their predictors.
- `append_a_rule`: the prompt model compares the best and the worst trajectory (`OfferFeedback`) and
  its advice is appended to each predictor's instructions. Split in three for SIMBA, which saves the
  advice in its checkpoint: `rule_request` (the prompt inputs, or None to skip), `ask_for_advice`
  (the LM call) and `apply_advice`.
"""

from __future__ import annotations

import inspect
import json
import logging
import textwrap
from collections.abc import Callable
from typing import Any

from dspy_ash._sync import run_sync
from dspy_ash.adapters._formatting import field_descriptions
from dspy_ash.evaluate._calling import call_metric, run_program
from dspy_ash.modules._predict import Predict
from dspy_ash.primitives._example import Example
from dspy_ash.primitives._prediction import Prediction
from dspy_ash.settings import settings
from dspy_ash.signatures import InputField, OutputField, Signature

logger = logging.getLogger("dspy_ash.optimizers.simba")

Trajectory = dict[str, Any]  # prediction, trace, score, example, output_metadata
Strategy = Callable[..., bool]


def prepare_models_for_resampling(
    program: Any, n: int, teacher_settings: dict[str, Any] | None = None
) -> list[Any]:
    lm = program.get_lm() or settings.lm
    start_rollout_id = lm.kwargs.get("rollout_id", 0)
    rollout_ids = [start_rollout_id + i for i in range(n)]
    start, models = 0, []
    if teacher_settings:  # as DSPy: the teacher's LM comes first, its rollout id set in place
        teacher_lm = teacher_settings.get("lm") or lm
        teacher_lm.kwargs["rollout_id"] = rollout_ids[start]
        models.append(teacher_lm)
        start += 1
    models.extend(lm.copy(rollout_id=r, temperature=1.0) for r in rollout_ids[start:])
    return models


async def run_trajectory(program: Any, metric: Callable[..., Any], example: Any) -> Trajectory:
    """Run `program` on `example` with its trace captured, and score the prediction with `metric`."""
    prediction: Any = None
    with settings.context(trace=[]):
        try:
            prediction = await run_program(program, example)
        except Exception as exc:
            logger.warning(exc)
        trace = list(settings.trace)
    score: Any = 0.0
    output_metadata: dict[str, Any] = {}
    try:
        output = await call_metric(metric, example, prediction)
        if isinstance(output, int | float):
            score = output
        elif isinstance(output, Prediction):
            if not hasattr(output, "score"):
                raise ValueError(
                    "When `metric` returns a `dspy.Prediction`, it must contain a `score` field."
                )
            score = output.score
            output_metadata = {k: v for k, v in output.items() if k != "score"}
    except Exception as exc:
        logger.warning(exc)
    return {
        "prediction": prediction,
        "trace": trace,
        "score": score,
        "example": example,
        "output_metadata": output_metadata,
    }


def wrap_program(program: Any, metric: Callable[..., Any]) -> Callable[[Any], Trajectory]:
    """DSPy's sync form of `run_trajectory`: a function of the example."""

    def wrapped_program(example: Any) -> Trajectory:
        return run_sync(run_trajectory(program, metric, example))

    return wrapped_program


def append_a_demo(demo_input_field_maxlen: int) -> Strategy:
    def append_a_demo_(bucket: list[Trajectory], system: Any, **kwargs: Any) -> bool:
        predictor2name, name2predictor = kwargs["predictor2name"], kwargs["name2predictor"]
        good = bucket[0]
        if good["score"] <= kwargs["batch_10p_score"]:
            logger.info(
                "Skipping appending a demo as good score %s is at or below the 10th percentile.",
                good["score"],
            )
            return False
        name2demo: dict[str, Example] = {}
        for predictor, inputs, outputs in good["trace"]:
            for k, v in inputs.items():  # in place, as DSPy (the trace is this bucket's own)
                if demo_input_field_maxlen and len(str(v)) > demo_input_field_maxlen:
                    inputs[k] = f"{str(v)[:demo_input_field_maxlen]}\n\t\t... <TRUNCATED FOR BREVITY>"
            demo = Example(augmented=True, **inputs, **outputs)
            name = predictor2name.get(id(predictor))
            if name is None:
                continue
            name2demo[name] = demo  # the last demo of each predictor
        for name, demo in name2demo.items():
            name2predictor[name].demos.append(demo)
        logger.info("Added %d demos (one each) across all predictors.", len(name2demo))
        return True

    return append_a_demo_


def append_a_rule(bucket: list[Trajectory], system: Any, **kwargs: Any) -> bool:
    """DSPy's sync strategy: ask the prompt model for advice and append it to the instructions."""
    request = rule_request(bucket, system, **kwargs)
    if request is None:
        return False
    apply_advice(system, run_sync(ask_for_advice(request, kwargs["prompt_model"])))
    return True


def rule_request(bucket: list[Trajectory], system: Any, **kwargs: Any) -> dict[str, str] | None:
    """The `OfferFeedback` inputs contrasting the bucket's best and worst trajectory (None to skip).
    Like DSPy, it blanks out the side that is no better than the other (in the bucket's dicts)."""
    predictor2name = kwargs["predictor2name"]
    batch_10p_score, batch_90p_score = kwargs["batch_10p_score"], kwargs["batch_90p_score"]
    module_names = [name for name, _ in system.named_predictors()]
    good, bad = bucket[0], bucket[-1]
    example = good["example"]
    if good["score"] <= batch_10p_score or bad["score"] >= batch_90p_score:
        logger.info(
            "Skipping rule generation as good score %s is at or below the 10th percentile *or* bad score %s "
            "is at or above the 90th percentile.",
            good["score"],
            bad["score"],
        )
        return None
    if good["score"] <= bad["score"]:
        blank = bad if good["score"] > batch_90p_score else good
        blank["trace"] = []
        blank["score"] = "N/A"
        blank["prediction"] = {"N/A": "Prediction not available"}

    def trajectory(side: Trajectory) -> list[dict[str, Any]]:
        return [
            {"module_name": predictor2name[id(p)], "inputs": i, "outputs": dict(o)}
            for p, i, o in side["trace"]
            if id(p) in predictor2name
        ]

    values: dict[str, Any] = {
        "program_code": inspect.getsource(system.__class__),
        "modules_defn": inspect_modules(system),
        "program_inputs": {**example.inputs()},
        "oracle_metadata": {**example.labels()},
        "better_program_trajectory": trajectory(good),
        "better_program_outputs": dict(good["prediction"]),
        "worse_program_trajectory": trajectory(bad),
        "worse_program_outputs": dict(bad["prediction"] or {}),
        "worse_reward_value": bad["score"],
        "better_reward_value": good["score"],
        "worse_reward_info": bad["output_metadata"],
        "better_reward_info": good["output_metadata"],
        "module_names": module_names,
    }
    return {k: v if isinstance(v, str) else _dumps(recursive_mask(v)) for k, v in values.items()}


async def ask_for_advice(request: dict[str, str], prompt_model: Any) -> dict[str, str]:
    """The prompt model's advice per module name (DSPy's `OfferFeedback` call, untraced)."""
    with settings.context(trace=[], lm=prompt_model or settings.lm):
        prediction = await Predict(OfferFeedback).acall(**request)
    return prediction.module_advice


def apply_advice(system: Any, advice: dict[str, str]) -> None:
    for name, predictor in system.named_predictors():
        if name in advice:
            logger.info("Advice for %s: %s", name, advice[name])
            instructions = predictor.signature.instructions + "\n\n" + advice[name]
            predictor.signature = predictor.signature.with_instructions(instructions)


class OfferFeedback(Signature):
    """
    You will be given two trajectories of an LLM-driven program's execution. Your goal is to help the program's modules
    build up experience on how to maximize the reward value assigned to the program's outputs if it were to receive
    similar inputs in the future.

    The module won't see its own history. It will rely on your advice balancing being concrete and being generalizable.

    In your advice:
    - Avoid boilerplate. Offer advice that would change the module's behavior for the better in the future.
    - Ensure that advice offered to a module M is specific to that M's specific sub-task, not the overall program.
    - Rely on contrasting the behavior of the worse trajectory against the better trajectory in making recommendations.
    - Ensure each unique module name appears exactly once as a key in the advice dictionary.
    """

    program_code: str = InputField(desc="The code of the program that we are analyzing")
    modules_defn: str = InputField(desc="The definition of each module in the program, including its I/O")
    program_inputs: str = InputField(desc="The inputs to the program that we are analyzing")
    oracle_metadata: str = InputField(
        desc="Any (hidden) metadata about the training set instance we're analyzing"
    )
    worse_program_trajectory: str = InputField(
        desc="The trajectory of the program's execution, showing each module's I/O"
    )
    worse_program_outputs: str = InputField(desc="The outputs of the program that we are analyzing")
    worse_reward_value: float = InputField(desc="The reward value assigned to the program's outputs")
    worse_reward_info: str = InputField(
        desc="Additional information that might be helpful to understanding the assigned reward value."
    )
    better_program_trajectory: str = InputField(
        desc="The trajectory of the program's execution, showing each module's I/O"
    )
    better_program_outputs: str = InputField(desc="The outputs of the program that we are analyzing")
    better_reward_value: float = InputField(desc="The reward value assigned to the program's outputs")
    better_reward_info: str = InputField(
        desc="Additional information that might be helpful to understanding the assigned reward value."
    )
    module_names: list[str] = InputField(
        desc="The names of the modules in the program, for which we seek advice"
    )
    discussion: str = OutputField(desc="Discussing blame of where each module went wrong, if it did")
    module_advice: dict[str, str] = OutputField(
        desc="For each module, describe very concretely: If the module receives ${description of input or patterns "
        "therein}, then it should ${description of content, behavior, or strategies to adopt and/or others to avoid}. "
        "Basically, your advice be such that if the module has access to your tip, it would be much more likely to act "
        "like the successful trajectory rather than the lower-scoring trajectory."
    )


def inspect_modules(program: Any) -> str:
    """Each predictor's input and output fields and instructions, as DSPy shows them to the prompt model."""
    separator = "-" * 80
    output = [separator]
    indent = "\n" + "\t" * 2
    for name, predictor in program.named_predictors():
        signature = predictor.signature
        instructions = indent.join(["", *textwrap.dedent(signature.instructions).splitlines()])
        output.append(f"Module {name}")
        output.append("\n\tInput Fields:")
        output.append(indent.join(["", *field_descriptions(signature.input_fields).splitlines()]))
        output.append("\tOutput Fields:")
        output.append(indent.join(["", *field_descriptions(signature.output_fields).splitlines()]))
        output.append(f"\tOriginal Instructions: {instructions}")
        output.append(separator)
    return "\n".join([o.strip("\n") for o in output])


def recursive_mask(o: Any) -> Any:
    """`o` with every value JSON cannot hold replaced by a `<non-serializable: Type>` placeholder."""
    if _serializable(o):
        return o
    if isinstance(o, dict):
        return {k: recursive_mask(v) for k, v in o.items()}
    if isinstance(o, list):
        return [recursive_mask(v) for v in o]
    if isinstance(o, tuple):
        return tuple(recursive_mask(v) for v in o)
    return f"<non-serializable: {type(o).__name__}>"


def _serializable(o: Any) -> bool:
    try:
        json.dumps(o)
    except (TypeError, ValueError):
        return False
    return True


def _dumps(value: Any) -> str:
    """DSPy's `orjson.dumps(value, option=OPT_INDENT_2)` for JSON data: two-space indent, UTF-8 as is."""
    return json.dumps(value, indent=2, ensure_ascii=False)
