"""DSPy's `Dataset` base class: train/dev/test splits, each shuffled with its own seed and cut to a size.

A subclass sets `self._train`, `self._dev` and `self._test` (iterables of dicts); `train`, `dev` and
`test` build the Example lists once (each Example gets a `dspy_uuid` and its `dspy_split`), and
`reset_seeds` changes seeds or sizes and rebuilds them on next access. DSPy's downloaders (HotPotQA,
GSM8K, ...) are not part of dspy-ash; this is the base they and user datasets share.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Iterable
from typing import Any

from dspy_ash.primitives._example import Example

_SPLITS = ("train", "dev", "test")


class Dataset:
    """Splits of examples with reproducible shuffling: `Dataset(train_seed=0, train_size=100, ...)`."""

    _train: Iterable[dict[str, Any]] = ()
    _dev: Iterable[dict[str, Any]] = ()
    _test: Iterable[dict[str, Any]] = ()

    def __init__(
        self,
        train_seed: int = 0,
        train_size: int | None = None,
        eval_seed: int = 0,
        dev_size: int | None = None,
        test_size: int | None = None,
        input_keys: list[str] | None = None,
    ) -> None:
        self.train_seed = train_seed
        self.train_size = train_size
        self.dev_seed = eval_seed
        self.dev_size = dev_size
        self.test_seed = eval_seed
        self.test_size = test_size
        self.input_keys = input_keys or []
        self.do_shuffle = True
        self.name = type(self).__name__
        self._built: dict[str, list[Example]] = {}

    def reset_seeds(
        self,
        train_seed: int | None = None,
        train_size: int | None = None,
        eval_seed: int | None = None,
        dev_size: int | None = None,
        test_size: int | None = None,
    ) -> None:
        """Change the given seeds and sizes (None keeps one as it is); the splits are rebuilt on next access."""
        if train_seed is not None:
            self.train_seed = train_seed
        if train_size is not None:
            self.train_size = train_size
        if eval_seed is not None:
            self.dev_seed = self.test_seed = eval_seed
        if dev_size is not None:
            self.dev_size = dev_size
        if test_size is not None:
            self.test_size = test_size
        self._built = {}

    @property
    def train(self) -> list[Example]:
        return self._split("train", self._train, self.train_size, self.train_seed)

    @property
    def dev(self) -> list[Example]:
        return self._split("dev", self._dev, self.dev_size, self.dev_seed)

    @property
    def test(self) -> list[Example]:
        return self._split("test", self._test, self.test_size, self.test_seed)

    def _split(self, name: str, data: Iterable[dict[str, Any]], size: int | None, seed: int) -> list[Example]:
        if name not in self._built:
            self._built[name] = self._shuffle_and_sample(name, data, size, seed)
        return self._built[name]

    def _shuffle_and_sample(
        self, split: str, data: Iterable[dict[str, Any]], size: int | None, seed: int = 0
    ) -> list[Example]:
        rows = list(data)
        if self.do_shuffle:  # shuffled whatever the size, so a larger size extends a smaller one's sample
            random.Random(seed).shuffle(rows)
        examples: list[Example] = []
        for row in rows[:size]:
            example = Example(**row, dspy_uuid=str(uuid.uuid4()), dspy_split=split)
            examples.append(example.with_inputs(*self.input_keys) if self.input_keys else example)
        return examples
