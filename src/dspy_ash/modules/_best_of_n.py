"""`BestOfN`: run a module up to N times with different rollouts and keep the best-rewarded prediction."""

from __future__ import annotations

from typing import Any

from dspy_ash.modules._rollouts import Attempt, FailureBudget, Rollouts, keep_best_trace
from dspy_ash.settings import settings


class BestOfN(Rollouts):
    """Runs `module` up to `N` times at rising temperatures and returns the first prediction whose
    `reward_fn(args, prediction)` reaches `threshold`, else the best one. `fail_count` is how many
    failed attempts are tolerated before the error is raised (default: `N`)."""

    async def aforward(self, **kwargs: Any) -> Any:
        # Sequential on purpose: the loop stops at the first attempt that reaches the threshold.
        budget = FailureBudget(self.fail_count, "BestOfN")
        best: Attempt | None = None
        for idx, rid, mod in self.attempts():
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
