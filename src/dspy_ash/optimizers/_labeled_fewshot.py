"""`LabeledFewShot`: every predictor gets up to `k` training examples as demos. No LM calls."""

from __future__ import annotations

import random
from typing import Any

from dspy_ash.optimizers._teleprompter import Teleprompter


class LabeledFewShot(Teleprompter):
    """Compiles a program by giving each predictor up to `k` trainset examples as demos, as they are."""

    def __init__(self, k: int = 16) -> None:
        super().__init__()
        self.k = k

    async def acompile(self, student: Any, *, trainset: list[Any], sample: bool = True, **_: Any) -> Any:
        return self.apply(student, trainset, sample=sample)

    def apply(self, student: Any, trainset: list[Any], *, sample: bool = True) -> Any:
        """The synchronous core (other optimizers call it): a reset copy with demos set."""
        program = student.reset_copy()
        if not trainset:
            return program
        rng = random.Random(0)  # one generator across predictors, as DSPy
        for predictor in program.predictors():
            if sample:
                predictor.demos = rng.sample(trainset, min(self.k, len(trainset)))
            else:
                predictor.demos = trainset[: min(self.k, len(trainset))]
        return program
