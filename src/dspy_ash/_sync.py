"""The one bridge between sync and async code.

The async path is the implementation; sync calls reach it through `run_sync(coro)`:
- Inside `call_sync(fn)`, the greenlet bridge: `fn` is ordinary sync code (a user's `forward`) run in a
  greenlet on the event loop's thread, and each `run_sync` inside it hands its coroutine to the loop
  and switches back when it is done. Hundreds of sync `forward`s can be in flight on one thread, with
  no thread pool (SQLAlchemy's asyncio bridge works the same way).
- With no running loop in this thread: the coroutine runs on a loop kept per thread, so pooled HTTP
  sessions survive between calls and no loop is built per call.
- Called from plain sync code inside a running loop (a notebook cell, an async handler calling the
  sync API): the coroutine runs on a private background loop and the caller waits; settings, trace
  and usage context are carried across. Use `await module.acall(...)` there to keep the loop free.
"""

from __future__ import annotations

import asyncio
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
        except BaseException:
            result = bridge.throw(*sys.exc_info())
        else:
            result = bridge.switch(value)
    return result


class _ThreadLoop:
    """This thread's loop; closed when the thread ends and its thread-local storage is dropped."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()

    def __del__(self) -> None:
        if not self.loop.is_closed() and not self.loop.is_running():
            self.loop.close()


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


def in_bridge() -> bool:
    return isinstance(greenlet.getcurrent(), _Bridge)


def run_sync(coro: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine to completion from sync code (see the module docstring for the three cases)."""
    current = greenlet.getcurrent()
    if isinstance(current, _Bridge):
        return current.driver.switch(coro)
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return _thread_loop().run_until_complete(coro)
    return _run_on_background(coro)


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
