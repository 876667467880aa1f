"""A live checkpoint: the JSON state of one optimizer run, saved through a `CheckpointStore`.

Optimizers write finished work into nested sections of `state` (plain JSON values only) and call
`save()`; one background writer coalesces saves, so a burst of finished examples costs one or two
writes and an older state never overwrites a newer one. A hard kill loses at most the results that
finished after the last completed write began (the store serialises the state when a write
begins). Without a store, `save()` does nothing and the state simply lives for the run.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import Any

from dspy_ash.errors import CheckpointError
from dspy_ash.optimizers.checkpoint import Checkpoint, CheckpointStore
from dspy_ash.optimizers.checkpoint._fingerprint import Fingerprint

logger = logging.getLogger("dspy_ash.optimizers")

FORMAT_VERSION = 1
# How long `flush` waits for results still finishing when their worker was cancelled (`keep_late`).
LATE_RESULT_WAIT = 1.0


def resolve_store(checkpoint: Checkpoint) -> CheckpointStore | None:
    if checkpoint is None or isinstance(checkpoint, CheckpointStore):
        return checkpoint
    from dspy_ash.optimizers._directory_store import DirectoryCheckpointStore

    return DirectoryCheckpointStore(checkpoint)


class CheckpointSession:
    def __init__(self, store: CheckpointStore | None, key: str, state: dict[str, Any]) -> None:
        self.store = store
        self.key = key
        self.state = state
        self.resumed = bool(state.get("sections"))
        self._writer: asyncio.Future[None] | None = None
        self._closing = asyncio.Event()
        self._dirty = False
        self._late: set[asyncio.Future[Any]] = set()

    @classmethod
    async def open(
        cls,
        checkpoint: Checkpoint,
        key: str | None,
        kind: str,
        fp: Fingerprint,
    ) -> CheckpointSession:
        """Load the checkpoint for this run (or start a fresh one). The key defaults to kind + fingerprint.

        When part of the run cannot be fingerprinted (`fp.unstable`), a checkpoint found under the key
        may belong to a run that behaved differently: it is refused rather than trusted."""
        store = resolve_store(checkpoint)
        key = key or f"{kind}-{fp.digest[:16]}"
        state: dict[str, Any] | None = await store.load(key) if store is not None else None
        if state is not None and fp.unstable:
            raise CheckpointError(
                f"Checkpoint {key!r} exists, but this run cannot be matched to it: "
                f"{_describe(fp.unstable)} cannot be fingerprinted (no faithful text form), so a change "
                "in what it does would go unnoticed. Delete the checkpoint to start over, or use a metric "
                "that is a function, or an object whose attributes are plain data, modules or functions."
            )
        if state is None:
            if store is not None and fp.unstable:
                logger.warning(
                    "%s cannot be fingerprinted: checkpoint %r is saved but a restarted run will refuse it.",
                    _describe(fp.unstable),
                    key,
                )
            state = {"format": FORMAT_VERSION, "kind": kind, "fingerprint": fp.digest, "sections": {}}
        elif state.get("kind") != kind or state.get("fingerprint") != fp.digest:
            raise CheckpointError(
                f"Checkpoint {key!r} belongs to a different run (kind {state.get('kind')!r}); the optimizer, its "
                "parameters, the data or the student changed. Use another checkpoint_key or delete it."
            )
        return cls(store, key, state)

    def section(self, *path: str) -> dict[str, Any]:
        node: dict[str, Any] = self.state["sections"]
        for part in path:
            node = node.setdefault(part, {})
        return node

    async def save(self) -> None:
        """Schedule a write of the current state (returns at once; writes are coalesced).

        The write runs in its own task, so cancelling the worker that finished some work (a sibling
        failed, the run is being torn down) never drops that work from the checkpoint."""
        if self.store is None:
            return
        self._dirty = True
        if self._writer is None or self._writer.done():
            self._writer = asyncio.ensure_future(self._drain())

    async def _drain(self) -> None:
        assert self.store is not None
        while self._dirty:
            self._dirty = False
            started = time.thread_time()
            await self.store.save(self.key, self.state)
            # Serialising a large state costs event-loop time: keep it to at most ~20% of the run by
            # pausing 4x the CPU this thread spent during the write. Waiting on the disk (fsync, in a
            # worker thread) costs the loop nothing, so it does not lengthen the pause: on small states
            # writes follow each other, and a kill loses only what finished during about one write.
            # `flush` cuts the pause short.
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._closing.wait(), min(1.0, 4 * (time.thread_time() - started)))

    def keep_late(self, result: asyncio.Future[Any]) -> None:
        """A result that is paid for but was still finishing when its worker was cancelled (a sync
        metric on its thread, scoring a prediction whose LM call is done): `result`'s own callback
        writes it into the state, and `flush` waits for it (at most `LATE_RESULT_WAIT`, so code blocked
        in a thread never holds up the way out), so a resumed run does not pay for it again."""
        self._late.add(result)
        result.add_done_callback(self._late.discard)

    async def flush(self) -> None:
        """Wait for the pending write, then write the final state. Optimizers call it on the way out,
        also when the run fails or is interrupted (Ctrl-C), so finished work is kept."""
        if self.store is None:
            return
        if self._late:
            await asyncio.wait(set(self._late), timeout=LATE_RESULT_WAIT)
        self._closing.set()
        if self._writer is not None and not self._writer.done():
            with contextlib.suppress(Exception):
                await asyncio.shield(self._writer)
        self._dirty = False
        await self.store.save(self.key, self.state)


def _describe(unstable: list[str]) -> str:
    return ", ".join(sorted(set(unstable)))
