"""What BestOfN and Refine share: one rollout of a module copy on its own LM copy, scored."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from dspy_ash.errors import NoLMConfiguredError
from dspy_ash.primitives._module import Module
from dspy_ash.settings import settings

logger = logging.getLogger("dspy_ash.rollouts")

RewardFn = Callable[[dict[str, Any], Any], float]


@dataclass
class Attempt:
    pred: Any
    trace: list[Any]
    reward: float


class Rollouts(Module):
    """BestOfN's and Refine's shape: `module` tried up to N times, each on its own rollout copy."""

    def __init__(
        self, module: Module, N: int, reward_fn: RewardFn, threshold: float, fail_count: int | None = None
    ) -> None:
        super().__init__()
        self.module = module
        self.reward_fn = lambda *args: reward_fn(*args)  # a lambda, so it is never mistaken for a parameter
        self.threshold = threshold
        self.N = N
        self.fail_count = fail_count or N

    def attempts(self) -> Iterator[tuple[int, int, Module]]:
        """(attempt index, rollout id, module copy) for each attempt, rollout ids counting up from the LM's."""
        lm = base_lm(self.module)
        start = lm.kwargs.get("rollout_id", 0) or 0
        for idx in range(self.N):
            yield idx, start + idx, rollout_copy(self.module, lm, start + idx)


def base_lm(module: Module) -> Any:
    lm = module.get_lm() or settings.lm
    if lm is None:
        raise NoLMConfiguredError(
            "No LM is loaded. Please configure the LM using `dspy.configure(lm=dspy.LM(...))`."
        )
    return lm


def rollout_copy(module: Module, lm: Any, rollout_id: int) -> Module:
    """A deep copy of `module` whose predictors use an LM copy with this rollout id at temperature 1.0.

    The rollout id is part of the cache key, so each attempt is a fresh sample even with caching on.
    """
    copy = module.deepcopy()
    copy.set_lm(lm.copy(rollout_id=rollout_id, temperature=1.0))
    return copy


def keep_best_trace(best: Attempt | None) -> None:
    """Append the winning attempt's predictor calls to the caller's trace (optimizers read it)."""
    trace = settings.trace
    if best is not None and best.trace and trace is not None:
        trace.extend(best.trace)


class FailureBudget:
    """DSPy's rule for failed (raising) attempts: attempt `idx` re-raises when `idx` exceeds the failures
    still allowed, which start at `fail_count` and drop by one per failure (so with the default,
    fail_count = N, the last of N failing attempts re-raises)."""

    def __init__(self, fail_count: int, owner: str) -> None:
        self.left = fail_count
        self.owner = owner

    def spend(self, idx: int, rollout_id: int, exc: Exception) -> None:
        logger.warning("%s: Attempt %d failed with rollout id %d: %s", self.owner, idx + 1, rollout_id, exc)
        if idx > self.left:
            raise exc
        self.left -= 1
