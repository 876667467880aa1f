"""DSPy's `ParallelExecutor`: run a sync function over items on a thread pool, results in input order.

Each task runs in a copy of the caller's context, so settings overrides (`dspy.context`), the active
callback call id and usage tracking reach the worker threads. A failed item leaves None in its slot
(`failed_indices`, `exceptions_map` say which and why); once `max_errors` items have failed, pending
items are cancelled and the run raises. `num_threads=1` runs in the calling thread. (`dspy.Parallel` is
the async-first way to run modules concurrently; this is DSPy's plain-function utility.)
"""

from __future__ import annotations

import concurrent.futures
import contextvars
import copy
import logging
import traceback
from collections.abc import Callable, Sequence
from typing import Any

from dspy_ash.errors import DspyAshError
from dspy_ash.evaluate._progress import ProgressDisplay, make_progress
from dspy_ash.settings import settings

logger = logging.getLogger("dspy_ash.parallel")


class ExecutionCancelledError(DspyAshError, RuntimeError):
    """Too many items failed (`max_errors`), so the rest were cancelled."""


class ParallelExecutor:
    """`ParallelExecutor(num_threads=8).execute(fn, items)` -> `[fn(item) or None, ...]`."""

    def __init__(
        self,
        num_threads: int | None = None,
        max_errors: int | None = None,
        disable_progress_bar: bool = False,
        provide_traceback: bool | None = None,
        compare_results: bool = False,
        timeout: int = 120,
        straggler_limit: int = 3,
    ) -> None:
        self.num_threads = num_threads or settings.num_threads
        self.max_errors = settings.max_errors if max_errors is None else max_errors
        self.disable_progress_bar = disable_progress_bar
        self.provide_traceback = (
            provide_traceback if provide_traceback is not None else settings.provide_traceback
        )
        self.compare_results = compare_results  # results are (value, score): the bar shows the score sum
        self.timeout = timeout  # kept for DSPy's signature: a thread cannot be stopped from outside
        self.straggler_limit = straggler_limit
        self.failed_indices: list[int] = []
        self.exceptions_map: dict[int, BaseException] = {}

    def execute(self, function: Callable[[Any], Any], data: Sequence[Any]) -> list[Any]:
        self.failed_indices = []
        self.exceptions_map = {}
        results: list[Any] = [None] * len(data)
        progress = make_progress(not self.disable_progress_bar, len(data))
        self._done = 0
        self._score = 0.0
        try:
            if self.num_threads == 1:
                for i, item in enumerate(data):
                    self._settle(progress, results, i, len(data), *_attempt(function, item))
            else:
                self._execute_threaded(function, data, results, progress)
        finally:
            progress.close()
        return results

    def _execute_threaded(
        self,
        function: Callable[[Any], Any],
        data: Sequence[Any],
        results: list[Any],
        progress: ProgressDisplay,
    ) -> None:
        with concurrent.futures.ThreadPoolExecutor(
            self.num_threads, thread_name_prefix="dspy-ash-parallel"
        ) as pool:
            futures = {
                pool.submit(contextvars.copy_context().run, _attempt, function, item): i
                for i, item in enumerate(data)
            }
            try:
                for future in concurrent.futures.as_completed(futures):
                    self._settle(progress, results, futures[future], len(data), *future.result())
            except BaseException:
                for future in futures:
                    future.cancel()
                raise

    def _settle(
        self,
        progress: ProgressDisplay,
        results: list[Any],
        index: int,
        total: int,
        value: Any,
        error: BaseException | None,
    ) -> None:
        if error is not None:
            self.failed_indices.append(index)
            self.exceptions_map[index] = error
            detail = "".join(traceback.format_exception(error)) if self.provide_traceback else repr(error)
            logger.error("Error for item %d: %s", index, detail)
            if len(self.failed_indices) >= self.max_errors:
                raise ExecutionCancelledError("Execution cancelled due to errors or interruption.") from error
        else:
            results[index] = value
            if self.compare_results and isinstance(value, tuple) and len(value) == 2:  # pyright: ignore[reportUnknownArgumentType]
                self._score += float(value[1])  # pyright: ignore[reportUnknownArgumentType]
        self._done += 1
        self._update_progress(progress, self._done, total)

    def _update_progress(self, pbar: ProgressDisplay, nresults: int, ntotal: int) -> None:
        pbar.update(nresults, self._score)


def _attempt(function: Callable[[Any], Any], item: Any) -> tuple[Any, BaseException | None]:
    try:
        tracker = settings.usage_tracker
        if tracker is None:
            return function(item), None
        # as DSPy: each task counts on its own copy of the tracker; the caller's stays as it was
        with settings.context(usage_tracker=copy.deepcopy(tracker)):
            return function(item), None
    except Exception as exc:
        return None, exc
