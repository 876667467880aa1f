"""`Parallel`: run (module, example) pairs concurrently; results in input order, None where one failed.

DSPy uses a thread pool; here every pair is an asyncio task under a limit of `num_threads` in flight,
so hundreds of LM calls share one thread. Sync-only modules run on worker threads (`dspy_ash._sync`).
"""

from __future__ import annotations

import copy
from typing import Any

from dspy_ash._sync import run_sync
from dspy_ash.errors import InvalidInputError
from dspy_ash.modules._calling import acall_part
from dspy_ash.primitives._concurrency import run_bounded
from dspy_ash.primitives._example import Example
from dspy_ash.settings import settings


class Parallel:
    """Runs (module, example) pairs concurrently on `num_threads` workers and returns the results in
    order; more than `max_errors` failures stop the run (`return_failed_examples` returns them instead)."""

    def __init__(
        self,
        num_threads: int | None = None,
        max_errors: int | None = None,
        access_examples: bool = True,
        return_failed_examples: bool = False,
        provide_traceback: bool | None = None,
        disable_progress_bar: bool = False,
        timeout: int = 120,
        straggler_limit: int = 3,
    ) -> None:
        self.num_threads = num_threads or settings.num_threads
        self.max_errors = settings.max_errors if max_errors is None else max_errors
        self.access_examples = access_examples
        self.return_failed_examples = return_failed_examples
        self.provide_traceback = provide_traceback
        self.disable_progress_bar = disable_progress_bar
        self.timeout = timeout
        self.straggler_limit = straggler_limit  # kept for signature compatibility: tasks do not straggle
        self.failed_examples: list[Any] = []
        self.exceptions: list[BaseException] = []

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.forward(*args, **kwargs)

    def forward(self, exec_pairs: list[tuple[Any, Any]], num_threads: int | None = None) -> Any:
        return run_sync(self.aforward(exec_pairs, num_threads))

    async def acall(self, *args: Any, **kwargs: Any) -> Any:
        return await self.aforward(*args, **kwargs)

    async def aforward(self, exec_pairs: list[tuple[Any, Any]], num_threads: int | None = None) -> Any:
        limit = num_threads if num_threads is not None else self.num_threads
        # DSPy cancels once the error count reaches max_errors; run_bounded stops when it exceeds its bound.
        outcome = await run_bounded(
            exec_pairs,
            self._process,
            limit=limit,
            max_errors=max(0, self.max_errors - 1),
            timeout=self.timeout or None,
        )
        if not self.return_failed_examples:
            return outcome.results
        for i in outcome.failed:
            self.failed_examples.append(exec_pairs[i][1])
            self.exceptions.append(outcome.errors[i])
        return outcome.results, self.failed_examples, self.exceptions

    async def _process(self, pair: tuple[Any, Any]) -> Any:
        tracker = settings.usage_tracker
        if tracker is None:
            return await self._run_pair(pair)
        # as DSPy: each worker counts on its own copy of the tracker; the caller's stays as it was
        with settings.context(usage_tracker=copy.deepcopy(tracker)):
            return await self._run_pair(pair)

    async def _run_pair(self, pair: tuple[Any, Any]) -> Any:
        module, example = pair
        if isinstance(example, Example):
            if self.access_examples:
                return await acall_part(module, **dict(example.inputs().items()))
            return await acall_part(module, example)
        if isinstance(example, dict):
            return await acall_part(module, **example)
        if isinstance(example, list) and isinstance(module, Parallel):
            return await module.aforward(example)
        if isinstance(example, tuple):
            return await acall_part(module, *example)
        raise InvalidInputError(
            f"Invalid example type: {type(example)}, only supported types are Example, dict, list and tuple"
        )
