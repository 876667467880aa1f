"""A run killed at any point and restarted with the same checkpoint ends with the same program and does
not repeat finished LM work (BootstrapFewShot, random search, MIPROv2) on a directory checkpoint store."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from opt_fixtures import CountingLM, Killed, exact, mipro_answers, qa_answers, qa_trainset  # pyright: ignore[reportMissingImports]

import dspy_ash as ash
from dspy_ash.errors import CheckpointError
from dspy_ash.optimizers import DirectoryCheckpointStore
from dspy_ash.testing import DummyLM

WRONG = {0, 2, 3, 7, 11, 12, 21, 25}


def bootstrap(lm: Any, checkpoint: Any, threads: int) -> Any:
    ash.configure(lm=lm)
    # More demos than the 22 right answers can give: the walk never stops early, so the number of calls
    # does not depend on how many speculative teacher runs finished before a stop cancelled them.
    return ash.BootstrapFewShot(
        metric=exact, max_bootstrapped_demos=24, max_labeled_demos=3, num_threads=threads
    ).compile(ash.Predict("question -> answer"), trainset=qa_trainset(ash, 30), checkpoint=checkpoint)


def random_search(lm: Any, checkpoint: Any, threads: int) -> Any:
    ash.configure(lm=lm)
    data = qa_trainset(ash, 30)
    return ash.BootstrapFewShotWithRandomSearch(
        metric=exact,
        max_bootstrapped_demos=3,
        max_labeled_demos=3,
        num_candidate_programs=3,
        num_threads=threads,
        max_concurrent_candidates=1 if threads == 1 else 4,
        checkpoint=checkpoint,
    ).compile(ash.Predict("question -> answer"), trainset=data[:18], valset=data[18:])


def mipro(lm: Any, checkpoint: Any, threads: int) -> Any:
    ash.configure(lm=lm)
    data = qa_trainset(ash, 30)
    return ash.MIPROv2(
        metric=exact,
        auto=None,
        num_candidates=3,
        max_bootstrapped_demos=2,
        max_labeled_demos=2,
        num_threads=threads,
        checkpoint=checkpoint,
    ).compile(
        ash.Predict("question -> answer"),
        trainset=data[:18],
        valset=data[18:],
        num_trials=4,
        minibatch_size=5,
        minibatch_full_eval_steps=2,
    )


def copro(lm: Any, checkpoint: Any, threads: int) -> Any:
    ash.configure(lm=lm)
    return ash.COPRO(metric=exact, breadth=3, depth=2, checkpoint=checkpoint).compile(
        ash.Predict("question -> answer"), trainset=qa_trainset(ash, 12), eval_kwargs={"num_threads": threads}
    )


def optuna(lm: Any, checkpoint: Any, threads: int) -> Any:
    ash.configure(lm=lm)
    data = qa_trainset(ash, 30)
    return ash.BootstrapFewShotWithOptuna(
        metric=exact,
        num_candidate_programs=5,
        max_labeled_demos=2,
        seed=1,
        num_threads=threads,
        checkpoint=checkpoint,
    ).compile(ash.Predict("question -> answer"), max_demos=4, trainset=data[:18], valset=data[18:])


def copro_answers() -> dict[str, Any]:
    return {
        "[[ ## attempted_instructions ## ]]": {
            "proposed_instruction": "Answer better.",
            "proposed_prefix_for_output_field": "Answer:",
        },
        "[[ ## basic_instruction ## ]]": {
            "proposed_instruction": "Answer the trivia question.",
            "proposed_prefix_for_output_field": "Final Answer:",
        },
        **qa_answers(12, WRONG),
    }


RUNS: dict[str, tuple[Callable[[Any, Any, int], Any], Callable[[], dict[str, Any]]]] = {
    "bootstrap": (bootstrap, lambda: qa_answers(30, WRONG)),
    "random_search": (random_search, lambda: qa_answers(30, WRONG)),
    "mipro": (mipro, lambda: mipro_answers(30, WRONG)),
    "copro": (copro, copro_answers),
    "optuna": (optuna, lambda: qa_answers(30, WRONG)),
}


def state(program: Any) -> str:
    return json.dumps(program.dump_state(), sort_keys=True, default=str)


@pytest.mark.parametrize("name", list(RUNS))
@pytest.mark.parametrize("kill_fraction", [0.1, 0.5, 0.9])
def test_sequential_kill_and_resume_repeats_no_finished_work(
    name: str, kill_fraction: float, tmp_path: Path
) -> None:
    run, replies = RUNS[name]
    full_lm = CountingLM(DummyLM(replies()))
    expected = state(run(full_lm, None, 1))
    total = full_lm.calls

    dying = CountingLM(DummyLM(replies()), kill_at=max(1, int(total * kill_fraction)))
    with pytest.raises(Killed):
        run(dying, tmp_path, 1)
    fresh = CountingLM(DummyLM(replies()))
    assert state(run(fresh, tmp_path, 1)) == expected
    assert dying.calls + fresh.calls == total  # every finished call was kept, none was paid twice

    again = CountingLM(DummyLM(replies()))
    assert state(run(again, tmp_path, 1)) == expected
    assert again.calls == 0  # a finished checkpoint answers everything


@pytest.mark.parametrize("name", list(RUNS))
def test_concurrent_kill_and_resume(name: str, tmp_path: Path) -> None:
    run, replies = RUNS[name]
    full_lm = CountingLM(DummyLM(replies()))
    expected = state(run(full_lm, None, 8))
    total = full_lm.calls
    dying = CountingLM(DummyLM(replies()), kill_at=total // 2)
    with pytest.raises(Killed):
        run(dying, DirectoryCheckpointStore(tmp_path), 8)
    fresh = CountingLM(DummyLM(replies()))
    assert state(run(fresh, DirectoryCheckpointStore(tmp_path), 8)) == expected
    assert fresh.calls < total
    assert fresh.calls <= total - dying.calls + 16  # at most the in-flight calls at the kill are lost


def test_checkpoint_of_another_run_is_refused(tmp_path: Path) -> None:
    ash.configure(lm=DummyLM(qa_answers(30, WRONG)))
    data = qa_trainset(ash, 30)
    ash.BootstrapFewShot(metric=exact, checkpoint=tmp_path, checkpoint_key="run").compile(
        ash.Predict("question -> answer"), trainset=data
    )
    with pytest.raises(CheckpointError, match="different run"):
        ash.BootstrapFewShot(
            metric=exact, max_bootstrapped_demos=2, checkpoint=tmp_path, checkpoint_key="run"
        ).compile(ash.Predict("question -> answer"), trainset=data)


async def test_directory_store_writes_atomically(tmp_path: Path) -> None:
    store = DirectoryCheckpointStore(tmp_path)
    assert await store.load("a/b c") is None
    await store.save("a/b c", {"x": 1})
    await store.save("a/b c", {"x": 2})
    assert await store.load("a/b c") == {"x": 2}
    assert [p.name for p in tmp_path.iterdir()] == [store.path_for("a/b c").name]  # no temp files left
    store.path_for("broken").write_text("{not json")
    with pytest.raises(CheckpointError):
        await store.load("broken")
    await store.delete("a/b c")
    assert await store.load("a/b c") is None
