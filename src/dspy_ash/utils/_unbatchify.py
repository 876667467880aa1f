"""DSPy's `Unbatchify`: call a batch function one item at a time from many threads.

A worker thread gathers the items submitted meanwhile into one `batch_fn` call: a batch goes as soon as
it holds `max_batch_size` items, or `max_wait_time` seconds after its first item arrived.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from types import TracebackType
from typing import Any

from dspy_ash.errors import DspyAshError

POLL_SECONDS = 0.05  # how often an idle worker checks that it was not closed


class UnbatchifyClosedError(DspyAshError, RuntimeError):
    """The Unbatchify was closed before this item was processed."""


class Unbatchify:
    """`Unbatchify(batch_fn)(item)` returns `batch_fn([..., item, ...])`'s output for `item`; thread-safe."""

    def __init__(
        self, batch_fn: Callable[[list[Any]], list[Any]], max_batch_size: int = 32, max_wait_time: float = 0.1
    ) -> None:
        self.batch_fn = batch_fn
        self.max_batch_size = max_batch_size
        self.max_wait_time = max_wait_time
        self.input_queue: queue.Queue[tuple[Any, Future[Any]]] = queue.Queue()
        self.stop_event = threading.Event()
        self.worker_thread = threading.Thread(target=self._worker, name="dspy-ash-unbatchify", daemon=True)
        self.worker_thread.start()

    def __call__(self, input_item: Any) -> Any:
        future: Future[Any] = Future()
        self.input_queue.put((input_item, future))
        return future.result()

    def _worker(self) -> None:
        while not self.stop_event.is_set():
            try:
                first = self.input_queue.get(timeout=POLL_SECONDS)
            except queue.Empty:
                continue
            batch = [first]
            deadline = time.monotonic() + self.max_wait_time
            while len(batch) < self.max_batch_size:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                try:
                    batch.append(self.input_queue.get(timeout=remaining))
                except queue.Empty:
                    break
            self._run(batch)
        while True:  # closed: nobody will process what is left
            try:
                _, future = self.input_queue.get_nowait()
            except queue.Empty:
                return
            future.set_exception(UnbatchifyClosedError("Unbatchify is closed"))

    def _run(self, batch: list[tuple[Any, Future[Any]]]) -> None:
        try:
            outputs = self.batch_fn([item for item, _ in batch])
        except Exception as exc:
            for _, future in batch:
                future.set_exception(exc)
            return
        for (_, future), output in zip(batch, outputs, strict=False):
            future.set_result(output)

    def close(self) -> None:
        """Stop the worker; items still waiting fail with UnbatchifyClosedError."""
        if not self.stop_event.is_set():
            self.stop_event.set()
            self.worker_thread.join()

    def __enter__(self) -> Unbatchify:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def __del__(self) -> None:
        self.close()
