"""dspy.utils' small helpers (magicattr, @experimental, lazy_import, Unbatchify, ParallelExecutor), DSPy's
Dataset and LM error texts, each compared with the real dspy 3.4.1."""

from __future__ import annotations

import threading
import time
from typing import Any

import dspy  # the oracle
import dspy.datasets.dataset as dspy_dataset
import dspy.utils.annotation as dspy_annotation
import dspy.utils.magicattr as dspy_magicattr
import dspy.utils.parallelizer as dspy_parallelizer
import pytest

import dspy_ash.errors as ash_errors
from dspy_ash.primitives._dataset import Dataset
from dspy_ash.settings import settings
from dspy_ash.utils import _annotation as annotation
from dspy_ash.utils import _lazy_import as lazy_import
from dspy_ash.utils import _magicattr as magicattr
from dspy_ash.utils._parallelizer import ExecutionCancelledError, ParallelExecutor
from dspy_ash.utils._unbatchify import Unbatchify


class Node:
    def __init__(self) -> None:
        self.items: list[Any] = [1, [2, 3], {"k": "v"}]
        self.table: dict[str, Any] = {"a": {"b": [10, 20]}, "self": self}
        self.name = "n"


PATHS = [
    "name",
    "items[0]",
    "items[-1]['k']",
    "items[1][-2]",
    'table["a"]["b"][1]',
    'table["self"].items[1][0]',
]
UNPARSABLE = ["items[0+1]", "items.pop(0)", "name = 1", "name..", "", "   "]  # raise whatever the default
MISSING = ['table["missing"]', "items[99]", "nope"]  # a lookup that fails: the default answers


@pytest.mark.parametrize("path", PATHS)
def test_magicattr_reads_like_dspy_s(path: str) -> None:
    assert magicattr.get(Node(), path) == dspy_magicattr.get(Node(), path)


@pytest.mark.parametrize("path", UNPARSABLE + MISSING)
def test_magicattr_fails_like_dspy_s(path: str) -> None:
    with pytest.raises(Exception) as theirs:
        dspy_magicattr.get(Node(), path)
    with pytest.raises(type(theirs.value)):
        magicattr.get(Node(), path)
    if path in MISSING:
        assert magicattr.get(Node(), path, default=0) == dspy_magicattr.get(Node(), path, default=0) == 0


def test_magicattr_writes_and_deletes_like_dspy_s() -> None:
    ours, theirs = Node(), Node()
    for module, node in ((magicattr, ours), (dspy_magicattr, theirs)):
        module.set(node, 'table["a"]["b"][0]', 99)
        module.set(node, "items[1]", "x")
        module.delete(node, "items[0]")
        module.delete(node, "name")
    assert (ours.items, ours.table["a"], hasattr(ours, "name")) == (theirs.items, theirs.table["a"], False)


def test_experimental_notes_docstrings_as_dspy_does() -> None:
    def make() -> list[Any]:
        def f() -> None:
            """Summary.

            More.
            """

        class C:
            """A class."""

        def bare() -> None: ...

        return [f, C, bare]

    for mine, theirs in zip(make(), make(), strict=True):
        annotation.experimental(mine, version="3.1.0")
        dspy_annotation.experimental(theirs, version="3.1.0")
        assert mine.__doc__ == theirs.__doc__
    (mine,), (theirs,) = make()[:1], make()[:1]
    annotation.experimental()(mine)
    dspy_annotation.experimental()(theirs)
    assert mine.__doc__ == theirs.__doc__


def test_lazy_import_defers_and_explains() -> None:
    assert lazy_import.is_available("json") and not lazy_import.is_available("no_such_module_xyz")
    missing = lazy_import.require("no_such_module_xyz", extra="retrieval", feature="dspy.Embeddings")
    with pytest.raises(ImportError, match=r"dspy\.Embeddings.*pip install dspy-ash\[retrieval\]") as info:
        _ = missing.anything
    assert "test_dspy_utils_oracle.py" in str(info.value)  # names the line that asked for it


