"""`KNNFewShot`: at every call, bootstrap demos from the `k` training examples nearest to the input.

As DSPy, the returned program's `forward` is replaced: each call embeds its inputs, finds the top-k
training examples by dot product and runs `BootstrapFewShot` on them (so each call costs the
teacher runs of that bootstrap, and `save()` does not capture the behaviour). Needs numpy.
`checkpoint=` among the bootstrap arguments checkpoints those bootstraps, one per neighbour set
(a `checkpoint_key` is suffixed with the set's fingerprint); the answers themselves are not saved.
"""

from __future__ import annotations

import inspect
import types
from typing import Any

from dspy_ash.optimizers._bootstrap import BootstrapFewShot
from dspy_ash.optimizers._teleprompter import Teleprompter
from dspy_ash.optimizers.checkpoint._fingerprint import fingerprint


def _numpy() -> Any:
    try:
        import numpy
    except ModuleNotFoundError as exc:
        raise ImportError(
            "KNNFewShot requires numpy. Install it with `pip install 'dspy-ash[optimizers]'`."
        ) from exc
    return numpy


class KNN:
    """The k nearest training examples to a call's inputs (DSPy's `dspy.KNN`)."""

    def __init__(self, k: int, trainset: list[Any], vectorizer: Any) -> None:
        np = _numpy()
        self.k = k
        self.trainset = trainset
        self.embedding = vectorizer
        texts = [
            " | ".join(f"{key}: {value}" for key, value in example.items() if key in example._input_keys)
            for example in trainset
        ]
        self.trainset_vectors = np.asarray(self.embedding(texts)).astype(np.float32)

    def __call__(self, **kwargs: Any) -> list[Any]:
        np = _numpy()
        query = np.asarray(self.embedding([" | ".join(f"{key}: {val}" for key, val in kwargs.items())]))
        scores = np.dot(self.trainset_vectors, query.T).squeeze()
        nearest = scores.argsort()[-self.k :][::-1]
        return [self.trainset[int(i)] for i in nearest]


class KNNFewShot(Teleprompter):
    """At each call, picks the `k` training examples nearest to the inputs (embedded with `vectorizer`,
    an `Embedder`) and bootstraps demos from them with `BootstrapFewShot(**few_shot_bootstrap_args)`."""

    def __init__(self, k: int, trainset: list[Any], vectorizer: Any, **few_shot_bootstrap_args: Any) -> None:
        super().__init__()
        self.KNN = KNN(k, trainset, vectorizer=vectorizer)
        self.few_shot_bootstrap_args = few_shot_bootstrap_args

    async def acompile(self, student: Any, *, teacher: Any = None, **_: Any) -> Any:  # pyright: ignore
        program = student.reset_copy()
        knn, args = self.KNN, self.few_shot_bootstrap_args

        async def aforward(_self: Any, **kwargs: Any) -> Any:
            neighbours = knn(**kwargs)
            if inspect.isawaitable(neighbours):
                neighbours = await neighbours
            call_args = dict(args)
            if call_args.get("checkpoint_key"):
                # each neighbour set is its own bootstrap run: it gets its own checkpoint under the key
                digest = fingerprint(neighbours).digest[:16]
                call_args["checkpoint_key"] = f"{call_args['checkpoint_key']}-{digest}"
            compiled = await BootstrapFewShot(**call_args).acompile(
                student, teacher=teacher, trainset=neighbours
            )
            return await compiled.acall(**kwargs)

        # Both entry points: `acall` uses aforward natively, the sync `__call__` drives it through the bridge.
        program.aforward = types.MethodType(aforward, program)

        def forward(_self: Any, **kwargs: Any) -> Any:
            return _run_sync(_self.aforward(**kwargs))

        program.forward = types.MethodType(forward, program)
        return program


def _run_sync(coro: Any) -> Any:
    from dspy_ash._sync import run_sync

    return run_sync(coro)
