"""`BestOfN`: run a module up to N times with different rollouts and keep the best-rewarded prediction."""

from __future__ import annotations

from typing import Any

from dspy_ash.modules._rollouts import (
    Attempt,
    FailureBudget,
    RewardFn,
    base_lm,
    keep_best_trace,
    rollout_copy,
)
from dspy_ash.primitives.module import Module
from dspy_ash.settings import settings


class BestOfN(Module):
    """Runs `module` up to `N` times at rising temperatures and returns the first prediction whose
    `reward_fn(args, prediction)` reaches `threshold`, else the best one. `fail_count` is how many
    failed attempts are tolerated before the error is raised (default: `N`)."""

    def __init__(
        self, module: Module, N: int, reward_fn: RewardFn, threshold: float, fail_count: int | None = None
    ) -> None:
        super().__init__()
        self.module = module
        self.reward_fn = lambda *args: reward_fn(*args)  # a lambda, so it is never mistaken for a parameter
        self.threshold = threshold
        self.N = N
        self.fail_count = fail_count or N

    async def aforward(self, **kwargs: Any) -> Any:
        # Sequential on purpose: the loop stops at the first attempt that reaches the threshold.
        lm = base_lm(self.module)
        start = lm.kwargs.get("rollout_id", 0) or 0
        budget = FailureBudget(self.fail_count, "BestOfN")
        best: Attempt | None = None
        for idx in range(self.N):
            rid = start + idx
            mod = rollout_copy(self.module, lm, rid)
            try:
                with settings.context(trace=[]):
                    pred = await mod.acall(**kwargs)
                    trace = list(settings.trace or [])
                    reward = self.reward_fn(kwargs, pred)
            except Exception as exc:
                budget.spend(idx, rid, exc)
                continue
            if best is None or reward > best.reward:
                best = Attempt(pred, trace, reward)
            if reward >= self.threshold:
                break
        keep_best_trace(best)
        return best.pred if best is not None else None
