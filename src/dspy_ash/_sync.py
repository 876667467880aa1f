"""The one bridge from sync to async.

The async path is the implementation; `run_sync(coro)` gives its result to sync callers.
- No running loop in this thread: the coroutine runs on a loop kept per thread, so pooled HTTP
  sessions survive between calls and no loop is built per call.
- Called from inside a running loop (Jupyter, an ASGI handler): the coroutine runs on a private
  background loop in another thread and the caller waits; the context (settings, trace, usage) is
  carried across. Prefer `await module.acall(...)` there.
"""

from __future__ import annotations

import asyncio
import contextvars
import threading
from collections.abc import Coroutine
from concurrent.futures import Future
from typing import Any, TypeVar

T = TypeVar("T")

_local = threading.local()
_background: asyncio.AbstractEventLoop | None = None
_background_lock = threading.Lock()


def _thread_loop() -> asyncio.AbstractEventLoop:
    loop: asyncio.AbstractEventLoop | None = getattr(_local, "loop", None)
    if loop is None or loop.is_closed():
        loop = asyncio.new_event_loop()
        _local.loop = loop
    return loop


def _background_loop() -> asyncio.AbstractEventLoop:
    global _background
    with _background_lock:
        if _background is None or _background.is_closed():
            loop = asyncio.new_event_loop()
            threading.Thread(target=loop.run_forever, name="dspy-ash-sync-bridge", daemon=True).start()
            _background = loop
        return _background


def run_sync(coro: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine to completion from sync code, inside or outside a running event loop."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        loop = _thread_loop()
        return loop.run_until_complete(coro)
    ctx = contextvars.copy_context()
    done: Future[T] = Future()

    def _start() -> None:
        task = _background_loop().create_task(coro, context=ctx)

        def _finish(t: asyncio.Task[T]) -> None:
            if t.cancelled():
                done.cancel()
            elif (exc := t.exception()) is not None:
                done.set_exception(exc)
            else:
                done.set_result(t.result())

        task.add_done_callback(_finish)

    _background_loop().call_soon_threadsafe(_start)
    return done.result()
