"""DSPy's `dspy.teleprompt.utils` helpers for writing optimizers, with DSPy's signatures (sync).

dspy-ash's own optimizers use the concurrent, checkpointed forms (`_demo_candidates`, `_scoring`);
these are for code written against DSPy: a minibatch, a candidate's evaluation that never raises,
and the candidate demo sets of MIPROv2's scheme built one after another, as DSPy builds them.
"""

from __future__ import annotations

import logging
import random
from typing import Any

from dspy_ash.optimizers._bootstrap import BootstrapFewShot
from dspy_ash.optimizers._demo_candidates import plan_demo_sets
from dspy_ash.optimizers._labeled_fewshot import LabeledFewShot
from dspy_ash.primitives._prediction import Prediction
from dspy_ash.settings import settings

logger = logging.getLogger("dspy_ash.optimizers")


def create_minibatch(trainset: list[Any], batch_size: int = 50, rng: Any = None) -> list[Any]:
    """`batch_size` examples sampled from `trainset` (the global `random` unless `rng` is given)."""
    indices = (rng or random).sample(range(len(trainset)), min(batch_size, len(trainset)))
    return [trainset[i] for i in indices]


def eval_candidate_program(
    batch_size: int, trainset: list[Any], candidate_program: Any, evaluate: Any, rng: Any = None
) -> Any:
    """`evaluate` on the whole trainset, or on a minibatch of `batch_size`; a failure scores 0 (as DSPy)."""
    try:
        if batch_size >= len(trainset):
            return evaluate(candidate_program, devset=trainset, callback_metadata={"metric_key": "eval_full"})
        return evaluate(
            candidate_program,
            devset=create_minibatch(trainset, batch_size, rng),
            callback_metadata={"metric_key": "eval_minibatch"},
        )
    except Exception:
        logger.error("An exception occurred during evaluation", exc_info=True)
        return Prediction(score=0.0, results=[])


def create_n_fewshot_demo_sets(
    student: Any,
    num_candidate_sets: int,
    trainset: list[Any],
    max_labeled_demos: int,
    max_bootstrapped_demos: int,
    metric: Any,
    teacher_settings: dict[str, Any] | None,
    max_errors: int | None = None,
    max_rounds: int = 1,
    labeled_sample: bool = True,
    min_num_samples: int = 1,
    metric_threshold: float | None = None,
    teacher: Any = None,
    include_non_bootstrapped: bool = True,
    seed: int = 0,
    rng: random.Random | None = None,
) -> dict[int, list[list[Any]]]:
    """Per predictor index, the demos of each candidate set: zero-shot, labeled only, an unshuffled
    bootstrap, then bootstraps of shuffled trainsets with drawn sizes (DSPy's scheme and draws)."""
    max_errors = settings.max_errors if max_errors is None else max_errors
    plan = plan_demo_sets(
        trainset,
        num_candidate_sets,
        max_labeled_demos,
        max_bootstrapped_demos,
        rng or random.Random(seed),
        min_num_samples=min_num_samples,
        include_non_bootstrapped=include_non_bootstrapped,
    )
    demo_candidates: dict[int, list[list[Any]]] = {i: [] for i, _ in enumerate(student.predictors())}
    for set_seed, data, size in plan:
        if size is None:
            program = (
                student.reset_copy()
                if set_seed == -3
                else LabeledFewShot(k=max_labeled_demos).compile(
                    student, trainset=data, sample=labeled_sample
                )
            )
        else:
            program = BootstrapFewShot(
                metric=metric,
                max_errors=max_errors,
                metric_threshold=metric_threshold,
                max_bootstrapped_demos=size,
                max_labeled_demos=max_labeled_demos,
                teacher_settings=teacher_settings,
                max_rounds=max_rounds,
            ).compile(student, teacher=teacher, trainset=data)
        for i, predictor in enumerate(program.predictors()):
            demo_candidates[i].append(predictor.demos)
    return demo_candidates


def get_signature(predictor: Any) -> Any:
    return predictor.signature


def set_signature(predictor: Any, updated_signature: Any) -> None:
    predictor.signature = updated_signature
