"""Checkpoints: optimizers save their progress through a `CheckpointStore` and resume from it.

A checkpoint is a JSON-able dict owned by the optimizer (finished bootstraps, candidates, trials and
scores, RNG state, LM replies already paid for). The default store is a directory; the store package
provides a database-backed one. A store must make `save` atomic: a crash during `save` leaves the
previous checkpoint readable.

The package: `CheckpointStore` (here), `session` (one run's live state and its writer),
`run` (the skeleton every checkpointed optimizer runs in), `fingerprint` (what a checkpoint must
match), `records` (demos and scores as JSON). The default store is in `optimizers.directory_store`.
"""

from __future__ import annotations

import os
from abc import ABC, abstractmethod
from typing import Any


class CheckpointStore(ABC):
    @abstractmethod
    async def load(self, key: str) -> dict[str, Any] | None:
        """The last saved checkpoint under `key`, or None."""

    @abstractmethod
    async def save(self, key: str, state: dict[str, Any]) -> None:
        """Replace the checkpoint under `key` atomically."""

    async def delete(self, key: str) -> None:  # noqa: B027 - optional
        """Forget a checkpoint (after a run finished)."""


# What an optimizer's `checkpoint=` accepts: a store, a directory for the default store, or nothing.
Checkpoint = CheckpointStore | str | os.PathLike[str] | None
