"""The one bridge between sync and async code.

The async path is the implementation; sync calls reach it through `run_sync(coro)`:
- Inside `call_sync(fn)`, the greenlet bridge: `fn` is ordinary sync code (a user's `forward`) run in a
  greenlet on the event loop's thread, and each `run_sync` inside it hands its coroutine to the loop
  and switches back when it is done. Hundreds of sync `forward`s can be in flight on one thread, with
  no thread pool (SQLAlchemy's asyncio bridge works the same way).
- With no running loop in this thread: the coroutine runs on a loop kept per thread, so pooled HTTP
  sessions survive between calls and no loop is built per call.
- Called from plain sync code inside a running loop (a notebook cell, an async handler calling the
  sync API): the coroutine becomes a task on that same loop, and the caller keeps the loop turning
  (one iteration at a time) until the task is done, so the loop's other tasks go on meanwhile.
  Loops that cannot be driven that way (not asyncio's own, e.g. uvloop) get the coroutine run on a
  private background loop while the caller waits. `await module.acall(...)` remains the better call.
"""

from __future__ import annotations

import asyncio
import atexit
import contextvars
import sys
import threading
from collections.abc import Callable, Coroutine
from concurrent.futures import Future
from typing import Any, TypeVar

import greenlet

T = TypeVar("T")

_local = threading.local()
_background: asyncio.AbstractEventLoop | None = None
_background_lock = threading.Lock()


class _Bridge(greenlet.greenlet):
    """A greenlet running sync code on behalf of a coroutine (its driver)."""

    def __init__(self, fn: Callable[..., Any], driver: greenlet.greenlet) -> None:
        super().__init__(fn, driver)
        self.driver = driver
        self.gr_context = driver.gr_context  # the sync code sees the caller's settings and trace


async def call_sync(fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Run sync `fn` from async code so that its `run_sync` calls await on this loop instead of blocking it."""
    bridge = _Bridge(fn, greenlet.getcurrent())
    result: Any = bridge.switch(*args, **kwargs)
    while not bridge.dead:
        try:
            value = await result
        except BaseException as exc:
            result = bridge.throw(exc)
        else:
            result = bridge.switch(value)
    return result


class _ThreadLoop:
    """This thread's loop; closed when the thread ends and its thread-local storage is dropped."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        if threading.current_thread() is threading.main_thread():
            # the main thread's storage outlives the interpreter's orderly shutdown: close it at exit instead
            atexit.register(self.close)

    def __del__(self) -> None:
        self.close()

    def close(self) -> None:
        loop = self.loop
        if not loop.is_closed() and not loop.is_running():
            try:  # lets pooled HTTP sessions bound to this loop close cleanly, as asyncio.run does
                loop.run_until_complete(loop.shutdown_asyncgens())
            finally:
                loop.close()


def _thread_loop() -> asyncio.AbstractEventLoop:
    holder: _ThreadLoop | None = getattr(_local, "holder", None)
    if holder is None or holder.loop.is_closed():
        holder = _ThreadLoop()
        _local.holder = holder
    return holder.loop


def _background_loop() -> asyncio.AbstractEventLoop:
    global _background
    with _background_lock:
        if _background is None or _background.is_closed():
            loop = asyncio.new_event_loop()
            threading.Thread(target=loop.run_forever, name="dspy-ash-sync-bridge", daemon=True).start()
            _background = loop
        return _background


def run_sync(coro: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine to completion from sync code (see the module docstring for the three cases)."""
    current = greenlet.getcurrent()
    if isinstance(current, _Bridge):
        return current.driver.switch(coro)
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        loop = None
    if loop is None:  # outside the except block, so errors raised by `coro` carry no stray context
        return _drive(_thread_loop(), coro)
    if isinstance(loop, asyncio.BaseEventLoop) and hasattr(loop, "_run_once"):
        return _run_reentrant(loop, coro)
    return _run_on_background(coro)


def _drive(loop: asyncio.AbstractEventLoop, coro: Coroutine[Any, Any, T]) -> T:
    """Run `coro` on this thread's idle loop: what `run_until_complete` does, minus its stop-callback round
    trip (an extra loop iteration and selector poll per call, measurable on a zero-latency LM)."""
    run_once = getattr(loop, "_run_once", None)
    if run_once is None:
        return loop.run_until_complete(coro)
    task = loop.create_task(coro)
    base: Any = loop
    old_hooks = sys.get_asyncgen_hooks()
    base._thread_id = threading.get_ident()  # is_running() is true while we turn it, as under run_forever
    sys.set_asyncgen_hooks(firstiter=base._asyncgen_firstiter_hook, finalizer=base._asyncgen_finalizer_hook)
    asyncio.events._set_running_loop(loop)
    try:
        while not task.done():
            run_once()
    finally:
        asyncio.events._set_running_loop(None)
        base._thread_id = None
        sys.set_asyncgen_hooks(*old_hooks)
    return task.result()


def _run_reentrant(loop: asyncio.BaseEventLoop, coro: Coroutine[Any, Any, T]) -> T:
    """Turn the running loop from inside one of its callbacks until `coro` is done.

    Two things keep asyncio consistent while we do: the task that called us is marked as not running
    (so other tasks may step), and the outer iteration, which counted its ready callbacks before it
    called us, finds at least as many still queued when we return (padded with no-ops).
    """
    ready: Any = loop._ready  # type: ignore[attr-defined]
    pending_outer = len(ready)
    outer = asyncio.current_task(loop)
    task = loop.create_task(coro)
    if outer is not None:
        asyncio.tasks._leave_task(loop, outer)  # type: ignore[attr-defined]
    try:
        while not task.done():
            loop._run_once()  # type: ignore[attr-defined]
    finally:
        if outer is not None:
            asyncio.tasks._enter_task(loop, outer)  # type: ignore[attr-defined]
        for _ in range(pending_outer - len(ready)):
            loop.call_soon(_noop)
    return task.result()


def _noop() -> None:
    return None


def _run_on_background(coro: Coroutine[Any, Any, T]) -> T:
    ctx = contextvars.copy_context()
    done: Future[T] = Future()
    loop = _background_loop()

    def _start() -> None:
        task = loop.create_task(coro, context=ctx)

        def _finish(t: asyncio.Task[T]) -> None:
            if t.cancelled():
                done.cancel()
            elif (exc := t.exception()) is not None:
                done.set_exception(exc)
            else:
                done.set_result(t.result())

        task.add_done_callback(_finish)

    loop.call_soon_threadsafe(_start)
    return done.result()
