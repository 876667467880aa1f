"""`Ensemble`: one program that runs several and reduces their outputs (e.g. with `dspy.majority`)."""

from __future__ import annotations

import asyncio
import hashlib
import json
import random
from collections.abc import Callable
from typing import Any

from dspy_ash.optimizers._teleprompter import Teleprompter
from dspy_ash.primitives._module import Module


class EnsembledProgram(Module):
    """Calls `size` randomly sampled programs (all if size is None) and reduces their outputs.

    DSPy calls them one after another; here they run concurrently (same outputs, in the same order).
    Its saved state is the members' state under `programs[i].<name>`, as DSPy's.
    """

    def __init__(
        self,
        programs: list[Any],
        reduce_fn: Callable[[list[Any]], Any] | None,
        size: int | None,
        deterministic: bool = False,
    ) -> None:
        super().__init__()
        self.programs = programs
        self.reduce_fn = reduce_fn
        self.size = size
        self.deterministic = deterministic

    async def aforward(self, *args: Any, **kwargs: Any) -> Any:
        if self.size and self.deterministic:
            # the same inputs always pick the same members (DSPy leaves this unimplemented)
            digest = hashlib.sha256(
                json.dumps([args, kwargs], sort_keys=True, default=repr).encode()
            ).digest()
            programs = random.Random(digest).sample(self.programs, self.size)
        elif self.size:
            programs = random.sample(self.programs, self.size)
        else:
            programs = self.programs
        outputs = list(await asyncio.gather(*(program.acall(*args, **kwargs) for program in programs)))
        return self.reduce_fn(outputs) if self.reduce_fn else outputs


class Ensemble(Teleprompter):
    """Combines programs into one that runs `size` of them (all by default, a random sample unless
    `deterministic`) and reduces their outputs with `reduce_fn` (e.g. `dspy.majority`)."""

    def __init__(
        self,
        *,
        reduce_fn: Callable[[list[Any]], Any] | None = None,
        size: int | None = None,
        deterministic: bool = False,
    ) -> None:
        """A common reduce_fn is dspy.majority."""
        super().__init__()
        self.reduce_fn = reduce_fn
        self.size = size
        self.deterministic = deterministic

    def compile(
        self, programs: list[Any], *args: Any, **kwargs: Any
    ) -> EnsembledProgram:  # no LM calls: sync
        return EnsembledProgram(programs, self.reduce_fn, self.size, self.deterministic)

    async def acompile(self, student: Any, **kwargs: Any) -> EnsembledProgram:
        return self.compile(student)
