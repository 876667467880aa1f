"""Evaluate from sync code behaves as DSPy's thread pool: Ctrl-C cancels the evaluation at once, a
one-thread evaluation runs the metric in the caller's thread, and callbacks see their parent call."""

from __future__ import annotations

import os
import signal
import threading
import time
from typing import Any

import pytest

import dspy_ash as ash
from dspy_ash.evaluate import Evaluate, answer_exact_match
from dspy_ash.events import ACTIVE_CALL_ID, BaseCallback
from dspy_ash.testing import DummyLM


def devset(n: int) -> list[Any]:
    return [ash.Example(question=f"<q{i:03d}>", answer=f"a{i}").with_inputs("question") for i in range(n)]


ANSWERS = {f"<q{i:03d}>": {"answer": f"a{i}"} for i in range(8)}


class SleepyLM(DummyLM):
    """A DSPy-style test double: it overrides the sync `__call__` (and counts the calls it started)."""

    def __init__(self, seconds: float) -> None:
        super().__init__(ANSWERS)
        self.seconds = seconds
        self.started = 0
        self.lock = threading.Lock()

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        with self.lock:
            self.started += 1
        time.sleep(self.seconds)
        return super().__call__(*args, **kwargs)


def _interrupt_after(seconds: float) -> threading.Thread:
    def send() -> None:
        time.sleep(seconds)
        os.kill(os.getpid(), signal.SIGINT)

    thread = threading.Thread(target=send)
    thread.start()
    return thread


def test_ctrl_c_cancels_the_evaluation_and_nothing_resumes_later() -> None:
    lm = SleepyLM(0.6)
    ash.configure(lm=lm)
    evaluate = Evaluate(devset=devset(8), metric=answer_exact_match, num_threads=2, display_progress=False)
    sender = _interrupt_after(0.1)
    started = time.monotonic()
    with pytest.raises(KeyboardInterrupt):
        evaluate(ash.Predict("question -> answer"))
    sender.join()
    assert time.monotonic() - started < 0.5  # raised at once, not after the LM calls in flight
    assert lm.started == 2  # the override ran (two at a time); the rest never started

    time.sleep(0.7)  # the cancelled examples must not run in the next call on this thread's loop
    lm.seconds = 0.0
    result = Evaluate(devset=devset(3), metric=answer_exact_match, display_progress=False)(
        ash.Predict("question -> answer")
    )
    assert result.score == 100.0
    assert lm.started == 5


def test_one_thread_runs_a_sync_metric_in_the_calling_thread() -> None:
    ash.configure(lm=DummyLM(ANSWERS))
    threads: list[threading.Thread] = []

    def tracking(example: Any, prediction: Any, trace: Any = None) -> bool:
        threads.append(threading.current_thread())
        return answer_exact_match(example, prediction)

    one = Evaluate(devset=devset(3), metric=tracking, num_threads=1, display_progress=False)
    assert one(ash.Predict("question -> answer")).score == 100.0
    assert threads == [threading.current_thread()] * 3
    threads.clear()
    Evaluate(devset=devset(3), metric=tracking, num_threads=2, display_progress=False)(
        ash.Predict("question -> answer")
    )
    assert threading.current_thread() not in threads  # concurrent: sync metrics keep to worker threads


def test_start_callbacks_see_the_parent_call_as_active() -> None:
    class Lineage(BaseCallback):
        def __init__(self) -> None:
            self.evaluate_id: str | None = None
            self.parents: list[str | None] = []

        def on_evaluate_start(self, call_id: str, instance: Any, inputs: dict[str, Any]) -> None:
            self.evaluate_id = call_id

        def on_module_start(self, call_id: str, instance: Any, inputs: dict[str, Any]) -> None:
            self.parents.append(ACTIVE_CALL_ID.get())

    lineage = Lineage()
    ash.configure(lm=DummyLM(ANSWERS), callbacks=[lineage])
    Evaluate(devset=devset(2), metric=answer_exact_match, num_threads=2, display_progress=False)(
        ash.Predict("question -> answer")
    )
    assert lineage.evaluate_id is not None
    assert lineage.parents == [lineage.evaluate_id] * 2