def test_unbatchify_batches_concurrent_calls() -> None:
    batches: list[list[int]] = []

    def double(batch: list[int]) -> list[int]:
        batches.append(batch)
        return [2 * x for x in batch]

    with Unbatchify(double, max_batch_size=4, max_wait_time=0.5) as unbatched:
        results: dict[int, int] = {}
        threads = [
            threading.Thread(target=lambda i=i: results.__setitem__(i, unbatched(i))) for i in range(4)
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert results == {i: 2 * i for i in range(4)}
    assert sorted(x for b in batches for x in b) == [0, 1, 2, 3] and len(batches) < 4


def _task(item: int) -> int:
    if item == 3:
        raise ValueError("three")
    time.sleep(0.01)
    return item * 10


@pytest.mark.parametrize("threads", [1, 3])
def test_parallel_executor_matches_dspy_s(threads: int) -> None:
    ours = ParallelExecutor(num_threads=threads, max_errors=5, disable_progress_bar=True)
    theirs = dspy_parallelizer.ParallelExecutor(num_threads=threads, max_errors=5, disable_progress_bar=True)
    assert ours.execute(_task, range(6)) == theirs.execute(_task, range(6))
    assert ours.failed_indices == theirs.failed_indices == [3]
    assert str(ours.exceptions_map[3]) == str(theirs.exceptions_map[3])
    with pytest.raises(ExecutionCancelledError, match=r"Execution cancelled due to errors or interruption\."):
        ParallelExecutor(num_threads=threads, max_errors=1, disable_progress_bar=True).execute(
            _task, range(6)
        )


def test_parallel_executor_workers_see_the_callers_context() -> None:
    with settings.context(max_errors=7):
        seen = ParallelExecutor(num_threads=3, disable_progress_bar=True).execute(
            lambda _: settings.max_errors, range(4)
        )
    assert seen == [7, 7, 7, 7]


def test_dataset_splits_like_dspy_s() -> None:
    rows = [{"question": f"q{i}", "answer": str(i)} for i in range(20)]

    class Mine(Dataset):
        _train = rows
        _dev = rows[:10]

    class Theirs(dspy_dataset.Dataset):
        def __init__(self, **kwargs: Any) -> None:
            super().__init__(**kwargs)
            self._train, self._dev, self._test = rows, rows[:10], []

    def view(examples: list[Any]) -> list[tuple[Any, ...]]:
        return [(e.question, e.answer, e.dspy_split, tuple(sorted(e.inputs().keys()))) for e in examples]

    ours, theirs = (
        Mine(train_seed=3, train_size=5, eval_seed=4, dev_size=4, input_keys=["question"]),
        Theirs(train_seed=3, train_size=5, eval_seed=4, dev_size=4, input_keys=["question"]),
    )
    assert view(ours.train) == view(theirs.train) and view(ours.dev) == view(theirs.dev)
    ours.reset_seeds(train_seed=9, train_size=8)
    theirs.reset_seeds(train_seed=9, train_size=8)
    assert view(ours.train) == view(theirs.train)


@pytest.mark.parametrize(
    ("name", "kwargs"),
    [
        ("LMRateLimitError", {"message": "rate limited", "model": "openai/gpt-4o", "status": 429}),
        ("ContextWindowExceededError", {"model": "openai/gpt-4o"}),
        ("ContextWindowExceededError", {"message": "too long"}),
        ("LMAuthError", {"message": "bad key", "provider": "openai"}),
    ],
)
def test_lm_error_text_is_dspy_s(name: str, kwargs: dict[str, Any]) -> None:
    ours, theirs = getattr(ash_errors, name)(**kwargs), getattr(dspy, name)(**kwargs)
    assert (str(ours), ours.code, ours.model) == (str(theirs), theirs.code, theirs.model)
