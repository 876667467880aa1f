"""A checkpoint is resumed only by the same run: the metric, the program and the data are fingerprinted
by what they do (a metric's code, constants, defaults and closure values), not by their names."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest
from opt_fixtures import CountingLM, exact, qa_answers, qa_trainset

import dspy_ash as ash
from dspy_ash.errors import CheckpointError
from dspy_ash.optimizers import MemoryCheckpointStore
from dspy_ash.optimizers.checkpoint._fingerprint import fingerprint, program_fingerprint
from dspy_ash.testing import DummyLM

WRONG = {0, 2, 3, 7, 11, 12, 14}


def search(metric: Any, checkpoint: Any, **kwargs: Any) -> tuple[str, int]:
    """(the candidates' scores and demos, LM calls paid for) of a small random search."""
    lm = CountingLM(DummyLM(qa_answers(20, WRONG)))
    ash.configure(lm=lm)
    data = qa_trainset(ash, 20)
    program = ash.BootstrapFewShotWithRandomSearch(
        metric=metric,
        max_bootstrapped_demos=3,
        max_labeled_demos=2,
        num_candidate_programs=2,
        num_threads=4,
        checkpoint=checkpoint,
        **kwargs,
    ).compile(ash.Predict("question -> answer"), trainset=data[:12], valset=data[12:])
    candidates = [(c["seed"], c["score"], c["program"].dump_state()) for c in program.candidate_programs]
    return json.dumps(candidates, sort_keys=True, default=str), lm.calls


def test_resume_with_an_edited_lambda_metric_rescores() -> None:
    store = MemoryCheckpointStore()
    first, paid = search(lambda example, pred, trace=None: example.answer == pred.answer, store)
    assert paid > 0
    assert search(lambda example, pred, trace=None: example.answer == pred.answer, store) == (first, 0)

    edited = lambda example, pred, trace=None: pred.answer.startswith("wrong")  # noqa: E731
    expected, full_cost = search(edited, None)
    assert expected != first
    resumed, paid_again = search(edited, store)
    assert resumed == expected
    # Scored afresh, not from the old scores (which would cost nothing). The count may differ from the
    # fresh run's by the speculative teacher runs (num_threads=4) that a stop cancelled or not in time.
    assert abs(paid_again - full_cost) <= 4, (paid_again, full_cost)


def test_an_edited_metric_is_refused_under_an_explicit_key() -> None:
    store = MemoryCheckpointStore()
    search(lambda example, pred, trace=None: example.answer == pred.answer, store, checkpoint_key="k")
    with pytest.raises(CheckpointError, match="different run"):
        search(lambda example, pred, trace=None: example.answer != pred.answer, store, checkpoint_key="k")


def make_metric(threshold: float, scale: float = 1.0) -> Any:
    return lambda example, pred, trace=None: scale * len(pred.answer) >= threshold


def by_default(example: Any, pred: Any, trace: Any = None, strict: bool = True) -> bool:
    return strict and example.answer == pred.answer


def by_default_lenient(example: Any, pred: Any, trace: Any = None, strict: bool = False) -> bool:
    return strict and example.answer == pred.answer


class Judge:
    def __init__(self, cutoff: int, helper: Any = None) -> None:
        self.cutoff = cutoff
        self.helper = helper

    def __call__(self, example: Any, pred: Any, trace: Any = None) -> bool:
        return len(pred.answer) >= self.cutoff


def test_closure_values_defaults_and_object_state_are_fingerprinted() -> None:
    assert fingerprint(make_metric(2)).digest == fingerprint(make_metric(2)).digest
    assert fingerprint(make_metric(2)).digest != fingerprint(make_metric(3)).digest
    assert fingerprint(make_metric(2)).digest != fingerprint(make_metric(2, scale=2.0)).digest
    # same code, another default
    assert fingerprint(by_default).digest != fingerprint(by_default_lenient).digest
    assert fingerprint(Judge(2)).digest == fingerprint(Judge(2)).digest
    assert fingerprint(Judge(2)).digest != fingerprint(Judge(3)).digest
    assert not fingerprint(make_metric(2), Judge(2), by_default).unstable


def test_program_signature_types_and_input_keys_are_fingerprinted() -> None:
    plain, typed = ash.Predict("question -> answer"), ash.Predict("question -> answer: int")
    assert plain.dump_state() == typed.dump_state()  # the saved state alone would not tell them apart

    assert fingerprint(program_fingerprint(plain)).digest != fingerprint(program_fingerprint(typed)).digest
    one = ash.Example(question="q", answer="a").with_inputs("question")
    other = ash.Example(question="q", answer="a").with_inputs("question", "answer")
    assert fingerprint([one]).digest != fingerprint([other]).digest


SET_METRIC = """
import sys
sys.path.insert(0, {here!r})
from dspy_ash.optimizers.checkpoint._fingerprint import fingerprint
def metric(example, pred, trace=None):
    return pred.answer in {{"yes", "sure", "ok", "fine", "right"}}
print(fingerprint(metric).digest)
"""


def test_fingerprint_is_the_same_in_every_process() -> None:
    # A set literal compiles to a frozenset constant, whose order depends on the hash seed.
    code = SET_METRIC.format(here=str(Path(__file__).parent))
    digests = {
        subprocess.run(
            [sys.executable, "-c", code],
            capture_output=True,
            text=True,
            check=True,
            env={**os.environ, "PYTHONHASHSEED": str(seed)},
        ).stdout.strip()
        for seed in (1, 2, 3)
    }
    assert len(digests) == 1


def test_a_metric_that_cannot_be_fingerprinted_refuses_to_resume() -> None:
    store = MemoryCheckpointStore()
    judge = Judge(1, helper=threading.Lock())  # no faithful text form: its repr names a memory address
    assert fingerprint(judge).unstable
    search(judge, store)
    with pytest.raises(CheckpointError, match="cannot be fingerprinted"):
        search(Judge(1, helper=threading.Lock()), store)


def test_recursive_functions_and_self_referencing_objects_do_not_hang() -> None:
    def countdown(n: int) -> int:
        return 0 if n <= 0 else countdown(n - 1)

    assert not fingerprint(countdown).unstable
    judge = Judge(1)
    judge.helper = judge
    assert fingerprint(judge).unstable  # refused on resume rather than guessed


def test_another_teacher_is_another_run() -> None:
    ash.configure(lm=DummyLM(qa_answers(20, WRONG)))
    data = qa_trainset(ash, 20)
    store = MemoryCheckpointStore()

    def bootstrap(teacher: Any) -> Any:
        return ash.BootstrapFewShot(metric=exact, checkpoint=store, checkpoint_key="b").compile(
            ash.Predict("question -> answer"), teacher=teacher, trainset=data
        )

    teacher = ash.Predict("question -> answer")
    bootstrap(teacher)
    bootstrap(teacher.deepcopy())  # the same teacher again: resumed
    edited = teacher.deepcopy()
    edited.demos = [data[0]]  # a teacher that prompts differently
    with pytest.raises(CheckpointError, match="different run"):
        bootstrap(edited)


class Grader:
    def __init__(self, strict: bool) -> None:
        self.strict = strict

    def grade(self, example: Any, pred: Any, trace: Any = None) -> bool:
        return self.strict and example.answer == pred.answer


def test_a_bound_method_counts_with_its_objects_state() -> None:
    assert fingerprint(Grader(True).grade).digest == fingerprint(Grader(True).grade).digest
    assert fingerprint(Grader(True).grade).digest != fingerprint(Grader(False).grade).digest
    assert not fingerprint(Grader(True).grade).unstable
