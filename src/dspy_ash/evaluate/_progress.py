"""The evaluation progress bar: rich when it is installed (the `cli` extra), nothing otherwise."""

from __future__ import annotations

import importlib.util
from typing import Any, Protocol


class ProgressDisplay(Protocol):
    def update(self, done: int, score_sum: float) -> None: ...
    def close(self) -> None: ...


class NullProgress:
    def update(self, done: int, score_sum: float) -> None:
        pass

    def close(self) -> None:
        pass


class RichProgress:
    """A transient rich bar whose description is DSPy's `Average Metric: s / n (p%)` text."""

    def __init__(self, total: int) -> None:
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        self._total = total
        self._progress = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            transient=False,
        )
        self._task: Any = self._progress.add_task(_describe(0, 0.0), total=total)
        self._progress.start()

    def update(self, done: int, score_sum: float) -> None:
        self._progress.update(self._task, completed=done, description=_describe(done, score_sum))

    def close(self) -> None:
        self._progress.stop()


def _describe(done: int, score_sum: float) -> str:
    pct = round(100 * score_sum / done, 1) if done else 0
    return f"Average Metric: {score_sum:.2f} / {done} ({pct}%)"


def make_progress(enabled: bool, total: int) -> ProgressDisplay:
    if not enabled or importlib.util.find_spec("rich") is None:
        return NullProgress()
    return RichProgress(total)
